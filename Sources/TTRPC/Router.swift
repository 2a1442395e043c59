public import NIOCore

/// Maps a service and method name to the handlers that serve it.
public struct Router: Sendable {
    /// Serves one method: takes the encoded input, returns the encoded output.
    /// Throw an `RPCErrorConvertible` to answer with its status.
    public typealias Handler = @Sendable (_ payload: ByteBuffer, _ context: ServerContext) async throws -> ByteBuffer

    /// Answers a call at once on the connection's event loop, or returns nil to
    /// leave it to the `Handler`. It must not block: it suits answers already
    /// in memory (a cache), and saves the hops to and from a task.
    public typealias InlineHandler = @Sendable (_ payload: ByteBuffer, _ context: ServerContext) -> Result<ByteBuffer, RPCError>?

    /// Serves a server-streaming method: takes the encoded input, sends any
    /// number of messages. Returning ends the stream cleanly; throwing ends it
    /// with the error's status (after the messages already sent).
    public typealias ServerStreamingHandler =
        @Sendable (_ request: ByteBuffer, _ responses: MessageWriter, _ context: ServerContext) async throws -> Void

    /// Serves a client-streaming method: reads the client's messages, returns
    /// the one encoded answer (or throws its status).
    public typealias ClientStreamingHandler =
        @Sendable (_ requests: MessageStream, _ context: ServerContext) async throws -> ByteBuffer

    /// Serves a bidirectional-streaming method: reads the client's messages and
    /// sends its own. Returning ends the stream cleanly; throwing ends it with
    /// the error's status.
    public typealias BidirectionalStreamingHandler =
        @Sendable (_ requests: MessageStream, _ responses: MessageWriter, _ context: ServerContext) async throws -> Void

    /// Serves any streaming method: the answer of a client-streaming method,
    /// nil for the others.
    typealias StreamHandler = @Sendable (MessageStream, MessageWriter, ServerContext) async throws -> ByteBuffer?

    /// The handlers of one method.
    struct Route: Sendable {
        enum Body: Sendable {
            case unary(Handler, inline: InlineHandler?)
            case streaming(StreamHandler)
        }

        let kind: MethodKind
        let body: Body

        /// The inline handler of a unary method that has one.
        var inline: InlineHandler? {
            if case .unary(_, let inline) = body { return inline }
            return nil
        }
    }

    private var services: [String: [String: Route]] = [:]

    public init() {}

    /// Registers the handlers of unary `service`/`method`, replacing any earlier ones.
    /// - Parameters:
    ///   - inline: tried first, on the event loop; nil answers defer to `handler`.
    ///   - handler: serves the call in its own task.
    public mutating func register(
        service: String, method: String, inline: InlineHandler? = nil, handler: @escaping Handler
    ) {
        services[service, default: [:]][method] = Route(kind: .unary, body: .unary(handler, inline: inline))
    }

    /// Registers a server-streaming `service`/`method`, replacing any earlier handler.
    public mutating func registerServerStreaming(
        service: String, method: String, handler: @escaping ServerStreamingHandler
    ) {
        services[service, default: [:]][method] = Route(
            kind: .serverStreaming,
            body: .streaming { requests, responses, context in
                // The request's input is the stream's one message.
                var iterator = requests.makeAsyncIterator()
                try await handler(try await iterator.next() ?? ByteBuffer(), responses, context)
                return nil
            })
    }

    /// Registers a client-streaming `service`/`method`, replacing any earlier handler.
    public mutating func registerClientStreaming(
        service: String, method: String, handler: @escaping ClientStreamingHandler
    ) {
        services[service, default: [:]][method] = Route(
            kind: .clientStreaming, body: .streaming { requests, _, context in try await handler(requests, context) })
    }

    /// Registers a bidirectional-streaming `service`/`method`, replacing any earlier handler.
    public mutating func registerBidirectionalStreaming(
        service: String, method: String, handler: @escaping BidirectionalStreamingHandler
    ) {
        services[service, default: [:]][method] = Route(
            kind: .bidirectionalStreaming,
            body: .streaming { requests, responses, context in
                try await handler(requests, responses, context)
                return nil
            })
    }

    /// The handlers for a call, or UNIMPLEMENTED with the reference wording.
    func route(service: String, method: String) -> Result<Route, RPCError> {
        guard let methods = services[service] else {
            return .failure(RPCError(code: .unimplemented, message: "service \(service)"))
        }
        guard let route = methods[method] else {
            return .failure(RPCError(code: .unimplemented, message: "method \(method)"))
        }
        return .success(route)
    }

    /// The task-run handler for a unary call, or UNIMPLEMENTED (INVALID_ARGUMENT
    /// for a streaming method).
    func handler(service: String, method: String) -> Result<Handler, RPCError> {
        route(service: service, method: method).flatMap { route in
            guard case .unary(let handler, _) = route.body else {
                return .failure(RPCError(code: .invalidArgument, message: "method \(method) is \(route.kind), called as unary"))
            }
            return .success(handler)
        }
    }

    /// Serves one unary call without a connection, as the server would: the
    /// inline handler first, when the method has one and it answers, else the
    /// handler. For harnesses that drive handlers directly (the fuzz targets in `Fuzz/`).
    /// - Throws: `RPCError` UNIMPLEMENTED for an unknown service or method,
    ///   INVALID_ARGUMENT for a streaming method, the inline handler's error,
    ///   or whatever the handler throws.
    public func handle(service: String, method: String, payload: ByteBuffer, context: ServerContext) async throws -> ByteBuffer {
        let handler = try handler(service: service, method: method).get()
        if let inline = try route(service: service, method: method).get().inline, let answer = inline(payload, context) {
            return try answer.get()
        }
        return try await handler(payload, context)
    }

    /// The kind of `service`/`method`, or nil if it is not registered.
    public func kind(service: String, method: String) -> MethodKind? {
        try? route(service: service, method: method).get().kind
    }
}
