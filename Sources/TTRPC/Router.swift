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

    /// The handlers of one method.
    struct Route: Sendable {
        let handler: Handler
        let inline: InlineHandler?
    }

    private var services: [String: [String: Route]] = [:]

    public init() {}

    /// Registers the handlers of `service`/`method`, replacing any earlier ones.
    /// - Parameters:
    ///   - inline: tried first, on the event loop; nil answers defer to `handler`.
    ///   - handler: serves the call in its own task.
    public mutating func register(
        service: String, method: String, inline: InlineHandler? = nil, handler: @escaping Handler
    ) {
        services[service, default: [:]][method] = Route(handler: handler, inline: inline)
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

    /// The task-run handler for a call, or UNIMPLEMENTED.
    func handler(service: String, method: String) -> Result<Handler, RPCError> {
        route(service: service, method: method).map(\.handler)
    }

    /// Serves one call without a connection, as the server would: the inline
    /// handler first, when the method has one and it answers, else the handler.
    /// For harnesses that drive handlers directly (the fuzz targets in `Fuzz/`).
    /// - Throws: `RPCError` UNIMPLEMENTED for an unknown service or method, the
    ///   inline handler's error, or whatever the handler throws.
    public func handle(service: String, method: String, payload: ByteBuffer, context: ServerContext) async throws -> ByteBuffer {
        let route = try route(service: service, method: method).get()
        if let inline = route.inline, let answer = inline(payload, context) {
            return try answer.get()
        }
        return try await route.handler(payload, context)
    }
}
