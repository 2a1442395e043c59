public import NIOCore

/// Maps a service and method name to the handler that serves it.
public struct Router: Sendable {
    /// Serves one method: takes the encoded input, returns the encoded output.
    /// Throw an `RPCErrorConvertible` to answer with its status.
    public typealias Handler = @Sendable (_ payload: ByteBuffer, _ context: ServerContext) async throws -> ByteBuffer

    private var services: [String: [String: Handler]] = [:]

    public init() {}

    /// Registers `handler` for `service`/`method`, replacing any earlier one.
    public mutating func register(service: String, method: String, handler: @escaping Handler) {
        services[service, default: [:]][method] = handler
    }

    /// The handler for a call, or UNIMPLEMENTED with the reference wording.
    func handler(service: String, method: String) -> Result<Handler, RPCError> {
        guard let methods = services[service] else {
            return .failure(RPCError(code: .unimplemented, message: "service \(service)"))
        }
        guard let handler = methods[method] else {
            return .failure(RPCError(code: .unimplemented, message: "method \(method)"))
        }
        return .success(handler)
    }
}
