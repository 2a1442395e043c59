import CProto
public import ProtobufCKit

extension ConnectorsV1 {
    /// `connectors.v1.ListRequest`: one page of connectors by ascending id.
    public struct ListRequest: Sendable, Hashable {
        /// `.unspecified` lists every mode.
        public var mode: ConnectorMode
        /// 0 for the default (100); at most 1,000.
        public var pageSize: UInt32
        /// Empty for the first page, else the previous page's `nextPageToken`.
        public var pageToken: String

        public init(mode: ConnectorMode = .unspecified, pageSize: UInt32 = 0, pageToken: String = "") {
            self.mode = mode
            self.pageSize = pageSize
            self.pageToken = pageToken
        }
    }
}

extension ConnectorsV1.ListRequest: ProtoMessage {
    public init(decoding bytes: UnsafeRawBufferPointer) throws(ProtobufDecodingError) {
        self = try unpackProtobufC(
            bytes, "ListRequest", unpack: connectors__v1__list_request__unpack, free: connectors__v1__list_request__free_unpacked
        ) { c throws(ProtobufDecodingError) in
            ConnectorsV1.ListRequest(
                mode: ConnectorsV1.ConnectorMode(c.mode),
                pageSize: c.page_size,
                pageToken: try String(protobufC: c.page_token, field: "page_token"))
        }
    }

    public func encode<Result>(_ write: (Int, (UnsafeMutableRawPointer) -> Void) -> Result) -> Result {
        withCArena { arena in
            let c = arena.make(Connectors__V1__ListRequest.self, connectors__v1__list_request__init)
            c.pointee.mode = mode.c
            c.pointee.page_size = pageSize
            c.pointee.page_token = arena.cString(pageToken)
            return packProtobufC(c, write: write)
        }
    }
}

extension ConnectorsV1 {
    /// `connectors.v1.ListResponse`.
    public struct ListResponse: Sendable, Hashable {
        public var connectors: [Connector]
        /// Empty on the last page.
        public var nextPageToken: String

        public init(connectors: [Connector] = [], nextPageToken: String = "") {
            self.connectors = connectors
            self.nextPageToken = nextPageToken
        }
    }
}

extension ConnectorsV1.ListResponse: ProtoMessage {
    public init(decoding bytes: UnsafeRawBufferPointer) throws(ProtobufDecodingError) {
        self = try unpackProtobufC(
            bytes, "ListResponse", unpack: connectors__v1__list_response__unpack, free: connectors__v1__list_response__free_unpacked
        ) { c throws(ProtobufDecodingError) in
            ConnectorsV1.ListResponse(
                connectors: try (0..<c.n_connectors).map { index throws(ProtobufDecodingError) in try ConnectorsV1.Connector.from(c.connectors[index]) },
                nextPageToken: try String(protobufC: c.next_page_token, field: "next_page_token"))
        }
    }

    public func encode<Result>(_ write: (Int, (UnsafeMutableRawPointer) -> Void) -> Result) -> Result {
        withCArena { arena in
            let c = arena.make(Connectors__V1__ListResponse.self, connectors__v1__list_response__init)
            c.pointee.n_connectors = connectors.count
            c.pointee.connectors = arena.pointerArray(connectors.map { $0.build(&arena) })
            c.pointee.next_page_token = arena.cString(nextPageToken)
            return packProtobufC(c, write: write)
        }
    }
}
