import CProto
public import ProtobufCKit

extension ConnectorsV1 {
    /// `connectors.v1.Connector`: a registered connector as callers see it.
    /// Never carries the secret; `hasSecret` says whether one is stored.
    public struct Connector: Sendable, Hashable {
        public var id: UInt64 = 0
        public var name = ""
        public var description = ""
        public var url = ""
        public var mode = ConnectorMode.unspecified
        public var version = ""
        public var logoURL = ""
        public var hasLogo = false
        public var hasSecret = false
        public var toolsCount: UInt32 = 0
        public var templatesCount: UInt32 = 0
        public var toolsJSON = ""
        public var templatesJSON = ""
        public var serverConfigJSON = ""
        /// RFC 3339, UTC, microseconds.
        public var createdAt = ""
        public var updatedAt = ""

        public init() {}

        public init(id: UInt64, name: String) {
            self.id = id
            self.name = name
        }
    }
}

extension ConnectorsV1.Connector {
    init(_ c: Connectors__V1__Connector) throws(ProtobufDecodingError) {
        id = c.id
        name = try String(protobufC: c.name, field: "connector.name")
        description = try String(protobufC: c.description, field: "connector.description")
        url = try String(protobufC: c.url, field: "connector.url")
        mode = ConnectorsV1.ConnectorMode(c.mode)
        version = try String(protobufC: c.version, field: "connector.version")
        logoURL = try String(protobufC: c.logo_url, field: "connector.logo_url")
        hasLogo = c.has_logo != 0
        hasSecret = c.has_secret != 0
        toolsCount = c.tools_count
        templatesCount = c.templates_count
        toolsJSON = try String(protobufC: c.tools_json, field: "connector.tools_json")
        templatesJSON = try String(protobufC: c.templates_json, field: "connector.templates_json")
        serverConfigJSON = try String(protobufC: c.server_config_json, field: "connector.server_config_json")
        createdAt = try String(protobufC: c.created_at, field: "connector.created_at")
        updatedAt = try String(protobufC: c.updated_at, field: "connector.updated_at")
    }

    /// Decodes an optional nested connector; absent decodes as empty.
    static func from(_ c: UnsafeMutablePointer<Connectors__V1__Connector>?) throws(ProtobufDecodingError) -> Self {
        guard let c else { return Self() }
        return try Self(c.pointee)
    }

    func build(_ arena: inout CArena) -> UnsafeMutablePointer<Connectors__V1__Connector> {
        let c = arena.make(Connectors__V1__Connector.self, connectors__v1__connector__init)
        c.pointee.id = id
        c.pointee.name = arena.cString(name)
        c.pointee.description = arena.cString(description)
        c.pointee.url = arena.cString(url)
        c.pointee.mode = mode.c
        c.pointee.version = arena.cString(version)
        c.pointee.logo_url = arena.cString(logoURL)
        c.pointee.has_logo = hasLogo ? 1 : 0
        c.pointee.has_secret = hasSecret ? 1 : 0
        c.pointee.tools_count = toolsCount
        c.pointee.templates_count = templatesCount
        c.pointee.tools_json = arena.cString(toolsJSON)
        c.pointee.templates_json = arena.cString(templatesJSON)
        c.pointee.server_config_json = arena.cString(serverConfigJSON)
        c.pointee.created_at = arena.cString(createdAt)
        c.pointee.updated_at = arena.cString(updatedAt)
        return c
    }
}

extension ConnectorsV1.Connector: ProtoMessage {
    public init(decoding bytes: UnsafeRawBufferPointer) throws(ProtobufDecodingError) {
        self = try unpackProtobufC(
            bytes, "Connector", unpack: connectors__v1__connector__unpack, free: connectors__v1__connector__free_unpacked
        ) { c throws(ProtobufDecodingError) in try Self(c) }
    }

    public func encode<Result>(_ write: (Int, (UnsafeMutableRawPointer) -> Void) -> Result) -> Result {
        withCArena { arena in packProtobufC(build(&arena), write: write) }
    }
}
