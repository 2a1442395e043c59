public import ConnectorAPI
import NIOCore
import ProtobufCKit
public import TTRPC

/// A typed client for connectord's `connectors.v1.ConnectorRegistry`.
///
/// Calls share one connection to the daemon's socket and may run
/// concurrently. Errors are `RPCError`s with the daemon's status code and
/// message (UNAVAILABLE when the daemon cannot be reached).
public struct ConnectorClient: Sendable {
    private let transport: TTRPCClient
    /// The deadline given to each call, if any.
    public var timeout: Duration?

    /// The socket path the client talks to.
    public var socketPath: String { transport.socketPath }

    /// Creates a client for the daemon at `socketPath`; it connects on first use.
    public init(socketPath: String, timeout: Duration? = nil) {
        transport = TTRPCClient(socketPath: socketPath)
        self.timeout = timeout
    }

    /// Runs `body` with a client, closing its connection afterwards.
    public static func with<Result>(
        socketPath: String, timeout: Duration? = nil, _ body: (ConnectorClient) async throws -> Result
    ) async throws -> Result {
        let client = ConnectorClient(socketPath: socketPath, timeout: timeout)
        do {
            let result = try await body(client)
            await client.close()
            return result
        } catch {
            await client.close()
            throw error
        }
    }

    /// Connects now; fails with UNAVAILABLE if the daemon is not listening.
    public func connect() async throws(RPCError) {
        try await transport.connect()
    }

    /// Closes the connection.
    public func close() async {
        await transport.close()
    }

    /// Step 1: registers a connector (mode `deactive`). Superuser only.
    public func register(name: String, description: String, secret: String? = nil) async throws(RPCError) -> ConnectorsV1.RegisterResponse {
        try await call(.register, ConnectorsV1.RegisterRequest(name: name, description: description, secret: secret ?? ""))
    }

    /// Step 2: fetches the connector's schema from `url` and activates it. Superuser only.
    public func activate(id: UInt64, url: String) async throws(RPCError) -> ConnectorsV1.ActivateResponse {
        try await call(.activate, ConnectorsV1.ActivateRequest(connectorID: id, connectorURL: url))
    }

    /// One page of connectors by ascending id.
    public func list(mode: ConnectorsV1.ConnectorMode = .unspecified, pageSize: UInt32 = 0, pageToken: String = "") async throws(RPCError)
        -> ConnectorsV1.ListResponse
    {
        try await call(.list, ConnectorsV1.ListRequest(mode: mode, pageSize: pageSize, pageToken: pageToken))
    }

    /// Every connector (of one mode), following page tokens.
    public func listAll(mode: ConnectorsV1.ConnectorMode = .unspecified) async throws(RPCError) -> [ConnectorsV1.Connector] {
        var connectors: [ConnectorsV1.Connector] = []
        var token = ""
        repeat {
            let page = try await list(mode: mode, pageSize: 1000, pageToken: token)
            connectors += page.connectors
            token = page.nextPageToken
        } while !token.isEmpty
        return connectors
    }

    /// One connector.
    public func get(id: UInt64) async throws(RPCError) -> ConnectorsV1.Connector {
        let response: ConnectorsV1.GetResponse = try await call(.get, ConnectorsV1.GetRequest(connectorID: id))
        return response.connector
    }

    /// Changes a connector's mode by hand. Superuser only.
    public func setMode(id: UInt64, mode: ConnectorsV1.ConnectorMode) async throws(RPCError) -> ConnectorsV1.Connector {
        let response: ConnectorsV1.SetModeResponse = try await call(.setMode, ConnectorsV1.SetModeRequest(connectorID: id, mode: mode))
        return response.connector
    }

    /// Deletes a connector. Superuser only.
    public func delete(id: UInt64) async throws(RPCError) -> ConnectorsV1.DeleteResponse {
        try await call(.delete, ConnectorsV1.DeleteRequest(connectorID: id))
    }

    /// A connector's stored logo.
    public func logo(id: UInt64) async throws(RPCError) -> ConnectorsV1.GetLogoResponse {
        try await call(.getLogo, ConnectorsV1.GetLogoRequest(connectorID: id))
    }

    /// The deprecated single-step registration (use `register`, then
    /// `activate`): the name comes from the schema. Superuser only.
    public func create(url: String, secret: String? = nil) async throws(RPCError) -> ConnectorsV1.CreateResponse {
        try await call(.create, ConnectorsV1.CreateRequest(connectorURL: url, secret: secret ?? ""))
    }

    private func call<Request: ProtoMessage, Response: ProtoMessage>(
        _ method: ConnectorsV1.Method, _ request: Request
    ) async throws(RPCError) -> Response {
        let payload = request.encode { size, pack in
            var buffer = ByteBuffer()
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: max(size, 1)) { out in
                if size > 0 { pack(out.baseAddress!) }
                return size
            }
            return buffer
        }
        let answer = try await transport.call(
            service: ConnectorsV1.serviceName, method: method.rawValue, payload: payload, timeout: timeout)
        let decoded = answer.withUnsafeReadableBytes { bytes in
            Result { () throws(ProtobufDecodingError) in try Response(decoding: bytes) }
        }
        switch decoded {
        case .success(let response): return response
        case .failure(let error): throw RPCError(code: .internal, message: "invalid \(method.rawValue) response: \(error.reason)")
        }
    }
}
