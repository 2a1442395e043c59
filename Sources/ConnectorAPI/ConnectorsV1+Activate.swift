import CProto
public import ProtobufCKit

extension ConnectorsV1 {
    /// `connectors.v1.ActivateRequest`: step 2, fetch the schema and set mode `active`.
    public struct ActivateRequest: Sendable, Hashable {
        public var connectorID: UInt64
        /// http or https URL of the connector's connector.json.
        public var connectorURL: String

        public init(connectorID: UInt64 = 0, connectorURL: String = "") {
            self.connectorID = connectorID
            self.connectorURL = connectorURL
        }
    }
}

extension ConnectorsV1.ActivateRequest: ProtoMessage {
    public init(decoding bytes: UnsafeRawBufferPointer) throws(ProtobufDecodingError) {
        self = try unpackProtobufC(
            bytes, "ActivateRequest", unpack: connectors__v1__activate_request__unpack, free: connectors__v1__activate_request__free_unpacked
        ) { c throws(ProtobufDecodingError) in
            ConnectorsV1.ActivateRequest(
                connectorID: c.connector_id,
                connectorURL: try String(protobufC: c.connector_url, field: "connector_url"))
        }
    }

    public func encode<Result>(_ write: (Int, (UnsafeMutableRawPointer) -> Void) -> Result) -> Result {
        withCArena { arena in
            let c = arena.make(Connectors__V1__ActivateRequest.self, connectors__v1__activate_request__init)
            c.pointee.connector_id = connectorID
            c.pointee.connector_url = arena.cString(connectorURL)
            return packProtobufC(c, write: write)
        }
    }
}

extension ConnectorsV1 {
    /// `connectors.v1.ActivateResponse`.
    public struct ActivateResponse: Sendable, Hashable {
        public var connector: Connector
        /// `Connector 'NAME' activated successfully`, plus a note if the logo failed.
        public var message: String

        public init(connector: Connector = Connector(), message: String = "") {
            self.connector = connector
            self.message = message
        }
    }
}

extension ConnectorsV1.ActivateResponse: ProtoMessage {
    public init(decoding bytes: UnsafeRawBufferPointer) throws(ProtobufDecodingError) {
        self = try unpackProtobufC(
            bytes, "ActivateResponse", unpack: connectors__v1__activate_response__unpack, free: connectors__v1__activate_response__free_unpacked
        ) { c throws(ProtobufDecodingError) in
            ConnectorsV1.ActivateResponse(
                connector: try ConnectorsV1.Connector.from(c.connector),
                message: try String(protobufC: c.message, field: "message"))
        }
    }

    public func encode<Result>(_ write: (Int, (UnsafeMutableRawPointer) -> Void) -> Result) -> Result {
        withCArena { arena in
            let c = arena.make(Connectors__V1__ActivateResponse.self, connectors__v1__activate_response__init)
            c.pointee.connector = connector.build(&arena)
            c.pointee.message = arena.cString(message)
            return packProtobufC(c, write: write)
        }
    }
}
