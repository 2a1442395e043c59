public import ConnectorAPI
import NIOCore
import ProtobufCKit
public import TTRPC

/// A typed client for connectord's `connectors.v1.ConnectorRegistry`.
///
/// Calls share one connection to the daemon's socket and may run
/// concurrently. Errors are `RPCError`s with the daemon's status code and
/// message (UNAVAILABLE when the daemon cannot be reached).
///
/// Every change (register, activate, set-mode, delete, create) carries a
/// request id, the caller's or a new random one. When the connection drops
/// after the request may have been sent and before the answer came, the
/// change is sent once more with the same id: the daemon then answers what it
/// answered the first time instead of doing it again. A status the daemon
/// answered is never retried.
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
    /// - Parameter requestID: a repeat with the same id (by the same user,
    ///   within 24 hours) answers what the first answered; empty: a new random id.
    public func register(
        name: String, description: String, secret: String? = nil, requestID: String = ""
    ) async throws(RPCError) -> ConnectorsV1.RegisterResponse {
        try await change(.register, requestID: requestID) { id in
            ConnectorsV1.RegisterRequest(name: name, description: description, secret: secret ?? "", requestID: id)
        }
    }

    /// Step 2: fetches the connector's schema from `url` and activates it. Superuser only.
    /// - Parameters:
    ///   - expectedRevision: 0, or the revision the connector must be at (else ABORTED).
    ///   - requestID: as for `register`; empty: a new random id.
    public func activate(
        id: UInt64, url: String, expectedRevision: UInt64 = 0, requestID: String = ""
    ) async throws(RPCError) -> ConnectorsV1.ActivateResponse {
        try await change(.activate, requestID: requestID) { requestID in
            ConnectorsV1.ActivateRequest(connectorID: id, connectorURL: url, expectedRevision: expectedRevision, requestID: requestID)
        }
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
    /// - Parameters:
    ///   - expectedRevision: 0, or the revision the connector must be at (else ABORTED).
    ///   - requestID: as for `register`; empty: a new random id.
    public func setMode(
        id: UInt64, mode: ConnectorsV1.ConnectorMode, expectedRevision: UInt64 = 0, requestID: String = ""
    ) async throws(RPCError) -> ConnectorsV1.Connector {
        let response: ConnectorsV1.SetModeResponse = try await change(.setMode, requestID: requestID) { requestID in
            ConnectorsV1.SetModeRequest(connectorID: id, mode: mode, expectedRevision: expectedRevision, requestID: requestID)
        }
        return response.connector
    }

    /// Deletes a connector. Superuser only.
    /// - Parameters:
    ///   - expectedRevision: 0, or the revision the connector must be at (else ABORTED).
    ///   - requestID: as for `register`; empty: a new random id.
    public func delete(id: UInt64, expectedRevision: UInt64 = 0, requestID: String = "") async throws(RPCError) -> ConnectorsV1.DeleteResponse {
        try await change(.delete, requestID: requestID) { requestID in
            ConnectorsV1.DeleteRequest(connectorID: id, expectedRevision: expectedRevision, requestID: requestID)
        }
    }

    /// Watches the registry's changes: runs `body` with the events as they
    /// come (see `WatchRequest`). The sequence ends only when the daemon ends
    /// the stream; it throws the stream's status (OUT_OF_RANGE,
    /// RESOURCE_EXHAUSTED naming the revision to resume from, UNAVAILABLE
    /// when the connection drops). Returning from `body` ends the watch.
    public func watch<Result>(
        _ request: ConnectorsV1.WatchRequest, _ body: (WatchEvents) async throws -> Result
    ) async throws -> Result {
        try await transport.serverStreaming(
            service: ConnectorsV1.serviceName, method: ConnectorsV1.Method.watch.rawValue, request: request.byteBuffer(),
            timeout: timeout
        ) { messages in
            try await body(WatchEvents(messages: messages))
        }
    }

    /// Watch as a long poll: the changes from `request.startRevision` on.
    public func listChanges(_ request: ConnectorsV1.ListChangesRequest) async throws(RPCError) -> ConnectorsV1.ListChangesResponse {
        try await call(.listChanges, request)
    }

    /// A page of the audit trail. Superuser only.
    public func history(
        connectorID: UInt64 = 0, startRevision: UInt64 = 0, pageSize: UInt32 = 0, pageToken: String = ""
    ) async throws(RPCError) -> ConnectorsV1.GetHistoryResponse {
        try await call(
            .getHistory,
            ConnectorsV1.GetHistoryRequest(connectorID: connectorID, startRevision: startRevision, pageSize: pageSize, pageToken: pageToken))
    }

    /// Walks the audit trail's hash chain. Superuser only.
    public func verifyHistory() async throws(RPCError) -> ConnectorsV1.VerifyHistoryResponse {
        try await call(.verifyHistory, ConnectorsV1.VerifyHistoryRequest())
    }

    /// A connector's stored logo.
    public func logo(id: UInt64) async throws(RPCError) -> ConnectorsV1.GetLogoResponse {
        try await call(.getLogo, ConnectorsV1.GetLogoRequest(connectorID: id))
    }

    /// The deprecated single-step registration (use `register`, then
    /// `activate`): the name comes from the schema. Superuser only.
    /// - Parameter requestID: as for `register`; empty: a new random id.
    public func create(url: String, secret: String? = nil, requestID: String = "") async throws(RPCError) -> ConnectorsV1.CreateResponse {
        try await change(.create, requestID: requestID) { requestID in
            ConnectorsV1.CreateRequest(connectorURL: url, secret: secret ?? "", requestID: requestID)
        }
    }

    /// Sends a change with `requestID` (a new random one when empty); sends
    /// it once more, with the same id, when the connection dropped before the
    /// answer (see `RPCError.isDroppedConnection`).
    private func change<Request: ProtoMessage, Response: ProtoMessage>(
        _ method: ConnectorsV1.Method, requestID: String, _ request: (_ requestID: String) -> Request
    ) async throws(RPCError) -> Response {
        let message = request(requestID.isEmpty ? Self.makeRequestID() : requestID)
        do throws(RPCError) {
            return try await call(method, message)
        } catch {
            guard error.isDroppedConnection else { throw error }
        }
        return try await call(method, message)
    }

    private func call<Request: ProtoMessage, Response: ProtoMessage>(
        _ method: ConnectorsV1.Method, _ request: Request
    ) async throws(RPCError) -> Response {
        let answer = try await transport.call(
            service: ConnectorsV1.serviceName, method: method.rawValue, payload: request.byteBuffer(), timeout: timeout)
        return try Response.decoded(from: answer, method: method)
    }
}

extension ConnectorClient {
    /// The events of a watch, decoded.
    public struct WatchEvents: AsyncSequence, Sendable {
        public typealias Element = ConnectorsV1.WatchEvent
        public typealias Failure = RPCError

        let messages: MessageStream

        public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(messages: messages.makeAsyncIterator()) }

        public struct AsyncIterator: AsyncIteratorProtocol {
            public typealias Element = ConnectorsV1.WatchEvent
            public typealias Failure = RPCError

            var messages: MessageStream.AsyncIterator

            /// The next event, or nil when the daemon ended the watch cleanly.
            /// - Throws: `RPCError`, the status the watch ended with.
            public mutating func next() async throws(RPCError) -> ConnectorsV1.WatchEvent? {
                guard let message = try await messages.next() else { return nil }
                return try ConnectorsV1.WatchEvent.decoded(from: message, method: .watch)
            }

            public mutating func next(isolation actor: isolated (any Actor)?) async throws(RPCError) -> ConnectorsV1.WatchEvent? {
                guard let message = try await messages.next(isolation: actor) else { return nil }
                return try ConnectorsV1.WatchEvent.decoded(from: message, method: .watch)
            }
        }
    }
}

extension ProtoMessage {
    /// The encoded message in a new buffer.
    func byteBuffer() -> ByteBuffer {
        encode { size, pack in
            var buffer = ByteBuffer()
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: max(size, 1)) { out in
                if size > 0 { pack(out.baseAddress!) }
                return size
            }
            return buffer
        }
    }

    /// Decodes an answer of `method`; a message that does not decode is INTERNAL.
    static func decoded(from buffer: ByteBuffer, method: ConnectorsV1.Method) throws(RPCError) -> Self {
        let decoded = buffer.withUnsafeReadableBytes { bytes in
            Result { () throws(ProtobufDecodingError) in try Self(decoding: bytes) }
        }
        switch decoded {
        case .success(let message): return message
        case .failure(let error): throw RPCError(code: .internal, message: "invalid \(method.rawValue) response: \(error.reason)")
        }
    }
}
