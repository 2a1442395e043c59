import CProto
public import ProtobufCKit

extension ConnectorsV1 {
    /// `connectors.v1.GetLogoRequest`.
    public struct GetLogoRequest: Sendable, Hashable {
        public var connectorID: UInt64

        public init(connectorID: UInt64 = 0) {
            self.connectorID = connectorID
        }
    }
}

extension ConnectorsV1.GetLogoRequest: ProtoMessage {
    public init(decoding bytes: UnsafeRawBufferPointer) throws(ProtobufDecodingError) {
        self = try unpackProtobufC(
            bytes, "GetLogoRequest", unpack: connectors__v1__get_logo_request__unpack, free: connectors__v1__get_logo_request__free_unpacked
        ) { c throws(ProtobufDecodingError) in
            ConnectorsV1.GetLogoRequest(
                connectorID: c.connector_id)
        }
    }

    public func encode<Result>(_ write: (Int, (UnsafeMutableRawPointer) -> Void) -> Result) -> Result {
        withCArena { arena in
            let c = arena.make(Connectors__V1__GetLogoRequest.self, connectors__v1__get_logo_request__init)
            c.pointee.connector_id = connectorID
            return packProtobufC(c, write: write)
        }
    }
}

extension ConnectorsV1 {
    /// `connectors.v1.GetLogoResponse`: a stored logo.
    public struct GetLogoResponse: Sendable, Hashable {
        /// `image/png`, `image/jpeg`, `image/gif`, `image/webp` or `image/svg+xml`.
        public var contentType: String
        public var data: [UInt8]

        public init(contentType: String = "", data: [UInt8] = []) {
            self.contentType = contentType
            self.data = data
        }
    }
}

extension ConnectorsV1.GetLogoResponse: ProtoMessage {
    public init(decoding bytes: UnsafeRawBufferPointer) throws(ProtobufDecodingError) {
        self = try unpackProtobufC(
            bytes, "GetLogoResponse", unpack: connectors__v1__get_logo_response__unpack, free: connectors__v1__get_logo_response__free_unpacked
        ) { c throws(ProtobufDecodingError) in
            ConnectorsV1.GetLogoResponse(
                contentType: try String(protobufC: c.content_type, field: "content_type"),
                data: c.data.withBytes { [UInt8]($0) })
        }
    }

    public func encode<Result>(_ write: (Int, (UnsafeMutableRawPointer) -> Void) -> Result) -> Result {
        withCArena { arena in
            let c = arena.make(Connectors__V1__GetLogoResponse.self, connectors__v1__get_logo_response__init)
            c.pointee.content_type = arena.cString(contentType)
            c.pointee.data = arena.binary(data)
            return packProtobufC(c, write: write)
        }
    }
}
