import Logging
import NIOCore

/// One client connection of a `TTRPCServer`: reads frames, runs each request
/// in its own child task (at most `maximumConcurrentRequests` at once), and
/// writes each response as soon as it is ready.
struct ServerConnection: Sendable {
    let router: Router
    let peer: PeerCredentials
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    let allocator: ByteBufferAllocator
    let logger: Logger
    let maximumFrameSize: Int
    let maximumConcurrentRequests: Int

    func serve(_ inbound: NIOAsyncChannelInboundStream<FrameDecoder.Event>) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            var inFlight = 0
            var lastStreamID: UInt32 = 0
            for try await event in inbound {
                let frame: Frame
                switch event {
                case .oversized(let streamID, _, let length):
                    try await respond(
                        streamID,
                        .failure(RPCError(
                            code: .resourceExhausted,
                            message: "message length \(length) exceed maximum message size of \(maximumFrameSize)")))
                    continue
                case .frame(let received):
                    frame = received
                }
                // Unary protocol: data frames and stray responses carry nothing to serve.
                guard frame.type == .request else { continue }
                guard frame.streamID % 2 == 1 else {
                    try await respond(
                        frame.streamID,
                        .failure(RPCError(code: .invalidArgument, message: "StreamID must be odd for client initiated streams")))
                    continue
                }
                guard frame.streamID > lastStreamID else {
                    try await respond(
                        frame.streamID,
                        .failure(RPCError(code: .invalidArgument, message: "StreamID cannot be re-used and must increment")))
                    continue
                }
                lastStreamID = frame.streamID

                let request: RequestEnvelope
                switch Result(catching: { () throws(RPCError) in try RequestEnvelope(decoding: frame.data) }) {
                case .success(let decoded): request = decoded
                case .failure(let error):
                    try await respond(frame.streamID, .failure(error))
                    continue
                }

                if inFlight >= maximumConcurrentRequests {
                    try await group.next()
                    inFlight -= 1
                }
                inFlight += 1
                let streamID = frame.streamID
                group.addTask {
                    let result = await handle(request)
                    try await respond(streamID, result)
                }
            }
            try await group.waitForAll()
        }
    }

    private func handle(_ request: RequestEnvelope) async -> Result<ByteBuffer, RPCError> {
        let handler: Router.Handler
        switch router.handler(service: request.service, method: request.method) {
        case .success(let found): handler = found
        case .failure(let error): return .failure(error)
        }
        // 0 means no deadline; a negative value is one that has already passed
        // (the reference client sends what is left, which may be below zero).
        let deadline: ContinuousClock.Instant? =
            request.timeoutNanoseconds == 0 ? nil : .now + .nanoseconds(max(request.timeoutNanoseconds, 0))
        let context = ServerContext(
            service: request.service, method: request.method, peer: peer, metadata: request.metadata, deadline: deadline)

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
        guard let deadline else { return await run() }
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
        let payloadSize = (try? result.get().readableBytes) ?? 64
        var buffer = allocator.buffer(capacity: Frame.headerSize + payloadSize + 16)
        buffer.writeFrame(streamID: streamID, type: .response) { data in
            ResponseEnvelope(result).encode(into: &data)
        }
        if buffer.readableBytes - Frame.headerSize > maximumFrameSize {
            logger.error("response on stream \(streamID) exceeds the frame limit")
            return try await respond(
                streamID, .failure(RPCError(code: .resourceExhausted, message: "response exceeds the maximum message size")))
        }
        try await outbound.write(buffer)
    }
}
