import CProto
public import ProtobufCKit

extension ConnectorsV1 {
    /// `connectors.v1.DeleteRequest`.
    public struct DeleteRequest: Sendable, Hashable {
        public var connectorID: UInt64

        public init(connectorID: UInt64 = 0) {
            self.connectorID = connectorID
        }
    }
}

extension ConnectorsV1.DeleteRequest: ProtoMessage {
    public init(decoding bytes: UnsafeRawBufferPointer) throws(ProtobufDecodingError) {
        self = try unpackProtobufC(
            bytes, "DeleteRequest", unpack: connectors__v1__delete_request__unpack, free: connectors__v1__delete_request__free_unpacked
        ) { c throws(ProtobufDecodingError) in
            ConnectorsV1.DeleteRequest(
                connectorID: c.connector_id)
        }
    }

    public func encode<Result>(_ write: (Int, (UnsafeMutableRawPointer) -> Void) -> Result) -> Result {
        withCArena { arena in
            let c = arena.make(Connectors__V1__DeleteRequest.self, connectors__v1__delete_request__init)
            c.pointee.connector_id = connectorID
            return packProtobufC(c, write: write)
        }
    }
}

extension ConnectorsV1 {
    /// `connectors.v1.DeleteResponse`.
    public struct DeleteResponse: Sendable, Hashable {
        public var connectorID: UInt64
        /// `Connector 'NAME' deleted successfully`
        public var message: String

        public init(connectorID: UInt64 = 0, message: String = "") {
            self.connectorID = connectorID
            self.message = message
        }
    }
}

extension ConnectorsV1.DeleteResponse: ProtoMessage {
    public init(decoding bytes: UnsafeRawBufferPointer) throws(ProtobufDecodingError) {
        self = try unpackProtobufC(
            bytes, "DeleteResponse", unpack: connectors__v1__delete_response__unpack, free: connectors__v1__delete_response__free_unpacked
        ) { c throws(ProtobufDecodingError) in
            ConnectorsV1.DeleteResponse(
                connectorID: c.connector_id,
                message: try String(protobufC: c.message, field: "message"))
        }
    }

    public func encode<Result>(_ write: (Int, (UnsafeMutableRawPointer) -> Void) -> Result) -> Result {
        withCArena { arena in
            let c = arena.make(Connectors__V1__DeleteResponse.self, connectors__v1__delete_response__init)
            c.pointee.connector_id = connectorID
            c.pointee.message = arena.cString(message)
            return packProtobufC(c, write: write)
        }
    }
}
