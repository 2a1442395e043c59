import Glibc
public import NIOCore
public import NIOPosix
import Synchronization

/// A ttrpc client on a Unix domain socket.
///
/// Calls share one connection, each on its own odd, increasing stream id, and
/// may run concurrently. When the connection drops, pending calls fail with
/// UNAVAILABLE and the next call connects again. Close the client with
/// `close()`, or use `withTTRPCClient` for a scoped lifetime.
public final class TTRPCClient: Sendable {
    /// The socket path the client connects to.
    public let socketPath: String
    private let eventLoopGroup: any EventLoopGroup
    let maximumFrameSize: Int
    /// Bytes of a stream's messages buffered for the application.
    let maximumBufferedBytesPerStream: Int
    /// Bytes of all the streams' messages buffered for the application: the
    /// client has one connection at a time, and a dropped connection's
    /// streams give theirs back as they fail.
    let bufferedStreamBytes: UsageLimit
    private let state = Mutex(State.disconnected)
    let nextCallID = Atomic<UInt64>(0)

    private enum State {
        case disconnected
        case connecting(EventLoopFuture<any Channel>)
        case connected(any Channel)
        case closed
    }

    /// Creates a client; it connects on the first call.
    /// - Parameters:
    ///   - maximumBufferedBytesPerStream: bytes of one stream's messages the
    ///     application has not taken yet (each counted with 64 bytes of
    ///     overhead); past them that stream alone fails with
    ///     RESOURCE_EXHAUSTED, so that it never holds up the others.
    ///   - maximumBufferedBytesPerConnection: bytes of the messages of all
    ///     streams the application has not taken yet (counted the same way,
    ///     the one message an empty stream buffer accepts included); a message
    ///     past them fails the stream it came for with RESOURCE_EXHAUSTED, the
    ///     others go on. It bounds what a server can make the client hold,
    ///     whatever it sends on however many streams are open.
    public init(
        socketPath: String,
        maximumFrameSize: Int = Frame.maximumDataSize,
        maximumBufferedBytesPerStream: Int = 1 << 20,
        maximumBufferedBytesPerConnection: Int = 16 << 20,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.socketPath = socketPath
        self.maximumFrameSize = maximumFrameSize
        self.maximumBufferedBytesPerStream = maximumBufferedBytesPerStream
        self.bufferedStreamBytes = UsageLimit(limit: maximumBufferedBytesPerConnection)
        self.eventLoopGroup = eventLoopGroup
    }

    /// Calls `service`/`method` with an encoded input message.
    /// - Parameters:
    ///   - timeout: how long the caller waits; sent to the server as `timeout_nano`.
    /// - Returns: the encoded output message.
    /// - Throws: `RPCError`: the server's status, UNAVAILABLE if the daemon cannot
    ///   be reached or the connection drops, DEADLINE_EXCEEDED, or CANCELLED.
    public func call(
        service: String,
        method: String,
        payload: ByteBuffer,
        metadata: Metadata = [:],
        timeout: Duration? = nil
    ) async throws(RPCError) -> ByteBuffer {
        if let timeout, timeout <= .zero {
            throw RPCError(code: .deadlineExceeded, message: "deadline exceeded before the call was sent")
        }
        let channel = try await connectedChannel()
        var frame = channel.allocator.buffer(capacity: Frame.headerSize + payload.readableBytes + service.utf8.count + method.utf8.count + 32)
        let timeoutNanoseconds = timeout.map { Int64($0.components.seconds) * 1_000_000_000 + $0.components.attoseconds / 1_000_000_000 }
        frame.writeFrame(streamID: 0, type: .request) { data in
            RequestEnvelope(
                service: service, method: method, payload: payload,
                timeoutNanoseconds: timeoutNanoseconds ?? 0, metadata: metadata
            ).encode(into: &data)
        }
        guard frame.readableBytes - Frame.headerSize <= maximumFrameSize else {
            throw RPCError(code: .resourceExhausted, message: "request exceeds the maximum message size of \(maximumFrameSize)")
        }
        let id = nextCallID.add(1, ordering: .relaxed).newValue
        let promise = channel.eventLoop.makePromise(of: ByteBuffer.self)
        let call = ClientOutbound.call(ClientCall(
            id: id, frame: frame, deadline: timeoutNanoseconds.map { .now() + .nanoseconds($0) }, sink: .unary(promise)))

        let responseData: ByteBuffer
        do {
            responseData = try await withTaskCancellationHandler {
                channel.writeAndFlush(call).whenFailure { error in
                    promise.fail(RPCError(code: .unavailable, message: "cannot send to \(self.socketPath): \(error)"))
                }
                // Cancelled before this point, onCancel has already run and its
                // cancel reached the handler ahead of the call: cancel again,
                // now behind the write.
                if Task.isCancelled {
                    channel.triggerUserOutboundEvent(CancelClientCall(id: id), promise: nil)
                }
                return try await promise.futureResult.get()
            } onCancel: {
                channel.triggerUserOutboundEvent(CancelClientCall(id: id), promise: nil)
            }
        } catch let error as RPCError {
            throw error
        } catch {
            throw RPCError(code: .unavailable, message: "\(error)")
        }
        return try ResponseEnvelope(decoding: responseData).result.get()
    }

    /// Closes the connection; later calls fail with UNAVAILABLE.
    public func close() async {
        let current = state.withLock { state -> State in
            defer { state = .closed }
            return state
        }
        switch current {
        case .connected(let channel): try? await channel.close()
        case .connecting(let future): try? await future.get().close()
        case .disconnected, .closed: break
        }
    }

    func connectedChannel() async throws(RPCError) -> any Channel {
        let (future, isNew) = state.withLock { state -> (EventLoopFuture<any Channel>?, Bool) in
            switch state {
            case .connected(let channel) where channel.isActive:
                return (channel.eventLoop.makeSucceededFuture(channel), false)
            case .connecting(let future):
                return (future, false)
            case .closed:
                return (nil, false)
            case .connected, .disconnected:
                let future = connect()
                state = .connecting(future)
                return (future, true)
            }
        }
        guard let future else { throw RPCError(code: .unavailable, message: "client is closed") }
        if isNew {
            future.whenComplete { result in
                self.state.withLock { state in
                    guard case .connecting(let pending) = state, pending === future else { return }
                    switch result {
                    case .success(let channel): state = .connected(channel)
                    case .failure: state = .disconnected
                    }
                }
            }
        }
        do {
            return try await future.get()
        } catch {
            throw RPCError(code: .unavailable, message: "cannot connect to \(socketPath): \(Self.describe(error))")
        }
    }

    private func connect() -> EventLoopFuture<any Channel> {
        let maximumFrameSize = maximumFrameSize
        return ClientBootstrap(group: eventLoopGroup)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(
                        ByteToMessageHandler(FrameDecoder(maximumDataSize: maximumFrameSize)),
                        ClientStreamHandler())
                }
            }
            .connect(unixDomainSocketPath: socketPath)
    }

    private static func describe(_ error: any Error) -> String {
        if let io = error as? IOError {
            return String(cString: strerror(io.errnoCode))
        }
        return "\(error)"
    }
}

/// Runs `body` with a client for `socketPath`, closing it afterwards.
public func withTTRPCClient<Result>(
    socketPath: String,
    _ body: (TTRPCClient) async throws -> Result
) async throws -> Result {
    let client = TTRPCClient(socketPath: socketPath)
    do {
        let result = try await body(client)
        await client.close()
        return result
    } catch {
        await client.close()
        throw error
    }
}

extension TTRPCClient {
    /// Connects now instead of on the first call.
    /// - Throws: `RPCError` UNAVAILABLE if nothing accepts connections on the socket.
    public func connect() async throws(RPCError) {
        _ = try await connectedChannel()
    }
}
