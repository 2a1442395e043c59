import Logging
import NIOCore
import Synchronization

/// The task side of a server connection: runs each call (unary or streaming)
/// in its own child task, hands the client's data frames to their streams,
/// and writes each frame as soon as it is ready, waiting while the client
/// does not read.
///
/// What a client that does not read can make the server hold is bounded: a
/// new call starts only while fewer than `maximumConcurrentRequests` run (a
/// stream counts as one) and the channel is writable (less than its high
/// watermark of frames waits to be sent). Otherwise the connection stops
/// taking requests (they wait unread in the socket) until the client reads;
/// except while streams are open, whose data frames must keep flowing: then
/// a request past the bound is answered RESOURCE_EXHAUSTED at once.
///
/// One stream never holds up another: the client's messages wait in a
/// bounded inbox per stream (past its bound that stream alone fails with
/// RESOURCE_EXHAUSTED), and a stream whose next message cannot be sent for
/// `streamSendTimeout` (found within half of it more) ends with
/// RESOURCE_EXHAUSTED.
///
/// What the client's messages can make the connection hold is bounded as a
/// whole too: the inboxes of its streams share `maximumBufferedBytesPerConnection`;
/// a message past it fails the stream it came for (RESOURCE_EXHAUSTED), the
/// others go on.
struct ServerConnection: Sendable {
    let peer: PeerCredentials
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    let allocator: ByteBufferAllocator
    /// Times the calls' deadlines.
    let eventLoop: any EventLoop
    let logger: Logger
    let maximumFrameSize: Int
    let maximumConcurrentRequests: Int
    let maximumBufferedBytesPerStream: Int
    let maximumBufferedBytesPerConnection: Int
    let streamSendTimeout: Duration
    /// 1 while the channel is not writable (kept by `WritabilityGate`).
    let blockedOutput: UsageLimit
    /// Whether the server's grace period is over (open streams then end with UNAVAILABLE).
    let isPastGracePeriod: @Sendable () -> Bool
    /// Writes and flushes on the channel directly: for a stream's last frame
    /// once its task is cancelled (the async writer drops writes from a
    /// cancelled task), so the stream still ends with its status.
    let writeNow: @Sendable ([ByteBuffer]) -> Void
    /// Completes when the connection has closed.
    let closeFuture: EventLoopFuture<Void>

    func serve(_ inbound: NIOAsyncChannelInboundStream<ServerEvent>) async throws {
        let streams = StreamTable()
        let bufferedBytes = UsageLimit(limit: maximumBufferedBytesPerConnection)
        // The client gone, no stream can go on: each is ended (its handler
        // cancelled) rather than left to notice at its next write.
        closeFuture.whenComplete { _ in
            let closed = RPCError(code: .unavailable, message: "connection closed")
            for stream in streams.all where stream.kind != .unary { stream.end(closed) }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            var inFlight = 0
            for try await event in inbound {
                switch event {
                case .respond(let streamID, let result):
                    try await outbound.write(contentsOf: encode(streamID, result))
                case .data(let streamID, let flags, let payload):
                    try await receive(streamID: streamID, flags: flags, payload: payload, streams: streams)
                case .streamError(let streamID, let error):
                    try await fail(streamID: streamID, with: error, streams: streams)
                case .call(let streamID, let request, let route):
                    // `inFlight` counts the tasks not yet reaped; the table, the calls still running.
                    if streams.count >= maximumConcurrentRequests, streams.hasStreams {
                        // Waiting unread would hold up the open streams' data frames.
                        let error = RPCError(
                            code: .resourceExhausted,
                            message: "too many calls in flight on this connection (at most \(maximumConcurrentRequests))")
                        try await outbound.write(contentsOf: encode(streamID, .failure(error)))
                        continue
                    }
                    while inFlight >= maximumConcurrentRequests {
                        try await group.next()
                        inFlight -= 1
                    }
                    try await blockedOutput.waitForRoom()
                    inFlight += 1
                    switch route.body {
                    case .unary(let handler, _):
                        let stream = ServerStream(kind: .unary, inbox: nil)
                        streams.add(streamID, stream)
                        group.addTask {
                            defer { streams.remove(streamID) }
                            // Encoded before waiting for the client, so only the frame is held.
                            let frame = encode(streamID, await handle(request, handler))
                            guard stream.claimAnswer() else { return }  // answered a protocol error already
                            try await outbound.write(contentsOf: frame)
                        }
                    case .streaming(let handler):
                        let inbox = StreamInbox(maximumBytes: maximumBufferedBytesPerStream, connectionBudget: bufferedBytes)
                        let stream = ServerStream(kind: route.kind, inbox: route.kind.clientSendsData ? inbox : nil)
                        // The request's input is the first message (as the reference
                        // does; a client-streaming request usually has none).
                        if !route.kind.clientSendsData || request.payload.readableBytes > 0,
                            inbox.offer(request.payload) != .accepted
                        {
                            inFlight -= 1  // no task for it
                            try await outbound.write(contentsOf: encode(streamID, .failure(Self.connectionFull(maximumBufferedBytesPerConnection))))
                            continue
                        }
                        if !route.kind.clientSendsData { inbox.finish(.success(())) }
                        streams.add(streamID, stream)
                        group.addTask {
                            defer { streams.remove(streamID) }
                            try await serveStream(streamID, request, route.kind, handler, stream, MessageStream(inbox))
                        }
                    }
                }
            }
            // No more data frames will come (the client closed its side, or a
            // graceful stop stopped reading): streams still waiting for some fail.
            let closed = RPCError(code: .unavailable, message: "no more data: the connection stopped reading")
            for stream in streams.all where stream.inbox != nil && !stream.remoteClosed.load(ordering: .relaxed) {
                stream.end(closed)
            }
            try await group.waitForAll()
        }
    }

    // MARK: Unary calls

    private func handle(_ request: RequestEnvelope, _ handler: @escaping Router.Handler) async -> Result<ByteBuffer, RPCError> {
        let context = RequestDispatcher.context(for: request, peer: peer)

        @Sendable func run() async -> Result<ByteBuffer, RPCError> {
            do {
                return .success(try await handler(request.payload, context))
            } catch {
                return .failure(status(of: error, request))
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

    // MARK: Streams

    /// Runs a stream's handler against its deadline and its early end, then
    /// writes the stream's last frame: data `remote closed | no data` after a
    /// server stream that succeeded, else a response (the answer of a
    /// client stream, or the error status).
    private func serveStream(
        _ streamID: UInt32, _ request: RequestEnvelope, _ kind: MethodKind, _ handler: @escaping Router.StreamHandler,
        _ stream: ServerStream, _ requests: MessageStream
    ) async throws {
        let context = RequestDispatcher.context(for: request, peer: peer)
        let responses = MessageWriter { message throws(RPCError) in
            try await send(message, streamID: streamID, kind: kind, stream: stream)
        }
        // A send under way for longer than streamSendTimeout ends the stream:
        // checked twice per timeout by one timer per stream (a timer per
        // message would cost two hops to the event loop each).
        let timeout = TimeAmount(streamSendTimeout)
        let half = TimeAmount(streamSendTimeout / 2)
        let watch = kind.serverSendsData
            ? eventLoop.scheduleRepeatedTask(initialDelay: half, delay: half) { _ in
                if stream.isSendStalled(longerThan: timeout) {
                    stream.end(RPCError(code: .resourceExhausted, message: "stream blocked: the client is not reading"))
                }
            } : nil
        defer { watch?.cancel() }
        let outcome = await withTaskGroup(of: Result<ByteBuffer?, RPCError>?.self) { group in
            group.addTask {
                do {
                    return .success(try await handler(requests, responses, context))
                } catch {
                    return .failure(status(of: error, request))
                }
            }
            group.addTask { await stream.waitForEnd().map { .failure($0) } }
            if let deadline = context.deadline {
                group.addTask {
                    await DeadlineTimer.wait(until: deadline, on: eventLoop)
                    if Task.isCancelled { return nil }
                    return .failure(RPCError(code: .deadlineExceeded, message: "deadline exceeded"))
                }
            }
            var first: Result<ByteBuffer?, RPCError>?
            while first == nil, let next = await group.next() { first = next }
            group.cancelAll()
            return first!
        }
        // Ended early (a protocol error, a full buffer, a stall): that is the
        // status, whatever the handler made of it.
        var result = stream.endedWith.map { .failure($0) } ?? outcome
        stream.end(RPCError(code: .cancelled, message: "stream ended"))  // stops any later send
        if Task.isCancelled, isPastGracePeriod() {
            result = .failure(RPCError(code: .unavailable, message: "server shutting down"))
        }
        let last: [ByteBuffer]
        switch result {
        case .success(let answer?) where !kind.serverSendsData: last = encode(streamID, .success(answer))
        case .success: last = [DataFrame.close(streamID: streamID, allocator: allocator)]
        case .failure(let error): last = encode(streamID, .failure(error))
        }
        if Task.isCancelled {
            writeNow(last)
        } else {
            try await outbound.write(contentsOf: last)
        }
    }

    /// Sends one message of a stream's handler, ending the stream if it cannot
    /// be sent within `streamSendTimeout`.
    private func send(_ message: ByteBuffer, streamID: UInt32, kind: MethodKind, stream: ServerStream) async throws(RPCError) {
        guard kind.serverSendsData else {
            throw RPCError(code: .failedPrecondition, message: "a client-streaming method answers by returning its message")
        }
        if let error = stream.endedWith { throw error }
        guard message.readableBytes <= maximumFrameSize else {
            throw RPCError(
                code: .resourceExhausted,
                message: "message of \(message.readableBytes) bytes exceeds the maximum message size of \(maximumFrameSize)")
        }
        let frame = DataFrame.encode(streamID: streamID, message: message, allocator: allocator)
        // Watched by the stream's send watch (`serveStream`).
        stream.beginSend()
        defer { stream.endSend() }
        do {
            try await outbound.write(contentsOf: frame)
        } catch {
            throw stream.endedWith ?? RPCError(code: .unavailable, message: "connection closed")
        }
    }

    /// Hands a data frame to its stream, or answers the protocol error it is.
    private func receive(streamID: UInt32, flags: UInt8, payload: ByteBuffer, streams: StreamTable) async throws {
        // A stream that has ended: the client sent this before it saw the end
        // (data for an id never opened is answered by `RequestDispatcher`).
        guard let stream = streams[streamID] else { return }
        guard stream.kind.clientSendsData else {
            let error = RPCError(
                code: .invalidArgument,
                message: stream.kind == .unary
                    ? "data frame on a unary stream" : "data frame on a stream the client opened as remote closed")
            return try await fail(streamID: streamID, with: error, streams: streams)
        }
        guard !stream.remoteClosed.load(ordering: .relaxed) else {
            // The reference's wording.
            return stream.end(RPCError(code: .invalidArgument, message: "data handling error: ttrpc: stream closed"))
        }
        let closing = flags & Frame.Flags.remoteClosed != 0
        let carriesMessage = flags & Frame.Flags.noData == 0
        if closing {
            stream.remoteClosed.store(true, ordering: .relaxed)
            // The reference's wording.
            guard payload.readableBytes == 0 else {
                return stream.end(RPCError(code: .invalidArgument, message: "data close message cannot include data"))
            }
        }
        guard let inbox = stream.inbox else { return }
        if carriesMessage {
            switch inbox.offer(payload) {
            case .accepted, .ended:
                break
            case .full:
                return stream.end(RPCError(
                    code: .resourceExhausted,
                    message: "stream buffer full: the handler left more than \(inbox.maximumBytes) bytes of messages waiting"))
            case .connectionFull:
                return stream.end(Self.connectionFull(maximumBufferedBytesPerConnection))
            }
        }
        if closing { inbox.finish(.success(())) }
    }

    /// Ends the stream `streamID` with `error`, or answers it if no stream
    /// can carry it.
    private func fail(streamID: UInt32, with error: RPCError, streams: StreamTable) async throws {
        guard let stream = streams[streamID] else {
            return try await outbound.write(contentsOf: encode(streamID, .failure(error)))
        }
        if stream.kind == .unary {
            // Its answer goes out now; the handler's, later, is dropped.
            guard stream.claimAnswer() else { return }
            return try await outbound.write(contentsOf: encode(streamID, .failure(error)))
        }
        stream.end(error)
    }

    // MARK: Helpers

    /// The status of a stream whose message the connection's budget has no room for.
    private static func connectionFull(_ budget: Int) -> RPCError {
        RPCError(
            code: .resourceExhausted,
            message: "connection buffer full: the handlers of this connection's streams left more than \(budget) bytes of messages waiting")
    }

    private func status(of error: any Error, _ request: RequestEnvelope) -> RPCError {
        let status = RPCError.from(error)
        if status.code == .internal {
            logger.error("\(request.service)/\(request.method) failed", metadata: ["error": "\(error)"])
        }
        return status
    }

    /// The frame's parts, to be written together and in order.
    private func encode(_ streamID: UInt32, _ result: Result<ByteBuffer, RPCError>) -> [ByteBuffer] {
        ResponseFrame.encode(streamID: streamID, result: result, allocator: allocator, maximumFrameSize: maximumFrameSize)
    }
}
