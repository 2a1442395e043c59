import Logging
import NIOCore

/// The task side of a server connection: runs each call in its own child task
/// (at most `maximumConcurrentRequests` at once) and writes each answer as
/// soon as it is ready, waiting while the client does not read.
struct ServerConnection: Sendable {
    let peer: PeerCredentials
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    let allocator: ByteBufferAllocator
    let logger: Logger
    let maximumFrameSize: Int
    let maximumConcurrentRequests: Int

    func serve(_ inbound: NIOAsyncChannelInboundStream<ServerEvent>) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            var inFlight = 0
            for try await event in inbound {
                switch event {
                case .respond(let streamID, let result):
                    try await respond(streamID, result)
                case .call(let streamID, let request, let route):
                    if inFlight >= maximumConcurrentRequests {
                        try await group.next()
                        inFlight -= 1
                    }
                    inFlight += 1
                    group.addTask {
                        let result = await handle(request, route.handler)
                        try await respond(streamID, result)
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
                try? await Task.sleep(until: deadline)
                return .failure(RPCError(code: .deadlineExceeded, message: "deadline exceeded"))
            }
            let first = await group.next()!
            group.cancelAll()
            return first
        }
    }

    private func respond(_ streamID: UInt32, _ result: Result<ByteBuffer, RPCError>) async throws {
        try await outbound.write(
            ResponseFrame.encode(streamID: streamID, result: result, allocator: allocator, maximumFrameSize: maximumFrameSize))
    }
}
