import NIOCore
import NIOPosix
import TTRPC
import Testing

// Helpers for the streaming tests: a test service with one method of each
// kind, and a raw peer on NIO (frames in and out, every wait an async wait on
// the event loop, never a poll or a blocking read).

// MARK: - Streaming test service

/// What the streaming methods of the test service do.
///
/// - `Count` (server streaming): input `count(4) failAfter(4) empty(1)`: sends
///   `count` messages `bytes(of: i)` (empty messages if `empty` is 1), or
///   fails with FAILED_PRECONDITION after `failAfter` of them.
/// - `Collect` (client streaming): answers `count(4)` of the messages
///   received, then whether they were `bytes(of: i)` in order (1) and how many
///   were empty; a message `[0xEE]` fails the call with FAILED_PRECONDITION.
/// - `Echo` (bidirectional): sends each message back; `[0xEE]` fails the stream.
/// - `TakeTwo` (client streaming) answers `[2]` after two messages, however
///   many the client sends; `First` (bidirectional) sends the first message
///   back and ends the stream.
enum StreamService {
    static let name = "ttrpc.test.v1.Streams"
    static let failMessage: [UInt8] = [0xEE]
    static let never: UInt32 = .max

    static func countRequest(_ count: Int, failAfter: UInt32 = never, empty: Bool = false) -> ByteBuffer {
        ByteBuffer(bytes: bytes(of: UInt32(count)) + bytes(of: failAfter) + [empty ? 1 : 0])
    }

    static func failure(after count: Int) -> RPCError {
        RPCError(code: .failedPrecondition, message: "failed on purpose after \(count) messages")
    }
}

extension Router {
    /// A router with the methods of `StreamService`, and the unary `Echo` of the test service.
    static var streams: Router {
        var router = Router.echo
        router.registerServerStreaming(service: StreamService.name, method: "Count") { request, responses, _ in
            let count = Int(uint32(from: request))
            let failAfter = request.getInteger(at: request.readerIndex + 4, as: UInt32.self) ?? StreamService.never
            let empty = request.getInteger(at: request.readerIndex + 8, as: UInt8.self) == 1
            for index in 0..<count {
                if index == failAfter { throw StreamService.failure(after: index) }
                try await responses.write(empty ? ByteBuffer() : ByteBuffer(bytes: bytes(of: UInt32(index))))
            }
        }
        router.registerClientStreaming(service: StreamService.name, method: "Collect") { requests, _ in
            var count: UInt32 = 0
            var inOrder = true
            var empty: UInt32 = 0
            for try await message in requests {
                if Array(message.readableBytesView) == StreamService.failMessage {
                    throw StreamService.failure(after: Int(count))
                }
                if message.readableBytes == 0 {
                    empty += 1
                } else if uint32(from: message) != count {
                    inOrder = false
                }
                count += 1
            }
            return ByteBuffer(bytes: bytes(of: count) + [inOrder ? 1 : 0] + bytes(of: empty))
        }
        router.registerBidirectionalStreaming(service: StreamService.name, method: "Echo") { requests, responses, _ in
            var count = 0
            for try await message in requests {
                if Array(message.readableBytesView) == StreamService.failMessage {
                    throw StreamService.failure(after: count)
                }
                try await responses.write(message)
                count += 1
            }
        }
        router.registerClientStreaming(service: StreamService.name, method: "TakeTwo") { requests, _ in
            var iterator = requests.makeAsyncIterator()
            _ = try await iterator.next()
            _ = try await iterator.next()
            return ByteBuffer(bytes: [2])
        }
        router.registerBidirectionalStreaming(service: StreamService.name, method: "First") { requests, responses, _ in
            var iterator = requests.makeAsyncIterator()
            if let first = try await iterator.next() { try await responses.write(first) }
        }
        return router
    }
}

/// Collects a stream's messages and how it ended.
struct Received: Sendable {
    var messages: [[UInt8]] = []
    var error: RPCError?
}

/// Reads `stream` to its end.
func collect(_ stream: MessageStream) async -> Received {
    var received = Received()
    do {
        for try await message in stream { received.messages.append(Array(message.readableBytesView)) }
    } catch {
        received.error = error
    }
    return received
}

// MARK: - Raw peer on NIO

/// A client connection driven frame by frame: writes raw bytes, reads
/// decoded frames. Use it from one task.
final class RawPeer {
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private var inbound: NIOAsyncChannelInboundStream<FrameDecoder.Event>.AsyncIterator

    fileprivate init(
        outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, inbound: NIOAsyncChannelInboundStream<FrameDecoder.Event>.AsyncIterator
    ) {
        self.outbound = outbound
        self.inbound = inbound
    }

    func write(_ bytes: [UInt8]) async throws {
        try await outbound.write(ByteBuffer(bytes: bytes))
    }

    /// Writes `buffer` as it is (a large payload sent many times is not copied).
    func write(_ buffer: ByteBuffer) async throws {
        try await outbound.write(buffer)
    }

    /// The next frame the server sends.
    func readFrame() async throws -> Frame {
        switch try await inbound.next() {
        case .frame(let frame)?: return frame
        case .oversized(let streamID, _, let length)?: throw HarnessError("oversized frame \(length) on \(streamID)")
        case nil: throw HarnessError("the server closed the connection")
        }
    }

    /// The next frame, which must be a response on `streamID`; its status.
    func readStatus(streamID: UInt32, sourceLocation: SourceLocation = #_sourceLocation) async throws -> RPCError? {
        let frame = try await readFrame()
        #expect(frame.streamID == streamID, sourceLocation: sourceLocation)
        #expect(frame.type == .response, sourceLocation: sourceLocation)
        if case .failure(let error) = try ResponseEnvelope(decoding: frame.data).result { return error }
        return nil
    }

    /// Sends a unary `Echo` on `streamID` and checks the answer: the connection still serves.
    func expectEcho(streamID: UInt32, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        try await write(requestFrame(streamID: streamID, method: "Echo", payload: [0x42]))
        let frame = try await readFrame()
        #expect(frame.streamID == streamID, sourceLocation: sourceLocation)
        #expect(frame.type == .response, sourceLocation: sourceLocation)
        #expect(try ResponseEnvelope(decoding: frame.data).result.get() == ByteBuffer(bytes: [0x42]), sourceLocation: sourceLocation)
    }
}

/// Connects a `RawPeer` to `path`, runs `body`, closes the connection.
func withRawPeer<R>(_ path: String, _ body: (RawPeer) async throws -> R) async throws -> R {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(unixDomainSocketPath: path) { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                return try NIOAsyncChannel<FrameDecoder.Event, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
    return try await channel.executeThenClose { inbound, outbound in
        try await body(RawPeer(outbound: outbound, inbound: inbound.makeAsyncIterator()))
    }
}

/// A request frame for a method of `StreamService` with the given flags.
func streamRequestFrame(
    streamID: UInt32, method: String, flags: UInt8, payload: [UInt8] = [], service: String = StreamService.name
) -> [UInt8] {
    rawFrame(streamID: streamID, type: 1, flags: flags, data: requestEnvelope(service: service, method: method, payload: payload))
}

/// The status of a response frame; nil for success.
func status(of frame: Frame) throws -> RPCError? {
    if case .failure(let error) = try ResponseEnvelope(decoding: frame.data).result { return error }
    return nil
}

/// A data frame.
func dataFrame(streamID: UInt32, flags: UInt8 = 0, _ data: [UInt8]) -> [UInt8] {
    rawFrame(streamID: streamID, type: 3, flags: flags, data: data)
}
