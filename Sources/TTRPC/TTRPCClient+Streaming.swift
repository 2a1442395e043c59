public import NIOCore
import Synchronization

extension TTRPCClient {
    /// Calls a server-streaming method: sends one encoded input, and runs
    /// `body` with the stream of the server's messages.
    ///
    /// The stream ends when the server ends it cleanly, or throws its status.
    /// When `body` returns or throws before the stream ends, the stream is
    /// abandoned: later messages are dropped and its buffer freed.
    /// - Parameters:
    ///   - timeout: bounds the whole stream; sent to the server as `timeout_nano`.
    /// - Returns: what `body` returns.
    /// - Throws: `RPCError` if the stream cannot be opened (UNAVAILABLE,
    ///   DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED), or what `body` throws.
    public func serverStreaming<R>(
        service: String,
        method: String,
        request: ByteBuffer,
        metadata: Metadata = [:],
        timeout: Duration? = nil,
        _ body: (MessageStream) async throws -> R
    ) async throws -> R {
        let stream = try await openStream(
            .serverStreaming, service: service, method: method, payload: request, metadata: metadata, timeout: timeout)
        defer { stream.abandon() }
        return try await body(MessageStream(stream.inbox))
    }

    /// Calls a client-streaming method: `requests` sends the input messages
    /// (in a child task); once it returns, the client's side is closed and the
    /// server's answer awaited.
    ///
    /// The stream may end before `requests` returns: the server answers or
    /// fails it early, the deadline passes, the connection drops. `requests`
    /// is then cancelled (its writes fail), and the call returns or throws
    /// that outcome without waiting for more messages.
    /// - Returns: the encoded answer.
    /// - Throws: `RPCError`: the server's status, UNAVAILABLE,
    ///   DEADLINE_EXCEEDED, CANCELLED; or what `requests` throws while the
    ///   stream is open (the stream is then abandoned).
    public func clientStreaming(
        service: String,
        method: String,
        metadata: Metadata = [:],
        timeout: Duration? = nil,
        requests: @escaping @Sendable (MessageWriter) async throws -> Void
    ) async throws -> ByteBuffer {
        let stream = try await openStream(
            .clientStreaming, service: service, method: method, payload: ByteBuffer(), metadata: metadata, timeout: timeout)
        defer { stream.abandon() }
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    try await requests(stream.writer)
                    try await stream.closeSending()
                } catch {
                    // The stream ended meanwhile (cancelled: the answer or the end is
                    // in, or the caller was cancelled): that is the outcome.
                    if stream.inbox.hasEnded || Task.isCancelled { return }
                    stream.abandon(RPCError(code: .cancelled, message: "the request producer failed: \(error)"))
                    throw error
                }
            }
            // The answer, or how the stream ended; then the producer has nothing left to do.
            var answers = MessageStream(stream.inbox).makeAsyncIterator()
            let outcome: Result<ByteBuffer?, RPCError>
            do throws(RPCError) {
                outcome = .success(try await answers.next())
            } catch {
                outcome = .failure(error)
            }
            group.cancelAll()
            try await group.waitForAll()  // what the producer threw, if it failed first
            return try outcome.get() ?? ByteBuffer()
        }
    }

    /// Calls a bidirectional-streaming method: `requests` sends the input
    /// messages (in a child task; the client's side is closed when it
    /// returns) while `responses` reads the server's.
    ///
    /// When `responses` returns or throws, the stream is abandoned if it has
    /// not ended, and `requests` is cancelled if it still runs. If `requests`
    /// throws, the stream is abandoned: `responses` sees CANCELLED.
    /// - Returns: what `responses` returns.
    /// - Throws: `RPCError` if the stream cannot be opened, or what `responses` throws.
    public func bidirectionalStreaming<R>(
        service: String,
        method: String,
        metadata: Metadata = [:],
        timeout: Duration? = nil,
        requests: @escaping @Sendable (MessageWriter) async throws -> Void,
        responses: (MessageStream) async throws -> R
    ) async throws -> R {
        let stream = try await openStream(
            .bidirectionalStreaming, service: service, method: method, payload: ByteBuffer(), metadata: metadata,
            timeout: timeout)
        defer { stream.abandon() }
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    try await requests(stream.writer)
                    try await stream.closeSending()
                } catch {
                    // A stream that has ended (the server's end or status, or
                    // `responses` leaving) explains the failure; else it ends here.
                    guard !Task.isCancelled, !stream.inbox.hasEnded else { return }
                    stream.abandon(RPCError(code: .cancelled, message: "the request producer failed: \(error)"))
                }
            }
            defer { group.cancelAll() }
            return try await responses(MessageStream(stream.inbox))
        }
    }

    /// Sends the request that opens a stream of `kind`.
    private func openStream(
        _ kind: MethodKind, service: String, method: String, payload: ByteBuffer, metadata: Metadata, timeout: Duration?
    ) async throws(RPCError) -> OpenStream {
        if let timeout, timeout <= .zero {
            throw RPCError(code: .deadlineExceeded, message: "deadline exceeded before the stream was opened")
        }
        let channel = try await connectedChannel()
        let timeoutNanoseconds = timeout.map { Int64($0.components.seconds) * 1_000_000_000 + $0.components.attoseconds / 1_000_000_000 }
        var frame = channel.allocator.buffer(capacity: Frame.headerSize + payload.readableBytes + service.utf8.count + method.utf8.count + 32)
        frame.writeFrame(streamID: 0, type: .request, flags: kind.requestFlags) { data in
            RequestEnvelope(
                service: service, method: method, payload: payload, timeoutNanoseconds: timeoutNanoseconds ?? 0, metadata: metadata
            ).encode(into: &data)
        }
        guard frame.readableBytes - Frame.headerSize <= maximumFrameSize else {
            throw RPCError(code: .resourceExhausted, message: "request exceeds the maximum message size of \(maximumFrameSize)")
        }
        let inbox = StreamInbox(maximumBytes: maximumBufferedBytesPerStream, connectionBudget: bufferedStreamBytes)
        let id = nextCallID.add(1, ordering: .relaxed).newValue
        let call = ClientCall(id: id, frame: frame, deadline: timeoutNanoseconds.map { .now() + .nanoseconds($0) }, sink: .stream(inbox))
        do {
            try await channel.writeAndFlush(ClientOutbound.call(call)).get()
        } catch {
            inbox.fail(RPCError(code: .unavailable, message: "cannot send to \(socketPath): \(error)"))
            throw inbox.error!
        }
        return OpenStream(channel: channel, callID: id, inbox: inbox, maximumFrameSize: maximumFrameSize)
    }
}

/// A stream the client opened: its channel, its call id there, and its inbox.
private final class OpenStream: Sendable {
    let channel: any Channel
    let callID: UInt64
    let inbox: StreamInbox
    let maximumFrameSize: Int
    /// Messages written so far.
    private let written = Atomic<Int>(0)

    /// Writes not waited for, at most: every this many, a write waits until it is written.
    static let writeWindow = 32

    init(channel: any Channel, callID: UInt64, inbox: StreamInbox, maximumFrameSize: Int) {
        self.channel = channel
        self.callID = callID
        self.inbox = inbox
        self.maximumFrameSize = maximumFrameSize
    }

    /// Sends the client's messages.
    var writer: MessageWriter {
        MessageWriter { [self] message throws(RPCError) in
            guard message.readableBytes <= maximumFrameSize else {
                throw RPCError(
                    code: .resourceExhausted,
                    message: "message of \(message.readableBytes) bytes exceeds the maximum message size of \(maximumFrameSize)")
            }
            try await write(message)
        }
    }

    /// Closes the client's side: data `remote closed | no data`.
    func closeSending() async throws(RPCError) {
        try await write(nil)
    }

    /// Writes a message (nil: the close); waits until it is written only
    /// while the channel is not writable, and every `writeWindow` writes, so
    /// that a fast producer is paced by the socket without a round trip to
    /// the event loop per message.
    private func write(_ message: ByteBuffer?) async throws(RPCError) {
        if inbox.hasEnded {
            throw inbox.error ?? RPCError(code: .failedPrecondition, message: "the stream has ended")
        }
        let written = written.add(1, ordering: .relaxed).newValue
        let promise = channel.eventLoop.makePromise(of: Void.self)
        channel.writeAndFlush(ClientOutbound.message(ClientStreamMessage(callID: callID, message: message)), promise: promise)
        guard message == nil || !channel.isWritable || written % Self.writeWindow == 0 else { return }
        do {
            try await promise.futureResult.get()
        } catch {
            throw inbox.error ?? (error as? RPCError) ?? RPCError(code: .unavailable, message: "connection closed")
        }
    }

    /// Gives up on the stream if it has not ended: its later messages are
    /// dropped and its buffer freed (harmless after the end).
    func abandon(_ error: RPCError = RPCError(code: .cancelled, message: "stream abandoned")) {
        inbox.fail(error)
        channel.triggerUserOutboundEvent(CancelClientCall(id: callID, error: error), promise: nil)
    }
}
