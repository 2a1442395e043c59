// libFuzzer target: the ttrpc frame decoder and the request/response envelopes.
//
// Input: byte 0 picks the decoder's frame-size limit (small limits let short
// inputs reach the oversized-frame path; low 3 bits) and whether the stream
// also goes to a live server (high bit, below), byte 1 the size of the reads
// the rest arrives in (0: one read); the rest is the byte stream a peer sends.
//
// The stream goes through `FrameDecoder` inside NIO's `ByteToMessageHandler`
// (as the server and client run it), in an `EmbeddedChannel`, read by read.
// Every frame's data is decoded as a `RequestEnvelope` and as a
// `ResponseEnvelope`. Besides crashes and sanitizer reports, these are
// findings (a failed precondition):
//   - the frames depend on how the stream was split into reads (compared with
//     one `decode(buffer:)` loop over the whole stream);
//   - a frame is longer than the limit, or the frames add up to more bytes
//     than were sent;
//   - an envelope that decoded does not survive encode-then-decode unchanged.
//
// With the high bit of byte 0 set, the stream is also sent to a real
// TTRPCServer with streaming methods, as a client would, and the server's
// answers are checked: data frames, their flags, and the stream states they
// drive (`StreamServerHarness.swift` lists those findings).
//
// Built with -DFUZZING (scripts/fuzz.sh) this is the libFuzzer entry point.
// Built without it (a plain `swift build`), the executable replays inputs:
//   FrameDecoderFuzzer FILE|DIR...     runs each input once, without libFuzzer
//   FrameDecoderFuzzer --make-seeds DIR   writes the seed corpus

import NIOCore
import NIOEmbedded
import TTRPC

/// The frame-size limits byte 0 chooses from.
let frameLimits = [Frame.maximumDataSize, 0, 1, 10, 64, 256, 4096, 65_536]

/// Runs one input.
func fuzzOne(_ input: UnsafeRawBufferPointer) {
    guard input.count >= 2 else { return }
    let limit = frameLimits[Int(input[0] & 0x07) % frameLimits.count]
    let readSize = input[1] == 0 ? Int.max : Int(input[1])
    let stream = UnsafeRawBufferPointer(rebasing: input[2...])

    // Reference: the whole stream in one buffer, decode(buffer:) until nil.
    var reference: [FrameDecoder.Event] = []
    var decoder = FrameDecoder(maximumDataSize: limit)
    var whole = ByteBuffer(bytes: stream)
    while let event = try? decoder.decode(buffer: &whole) { reference.append(event) }

    // As the server runs it: ByteToMessageHandler, one read at a time.
    let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(maximumDataSize: limit)))
    var events: [FrameDecoder.Event] = []
    var offset = 0
    do {
        while offset < stream.count {
            let end = stream.count - offset <= readSize ? stream.count : offset + readSize
            try channel.writeInbound(ByteBuffer(bytes: UnsafeRawBufferPointer(rebasing: stream[offset..<end])))
            while let event = try channel.readInbound(as: FrameDecoder.Event.self) { events.append(event) }
            offset = end
        }
    } catch {
        preconditionFailure("the decoder threw: \(error)")
    }
    // decodeLast at EOF; leftover bytes of a partial frame are reported as an error, which is expected.
    _ = try? channel.finish()

    precondition(events == reference, "frames depend on how the stream was split into reads")
    var consumed = 0
    for event in events {
        switch event {
        case .frame(let frame):
            precondition(frame.data.readableBytes <= limit, "a frame is longer than the limit")
            consumed += Frame.headerSize + frame.data.readableBytes
            checkRequestEnvelope(frame.data)
            checkResponseEnvelope(frame.data)
        case .oversized(_, _, let length):
            precondition(Int(length) > limit, "an oversized frame within the limit")
            consumed += Frame.headerSize + Int(length)
        }
    }
    precondition(consumed <= stream.count, "the frames add up to more bytes than were sent")

    if input[0] & 0x80 != 0 { StreamServerHarness.shared.check(stream) }
}

/// Decodes `data` as a request envelope; one that decodes must re-encode to the same value.
func checkRequestEnvelope(_ data: ByteBuffer) {
    guard let request = try? RequestEnvelope(decoding: data) else { return }
    var encoded = ByteBuffer()
    request.encode(into: &encoded)
    let again: RequestEnvelope
    do {
        again = try RequestEnvelope(decoding: encoded)
    } catch {
        preconditionFailure("a re-encoded request does not decode: \(error)")
    }
    precondition(again == request, "a request envelope changed in encode-then-decode")
}

/// Decodes `data` as a response envelope; one that decodes must re-encode to the same value.
func checkResponseEnvelope(_ data: ByteBuffer) {
    guard let response = try? ResponseEnvelope(decoding: data) else { return }
    if case .failure(let error) = response.result { _ = error.description }
    var encoded = ByteBuffer()
    response.encode(into: &encoded)
    let again: ResponseEnvelope
    do {
        again = try ResponseEnvelope(decoding: encoded)
    } catch {
        preconditionFailure("a re-encoded response does not decode: \(error)")
    }
    precondition(again == response, "a response envelope changed in encode-then-decode")
}

#if FUZZING

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    fuzzOne(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

#else

import Foundation

@main
enum FrameDecoderFuzzerReplay {
    static func main() throws {
        var arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "--make-seeds", arguments.count == 2 {
            try writeSeeds(to: arguments[1])
            return
        }
        if arguments.isEmpty { arguments = ["Fuzz/corpus/FrameDecoderFuzzer"] }
        var count = 0
        for path in try inputFiles(arguments) {
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            bytes.withUnsafeBytes { fuzzOne($0) }
            count += 1
        }
        print("FrameDecoderFuzzer: \(count) inputs ran without a finding (replay build; fuzz with scripts/fuzz.sh)")
    }

    /// The seed corpus: valid frames of every kind, a few malformed ones.
    static func writeSeeds(to directory: String) throws {
        func frame(_ streamID: UInt32, _ type: Frame.MessageType, flags: UInt8 = 0, _ body: (inout ByteBuffer) -> Void) -> [UInt8] {
            var buffer = ByteBuffer()
            buffer.writeFrame(streamID: streamID, type: type, flags: flags, body)
            return Array(buffer.readableBytesView)
        }
        func request(_ method: String, _ payload: [UInt8], timeout: Int64 = 0, metadata: Metadata = [:]) -> (inout ByteBuffer) -> Void {
            { RequestEnvelope(
                service: "connectors.v1.ConnectorRegistry", method: method, payload: ByteBuffer(bytes: payload),
                timeoutNanoseconds: timeout, metadata: metadata
            ).encode(into: &$0) }
        }
        var metadata = Metadata()
        metadata.add("trace-id", "0af7651916cd43dd8448eb211c80319c")
        metadata.add("X-Key", "v")
        let list = frame(1, .request, request("List", [0x08, 0x01, 0x10, 0x0A]))
        let get = frame(3, .request, request("Get", [0x08, 0x07], timeout: 5_000_000_000, metadata: metadata))
        let ok = frame(1, .response) { ResponseEnvelope(.success(ByteBuffer(bytes: [0x0A, 0x02, 0x08, 0x01]))).encode(into: &$0) }
        let notFound = frame(3, .response) {
            ResponseEnvelope(.failure(RPCError(code: .notFound, message: "Connector with ID 7 not found"))).encode(into: &$0)
        }
        var oversizedHeader = ByteBuffer()
        oversizedHeader.writeMultipleIntegers(UInt32(1 << 30), UInt32(5), UInt8(1), UInt8(0))
        let seeds: [String: [UInt8]] = [
            "list-request": [0, 0] + list,
            "get-request-metadata-deadline": [0, 0] + get,
            "two-requests-byte-reads": [0, 1] + list + get,
            "requests-3-byte-reads": [0, 3] + get + list,
            "response-ok": [0, 0] + ok,
            "response-error": [0, 7] + notFound,
            "data-frame": [0, 0] + frame(5, .data, flags: 1) { $0.writeBytes([1, 2, 3]) },
            "oversized-then-request": [3, 4] + frame(1, .request, request("Register", Array(repeating: 0x41, count: 40))) + list,
            "oversized-header-only": [0, 0] + Array(oversizedHeader.readableBytesView),
            "partial-frame": [0, 0] + list.dropLast(3),
            "even-stream-id": [0, 0] + frame(2, .request, request("Delete", [0x08, 0x02])),
            "empty-frames": [0, 0] + frame(7, .request) { _ in } + frame(9, .response) { _ in },
            "garbage-after-frame": [0, 0] + list + [0xFF, 0x00, 0x13, 0x37],
        ].merging(streamSeeds { streamID, type, flags, body in frame(streamID, type, flags: flags, body) }) { first, _ in first }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (name, bytes) in seeds {
            try Data(bytes).write(to: URL(fileURLWithPath: directory).appendingPathComponent(name))
        }
        print("wrote \(seeds.count) seeds to \(directory)")
    }

    /// Seeds for the live server (byte 0's high bit): each kind of stream,
    /// and each protocol error a client can make with them.
    static func streamSeeds(
        _ frame: (UInt32, Frame.MessageType, UInt8, (inout ByteBuffer) -> Void) -> [UInt8]
    ) -> [String: [UInt8]] {
        func open(_ streamID: UInt32, _ method: String, flags: UInt8, _ payload: [UInt8] = [], service: String = StreamServerHarness.service) -> [UInt8] {
            frame(streamID, .request, flags) {
                RequestEnvelope(service: service, method: method, payload: ByteBuffer(bytes: payload)).encode(into: &$0)
            }
        }
        func data(_ streamID: UInt32, flags: UInt8 = 0, _ bytes: [UInt8]) -> [UInt8] {
            frame(streamID, .data, flags) { $0.writeBytes(bytes) }
        }
        let closed = Frame.Flags.remoteClosed, open2 = Frame.Flags.remoteOpen, noData = Frame.Flags.noData
        let bidirectional = open(1, "Stream", flags: open2) + data(1, [1]) + data(1, []) + data(1, [2]) + data(1, flags: closed | noData, [])
        return [
            "stream-server": [0x80, 0] + open(1, "Count", flags: closed, [3, 0]) + open(3, "Count", flags: closed, [2, 1]),
            "stream-client": [0x80, 0] + open(1, "Collect", flags: open2) + data(1, [1]) + data(1, []) + data(1, flags: closed | noData, []),
            "stream-bidirectional": [0x80, 0] + bidirectional,
            "stream-bidirectional-byte-reads": [0x80, 1] + bidirectional,
            "stream-left-open": [0x80, 0] + open(1, "Stream", flags: open2) + data(1, [1]) + open(3, "Collect", flags: open2),
            "stream-buffer-full": [0x80, 0] + open(1, "Collect", flags: open2) + (0..<12).flatMap { data(1, [UInt8($0)]) },
            "stream-protocol-errors": [0x80, 0]
                + data(9, [1])  // no such stream
                + open(1, "Echo", flags: 0, [5]) + data(1, [1])  // data on a unary stream
                + open(3, "Stream", flags: open2) + data(3, flags: closed | noData, []) + data(3, [2])  // after remote closed
                + open(5, "Stream", flags: open2) + data(5, flags: closed, [3])  // close with data
                + open(7, "Count", flags: closed, [1]) + data(7, [4])  // data on a server stream
                + open(11, "Count", flags: 0) + open(13, "Echo", flags: closed) + open(15, "Collect", flags: closed)  // kinds
                + open(15, "Stream", flags: open2) + open(17, "Stream", flags: 3)  // a reused id, unknown flags
                + data(8, [1]),  // an even id
            "stream-oversized-data": [0x80, 0] + open(1, "Stream", flags: open2) + data(1, Array(repeating: 0x44, count: 300))
                + data(1, [1]) + data(1, flags: closed | noData, []),
        ]
    }

    /// The files named, and the files in the directories named, sorted.
    static func inputFiles(_ paths: [String]) throws -> [String] {
        var files: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: path])
            }
            if isDirectory.boolValue {
                files += try FileManager.default.contentsOfDirectory(atPath: path).sorted().map { "\(path)/\($0)" }
            } else {
                files.append(path)
            }
        }
        return files
    }
}

#endif
