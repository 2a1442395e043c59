import CProto
public import ProtobufCKit

extension ConnectorsV1 {
    /// `connectors.v1.GetRequest`.
    public struct GetRequest: Sendable, Hashable {
        public var connectorID: UInt64

        public init(connectorID: UInt64 = 0) {
            self.connectorID = connectorID
        }
    }
}

extension ConnectorsV1.GetRequest: ProtoMessage {
    public init(decoding bytes: UnsafeRawBufferPointer) throws(ProtobufDecodingError) {
        self = try unpackProtobufC(
            bytes, "GetRequest", unpack: connectors__v1__get_request__unpack, free: connectors__v1__get_request__free_unpacked
        ) { c throws(ProtobufDecodingError) in
            ConnectorsV1.GetRequest(
                connectorID: c.connector_id)
        }
    }

    public func encode<Result>(_ write: (Int, (UnsafeMutableRawPointer) -> Void) -> Result) -> Result {
        withCArena { arena in
            let c = arena.make(Connectors__V1__GetRequest.self, connectors__v1__get_request__init)
            c.pointee.connector_id = connectorID
            return packProtobufC(c, write: write)
        }
    }
}

extension ConnectorsV1 {
    /// `connectors.v1.GetResponse`.
    public struct GetResponse: Sendable, Hashable {
        public var connector: Connector

        public init(connector: Connector = Connector()) {
            self.connector = connector
        }
    }
}

extension ConnectorsV1.GetResponse: ProtoMessage {
    public init(decoding bytes: UnsafeRawBufferPointer) throws(ProtobufDecodingError) {
        self = try unpackProtobufC(
            bytes, "GetResponse", unpack: connectors__v1__get_response__unpack, free: connectors__v1__get_response__free_unpacked
        ) { c throws(ProtobufDecodingError) in
            ConnectorsV1.GetResponse(
                connector: try ConnectorsV1.Connector.from(c.connector))
        }
    }

    public func encode<Result>(_ write: (Int, (UnsafeMutableRawPointer) -> Void) -> Result) -> Result {
        withCArena { arena in
            let c = arena.make(Connectors__V1__GetResponse.self, connectors__v1__get_response__init)
            c.pointee.connector = connector.build(&arena)
            return packProtobufC(c, write: write)
        }
    }
}
