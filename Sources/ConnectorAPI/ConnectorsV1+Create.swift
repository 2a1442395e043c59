import CProto
public import ProtobufCKit

extension ConnectorsV1 {
    /// `connectors.v1.CreateRequest` (deprecated: use Register, then Activate).
    public struct CreateRequest: Sendable, Hashable {
        public var connectorURL: String
        public var secret: String

        public init(connectorURL: String = "", secret: String = "") {
            self.connectorURL = connectorURL
            self.secret = secret
        }
    }
}

extension ConnectorsV1.CreateRequest: ProtoMessage {
    public init(decoding bytes: UnsafeRawBufferPointer) throws(ProtobufDecodingError) {
        self = try unpackProtobufC(
            bytes, "CreateRequest", unpack: connectors__v1__create_request__unpack, free: connectors__v1__create_request__free_unpacked
        ) { c throws(ProtobufDecodingError) in
            ConnectorsV1.CreateRequest(
                connectorURL: try String(protobufC: c.connector_url, field: "connector_url"),
                secret: try String(protobufC: c.secret, field: "secret"))
        }
    }

    public func encode<Result>(_ write: (Int, (UnsafeMutableRawPointer) -> Void) -> Result) -> Result {
        withCArena { arena in
            let c = arena.make(Connectors__V1__CreateRequest.self, connectors__v1__create_request__init)
            c.pointee.connector_url = arena.cString(connectorURL)
            c.pointee.secret = arena.cString(secret)
            return packProtobufC(c, write: write)
        }
    }
}

extension ConnectorsV1 {
    /// `connectors.v1.CreateResponse` (deprecated).
    public struct CreateResponse: Sendable, Hashable {
        public var connector: Connector
        public var message: String

        public init(connector: Connector = Connector(), message: String = "") {
            self.connector = connector
            self.message = message
        }
    }
}

extension ConnectorsV1.CreateResponse: ProtoMessage {
    public init(decoding bytes: UnsafeRawBufferPointer) throws(ProtobufDecodingError) {
        self = try unpackProtobufC(
            bytes, "CreateResponse", unpack: connectors__v1__create_response__unpack, free: connectors__v1__create_response__free_unpacked
        ) { c throws(ProtobufDecodingError) in
            ConnectorsV1.CreateResponse(
                connector: try ConnectorsV1.Connector.from(c.connector),
                message: try String(protobufC: c.message, field: "message"))
        }
    }

    public func encode<Result>(_ write: (Int, (UnsafeMutableRawPointer) -> Void) -> Result) -> Result {
        withCArena { arena in
            let c = arena.make(Connectors__V1__CreateResponse.self, connectors__v1__create_response__init)
            c.pointee.connector = connector.build(&arena)
            c.pointee.message = arena.cString(message)
            return packProtobufC(c, write: write)
        }
    }
}
