import Logging
import NIOCore

/// The task side of a server connection: runs each call in its own child task
/// and writes each answer as soon as it is ready, waiting while the client
/// does not read.
///
/// What a client that does not read can make the server hold is bounded: a
/// new call starts only while fewer than `maximumConcurrentRequests` run and
/// the channel is writable (less than its high watermark of answers waits to
/// be sent). Otherwise the connection stops taking requests (they wait unread
/// in the socket) until the client reads.
struct ServerConnection: Sendable {
    let peer: PeerCredentials
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    let allocator: ByteBufferAllocator
    /// Times the calls' deadlines.
    let eventLoop: any EventLoop
    let logger: Logger
    let maximumFrameSize: Int
    let maximumConcurrentRequests: Int
    /// 1 while the channel is not writable (kept by `WritabilityGate`).
    let blockedOutput: UsageLimit

    func serve(_ inbound: NIOAsyncChannelInboundStream<ServerEvent>) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            var inFlight = 0
            for try await event in inbound {
                switch event {
                case .respond(let streamID, let result):
                    try await outbound.write(contentsOf: encode(streamID, result))
                case .call(let streamID, let request, let route):
                    while inFlight >= maximumConcurrentRequests {
                        try await group.next()
                        inFlight -= 1
                    }
                    try await blockedOutput.waitForRoom()
                    inFlight += 1
                    group.addTask {
                        // Encoded before waiting for the client, so only the frame is held.
                        let frame = encode(streamID, await handle(request, route.handler))
                        try await outbound.write(contentsOf: frame)
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    private func handle(_ request: RequestEnvelope, _ handler: @escaping Router.Handler) async -> Result<ByteBuffer, RPCError> {
        let context = RequestDispatcher.context(for: request, peer: peer)

        @Sendable func run() async -> Result<ByteBuffer, RPCError> {
            do {
                return .success(try await handler(request.payload, context))
            } catch {
                let status = RPCError.from(error)
                if status.code == .internal {
                    logger.error("\(request.service)/\(request.method) failed", metadata: ["error": "\(error)"])
                }
                return .failure(status)
            }
        }
        guard let deadline = context.deadline else { return await run() }
        return await withTaskGroup(of: Result<ByteBuffer, RPCError>.self) { group in
            group.addTask { await run() }
            group.addTask {
                await DeadlineTimer.wait(until: deadline, on: eventLoop)
                return .failure(RPCError(code: .deadlineExceeded, message: "deadline exceeded"))
            }
            let first = await group.next()!
            group.cancelAll()
            return first
        }
    }

    /// The frame's parts, to be written together and in order.
    private func encode(_ streamID: UInt32, _ result: Result<ByteBuffer, RPCError>) -> [ByteBuffer] {
        ResponseFrame.encode(streamID: streamID, result: result, allocator: allocator, maximumFrameSize: maximumFrameSize)
    }
}
