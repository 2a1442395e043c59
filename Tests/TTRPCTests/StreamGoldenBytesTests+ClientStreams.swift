import NIOCore
import TTRPC
import Testing

extension StreamSuites.StreamGoldenBytesTests {
    // Client and bidirectional streams as the reference 1.2.7 client and server
    // exchanged them (recorded between the two over a Unix socket), for a
    // service `refcheck.v1.Streams`:
    //   message Msg { uint32 index = 1; bytes data = 2; }
    //   message CollectReply { uint32 count = 1; bool in_order = 2; uint32 empty = 3; }
    //   rpc Collect(stream Msg) returns (CollectReply);  // counts; "fail" fails it
    //   rpc Bidi(stream Msg) returns (stream Msg);       // echoes; "fail" fails it
    // The reference client sends no timeout and no metadata on streams, opens
    // them `remote open` (2) with no payload, sends an empty message as a
    // zero-length data frame with no flags, and closes with flags 5.

    static let streamsService = "refcheck.v1.Streams"
    static let collectRequest = hex("0000001e 00000001 01 02 0a13", "\"refcheck.v1.Streams\"", "1207", "\"Collect\"")
    static let bidiRequest = hex("0000001b 00000001 01 02 0a13", "\"refcheck.v1.Streams\"", "1204", "\"Bidi\"")
    /// Data `Msg { index }` on stream 1.
    static func message(_ index: UInt8) -> [UInt8] { hex("00000002 00000001 03 00 08") + [index] }
    /// Data `Msg { index: 3, data: "fail" }` on stream 1.
    static let failMessage = hex("00000008 00000001 03 00 0803 1204", "\"fail\"")
    static let emptyMessage = hex("00000000 00000001 03 00")
    static let close = hex("00000000 00000001 03 05")
    static let failedAfterTwo = hex("00000028 00000001 02 00 0a26 0809 1222", "\"failed on purpose after 2 messages\"")

    /// Index (field 1) and whether `data` (field 2) is "fail", of a short `Msg`.
    static func parseMessage(_ buffer: ByteBuffer) -> (index: UInt8, fails: Bool) {
        let bytes = Array(buffer.readableBytesView)
        let index = bytes.count >= 2 && bytes[0] == 0x08 ? bytes[1] : 0
        return (index, bytes.count >= 8 && Array(bytes.suffix(4)) == Array("fail".utf8))
    }

    /// `Collect` and `Bidi` as the reference's test service does them.
    static var streamsRouter: Router {
        var router = router
        router.registerClientStreaming(service: streamsService, method: "Collect") { requests, _ in
            var count: UInt8 = 0, inOrder = true, empty: UInt8 = 0
            for try await message in requests {
                let parsed = parseMessage(message)
                if parsed.fails { throw RPCError(code: .failedPrecondition, message: "failed on purpose after \(count) messages") }
                if message.readableBytes == 0 { empty += 1 } else if parsed.index != count + 1 { inOrder = false }
                count += 1
            }
            return ByteBuffer(bytes: (count > 0 ? [0x08, count] : []) + (inOrder ? [0x10, 0x01] : []) + (empty > 0 ? [0x18, empty] : []))
        }
        router.registerBidirectionalStreaming(service: streamsService, method: "Bidi") { requests, responses, _ in
            var count = 0
            for try await message in requests {
                if parseMessage(message).fails { throw RPCError(code: .failedPrecondition, message: "failed on purpose after \(count) messages") }
                try await responses.write(message)
                count += 1
            }
        }
        return router
    }

    /// The reference client's frames for one stream, each case on a new
    /// connection, and the reference server's answer, byte for byte.
    static let clientStreamCases: [(name: String, client: [UInt8], server: [[UInt8]])] = [
        ("collect 5", collectRequest + (1...5).flatMap { message($0) } + close, [hex("00000006 00000001 02 00 120408051001")]),
        ("collect, fails after 2", collectRequest + message(1) + message(2) + failMessage + message(4) + message(5) + close, [failedAfterTwo]),
        ("collect 3 empty", collectRequest + emptyMessage + emptyMessage + emptyMessage + close, [hex("00000008 00000001 02 00 1206080310011803")]),
        ("bidi 5", bidiRequest + (1...5).flatMap { message($0) } + close, (1...5).map { message($0) } + [close]),
        ("bidi, fails after 2", bidiRequest + message(1) + message(2) + failMessage + message(4) + message(5) + close, [message(1), message(2), failedAfterTwo]),
        ("bidi 3 empty", bidiRequest + emptyMessage + emptyMessage + emptyMessage + close, [emptyMessage, emptyMessage, emptyMessage, close]),
    ]

    @Test("client and bidirectional streams: the server answers the reference client's frames with the reference server's bytes, and nothing more",
          arguments: clientStreamCases.indices)
    func clientStreamServerBytes(_ index: Int) async throws {
        let (name, client, server) = Self.clientStreamCases[index]
        try await withServer(router: Self.streamsRouter) { _, path async throws in
            try await withRawPeer(path) { peer in
                try await peer.write(client)
                for expected in server {
                    #expect(Self.bytes(of: try await peer.readFrame()) == expected, "\(name)")
                }
                // Nothing after the stream's last frame (the client's frames sent after
                // a failure are dropped): the next frame is the answer to a new call.
                try await peer.write(Self.unaryRequest.replacingStreamID(with: 3))
                let next = try await peer.readFrame()
                #expect(next.streamID == 3 && next.type == .response, "\(name)")
            }
        }
    }
}

extension Array where Element == UInt8 {
    /// A frame's bytes with another stream id.
    fileprivate func replacingStreamID(with streamID: UInt32) -> [UInt8] {
        var copy = self
        copy.replaceSubrange(4..<8, with: [UInt8(streamID >> 24), UInt8(truncatingIfNeeded: streamID >> 16), UInt8(truncatingIfNeeded: streamID >> 8), UInt8(truncatingIfNeeded: streamID)])
        return copy
    }
}
