import CProto
public import ProtobufCKit

extension ConnectorsV1 {
    /// `connectors.v1.SetModeRequest`: a manual mode change.
    public struct SetModeRequest: Sendable, Hashable {
        public var connectorID: UInt64
        /// `.sync`, `.active` or `.deactive`.
        public var mode: ConnectorMode

        public init(connectorID: UInt64 = 0, mode: ConnectorMode = .unspecified) {
            self.connectorID = connectorID
            self.mode = mode
        }
    }
}

extension ConnectorsV1.SetModeRequest: ProtoMessage {
    public init(decoding bytes: UnsafeRawBufferPointer) throws(ProtobufDecodingError) {
        self = try unpackProtobufC(
            bytes, "SetModeRequest", unpack: connectors__v1__set_mode_request__unpack, free: connectors__v1__set_mode_request__free_unpacked
        ) { c throws(ProtobufDecodingError) in
            ConnectorsV1.SetModeRequest(
                connectorID: c.connector_id,
                mode: ConnectorsV1.ConnectorMode(c.mode))
        }
    }

    public func encode<Result>(_ write: (Int, (UnsafeMutableRawPointer) -> Void) -> Result) -> Result {
        withCArena { arena in
            let c = arena.make(Connectors__V1__SetModeRequest.self, connectors__v1__set_mode_request__init)
            c.pointee.connector_id = connectorID
            c.pointee.mode = mode.c
            return packProtobufC(c, write: write)
        }
    }
}

extension ConnectorsV1 {
    /// `connectors.v1.SetModeResponse`.
    public struct SetModeResponse: Sendable, Hashable {
        public var connector: Connector

        public init(connector: Connector = Connector()) {
            self.connector = connector
        }
    }
}

extension ConnectorsV1.SetModeResponse: ProtoMessage {
    public init(decoding bytes: UnsafeRawBufferPointer) throws(ProtobufDecodingError) {
        self = try unpackProtobufC(
            bytes, "SetModeResponse", unpack: connectors__v1__set_mode_response__unpack, free: connectors__v1__set_mode_response__free_unpacked
        ) { c throws(ProtobufDecodingError) in
            ConnectorsV1.SetModeResponse(
                connector: try ConnectorsV1.Connector.from(c.connector))
        }
    }

    public func encode<Result>(_ write: (Int, (UnsafeMutableRawPointer) -> Void) -> Result) -> Result {
        withCArena { arena in
            let c = arena.make(Connectors__V1__SetModeResponse.self, connectors__v1__set_mode_response__init)
            c.pointee.connector = connector.build(&arena)
            return packProtobufC(c, write: write)
        }
    }
}
