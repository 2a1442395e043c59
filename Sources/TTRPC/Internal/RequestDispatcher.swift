import NIOCore

/// What the event loop hands to a connection's task.
enum ServerEvent: Sendable {
    /// A valid request, to be served by its route's handler.
    case call(streamID: UInt32, request: RequestEnvelope, route: Router.Route)
    /// An answer already known (an error, or an inline answer held back while
    /// the client is not reading), to be written with backpressure.
    case respond(streamID: UInt32, result: Result<ByteBuffer, RPCError>)
    /// A data frame, for the stream it names (checked by the connection's task,
    /// which knows the streams in flight).
    case data(streamID: UInt32, flags: UInt8, payload: ByteBuffer)
    /// A protocol error on a stream id that may be open (an oversized frame,
    /// a request reusing the id): it ends that stream, or is answered with
    /// `error` when no call is in flight under the id.
    case streamError(streamID: UInt32, error: RPCError)
}

/// The event-loop side of a server connection: checks stream ids, decodes
/// envelopes, finds the route, checks the request's flags against the
/// method's kind, and answers at once what it can (errors, and calls whose
/// inline handler has the answer), flushing once per read burst. Data frames
/// go to the connection's task, which knows the streams in flight.
///
/// While the channel is not writable nothing is answered here: every event
/// goes to the connection's task, whose writes wait for the client, so a
/// client that does not read cannot make the server buffer without bound.
final class RequestDispatcher: ChannelInboundHandler {
    typealias InboundIn = FrameDecoder.Event
    typealias InboundOut = ServerEvent
    typealias OutboundOut = ByteBuffer

    private let router: Router
    private let peer: PeerCredentials
    private let maximumFrameSize: Int
    private var lastStreamID: UInt32 = 0
    private var needsFlush = false

    init(router: Router, peer: PeerCredentials, maximumFrameSize: Int) {
        self.router = router
        self.peer = peer
        self.maximumFrameSize = maximumFrameSize
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let event = dispatch(unwrapInboundIn(data)) else { return }
        if case .call(let streamID, let request, let route) = event, let inline = route.inline, context.channel.isWritable,
            let result = inline(request.payload, Self.context(for: request, peer: peer))
        {
            write(context, streamID, result)
        } else if case .respond(let streamID, let result) = event, context.channel.isWritable {
            write(context, streamID, result)
        } else {
            context.fireChannelRead(wrapInboundOut(event))
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if needsFlush {
            needsFlush = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    /// The server context of a request from this connection's peer.
    static func context(for request: RequestEnvelope, peer: PeerCredentials) -> ServerContext {
        // 0 means no deadline; a negative value is one that has already passed
        // (the reference client sends what is left, which may be below zero).
        let deadline: ContinuousClock.Instant? =
            request.timeoutNanoseconds == 0 ? nil : .now + .nanoseconds(max(request.timeoutNanoseconds, 0))
        return ServerContext(
            service: request.service, method: request.method, peer: peer, metadata: request.metadata, deadline: deadline)
    }

    /// Turns a frame into a call or an answer; nil for frames with nothing to serve.
    private func dispatch(_ event: FrameDecoder.Event) -> ServerEvent? {
        let frame: Frame
        switch event {
        case .oversized(let streamID, _, let length):
            let error = RPCError(
                code: .resourceExhausted, message: "message length \(length) exceed maximum message size of \(maximumFrameSize)")
            if streamID % 2 == 1, streamID <= lastStreamID { return .streamError(streamID: streamID, error: error) }
            return .respond(streamID: streamID, result: .failure(error))
        case .frame(let received):
            frame = received
        }
        // Responses from a client carry nothing to serve; unknown types are
        // ignored for future compatibility, as the reference does.
        guard frame.type == .request || frame.type == .data else { return nil }
        guard frame.streamID % 2 == 1 else {
            return .respond(
                streamID: frame.streamID,
                result: .failure(RPCError(code: .invalidArgument, message: "StreamID must be odd for client initiated streams")))
        }
        if frame.type == .data {
            // Data for a stream id no request opened is a protocol error. Data
            // for one opened before goes to the connection's task, which drops
            // it if the stream has ended: the client may send before it sees
            // the end, and the reference client (1.2.7) keeps a stream that
            // ended with an error open, so that an answer to each such frame
            // would stall its whole connection.
            guard frame.streamID <= lastStreamID else {
                return .respond(
                    streamID: frame.streamID,
                    result: .failure(RPCError(code: .invalidArgument, message: "StreamID is no longer active")))
            }
            return .data(streamID: frame.streamID, flags: frame.flags, payload: frame.data)
        }
        guard frame.streamID > lastStreamID else {
            return .streamError(
                streamID: frame.streamID,
                error: RPCError(code: .invalidArgument, message: "StreamID cannot be re-used and must increment"))
        }
        lastStreamID = frame.streamID
        let request: RequestEnvelope
        do {
            request = try RequestEnvelope(decoding: frame.data)
        } catch {
            return .respond(streamID: frame.streamID, result: .failure(error))
        }
        switch router.route(service: request.service, method: request.method) {
        case .success(let route):
            guard frame.flags == route.kind.requestFlags else {
                return .respond(streamID: frame.streamID, result: .failure(Self.kindMismatch(route.kind, flags: frame.flags, request)))
            }
            return .call(streamID: frame.streamID, request: request, route: route)
        case .failure(let error): return .respond(streamID: frame.streamID, result: .failure(error))
        }
    }

    /// A request whose flags do not open the method's kind of call (the
    /// reference serves it anyway, as the method's kind; we refuse it).
    private static func kindMismatch(_ kind: MethodKind, flags: UInt8, _ request: RequestEnvelope) -> RPCError {
        let called: String
        switch flags {
        case 0: called = "as unary"
        case Frame.Flags.remoteClosed: called = "as server streaming (remote closed)"
        case Frame.Flags.remoteOpen: called = "as client streaming (remote open)"
        default: called = "with request flags 0x\(String(flags, radix: 16))"
        }
        return RPCError(code: .invalidArgument, message: "method \(request.method) is \(kind), called \(called)")
    }

    private func write(_ context: ChannelHandlerContext, _ streamID: UInt32, _ result: Result<ByteBuffer, RPCError>) {
        let frame = ResponseFrame.encode(
            streamID: streamID, result: result, allocator: context.channel.allocator, maximumFrameSize: maximumFrameSize)
        for part in frame { context.write(wrapOutboundOut(part), promise: nil) }
        needsFlush = true
    }
}
