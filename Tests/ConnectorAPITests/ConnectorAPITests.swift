import ConnectorAPI
import ProtobufCKit
import Testing

/// Encodes and decodes `message`; the result must equal the original.
private func roundTrip<M: ProtoMessage>(_ message: M, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let bytes = message.serializedBytes()
    let decoded = try M(serializedBytes: bytes)
    #expect(decoded == message, sourceLocation: sourceLocation)
    // Encoding is deterministic.
    #expect(decoded.serializedBytes() == bytes, sourceLocation: sourceLocation)
}

/// A connector with every field set to something other than its default.
private func fullConnector(_ id: UInt64 = 42) -> ConnectorsV1.Connector {
    var connector = ConnectorsV1.Connector(id: id, name: "connector-\(id)")
    connector.description = "Everything set: ünïcödé, 中文, emoji 🚀, quotes \" and \\ backslash\nnewline"
    connector.url = "https://connectors.example.com/\(id)/connector.json?x=1&y=2"
    connector.mode = .active
    connector.version = "2.10.0-beta.1"
    connector.logoURL = "https://connectors.example.com/\(id)/logo.svg"
    connector.hasLogo = true
    connector.hasSecret = true
    connector.toolsCount = UInt32.max
    connector.templatesCount = 7
    connector.toolsJSON = #"[{"name":"search","input":{"type":"object"}}]"#
    connector.templatesJSON = #"[{"name":"t"}]"#
    connector.serverConfigJSON = #"{"timeout":30}"#
    connector.createdAt = "2025-10-13T20:00:00.000000Z"
    connector.updatedAt = "2025-10-13T20:00:00.123456Z"
    return connector
}

@Suite("connectors.v1 messages")
struct ConnectorAPITests {
    @Test("service and method names")
    func names() {
        #expect(ConnectorsV1.serviceName == "connectors.v1.ConnectorRegistry")
        #expect(
            ConnectorsV1.Method.allCases.map(\.rawValue)
                == [
                    "Register", "Activate", "List", "Get", "SetMode", "Delete", "GetLogo", "Create", "Watch", "ListChanges",
                    "GetHistory", "VerifyHistory",
                ])
    }

    @Test("connector modes: numbers and names")
    func modes() {
        #expect(ConnectorsV1.ConnectorMode.unspecified.rawValue == 0)
        #expect(ConnectorsV1.ConnectorMode.sync.rawValue == 1)
        #expect(ConnectorsV1.ConnectorMode.active.rawValue == 2)
        #expect(ConnectorsV1.ConnectorMode.deactive.rawValue == 3)
        #expect(ConnectorsV1.ConnectorMode.unspecified.description == "CONNECTOR_MODE_UNSPECIFIED")
        #expect(ConnectorsV1.ConnectorMode.sync.description == "CONNECTOR_MODE_SYNC")
        #expect(ConnectorsV1.ConnectorMode.active.description == "CONNECTOR_MODE_ACTIVE")
        #expect(ConnectorsV1.ConnectorMode.deactive.description == "CONNECTOR_MODE_DEACTIVE")
        #expect(ConnectorsV1.ConnectorMode(rawValue: 9).description == "CONNECTOR_MODE_9")
    }

    @Test("Connector round-trips, empty and full")
    func connector() throws {
        try roundTrip(ConnectorsV1.Connector())
        try roundTrip(fullConnector())
        var extremes = fullConnector(.max)
        extremes.toolsCount = 0
        extremes.templatesCount = .max
        extremes.hasLogo = false
        try roundTrip(extremes)
    }

    @Test("every mode, and a number this version does not know, round-trip")
    func modeValues() throws {
        for raw: Int32 in [0, 1, 2, 3, 4, 42, .max] {
            var connector = fullConnector()
            connector.mode = ConnectorsV1.ConnectorMode(rawValue: raw)
            try roundTrip(connector)
            try roundTrip(ConnectorsV1.ListRequest(mode: .init(rawValue: raw), pageSize: 1, pageToken: ""))
            try roundTrip(ConnectorsV1.SetModeRequest(connectorID: 1, mode: .init(rawValue: raw)))
        }
    }

    @Test("Register request and response")
    func register() throws {
        try roundTrip(ConnectorsV1.RegisterRequest())
        try roundTrip(ConnectorsV1.RegisterRequest(name: "weather_v2.0-x", description: String(repeating: "d", count: 4096), secret: "s3cr3t ✓"))
        try roundTrip(ConnectorsV1.RegisterResponse())
        try roundTrip(
            ConnectorsV1.RegisterResponse(
                connector: fullConnector(), message: "Connector 'connector-42' registered successfully",
                nextStep: "Activate it with its connector URL"))
    }

    @Test("Activate request and response")
    func activate() throws {
        try roundTrip(ConnectorsV1.ActivateRequest())
        try roundTrip(ConnectorsV1.ActivateRequest(connectorID: .max, connectorURL: "http://127.0.0.1:8080/connector.json"))
        try roundTrip(ConnectorsV1.ActivateResponse())
        try roundTrip(ConnectorsV1.ActivateResponse(connector: fullConnector(), message: "Connector 'x' activated successfully"))
    }

    @Test("List request and response")
    func list() throws {
        try roundTrip(ConnectorsV1.ListRequest())
        try roundTrip(ConnectorsV1.ListRequest(mode: .deactive, pageSize: 1000, pageToken: "eyJpZCI6MTAwfQ=="))
        try roundTrip(ConnectorsV1.ListResponse())
        try roundTrip(ConnectorsV1.ListResponse(connectors: [ConnectorsV1.Connector()], nextPageToken: ""))
        try roundTrip(ConnectorsV1.ListResponse(connectors: [fullConnector(1), ConnectorsV1.Connector(), fullConnector(3)], nextPageToken: "t"))
    }

    @Test("a ListResponse of 1,000 connectors round-trips, in order")
    func largeList() throws {
        let connectors = (1...1000).map { fullConnector(UInt64($0)) }
        let response = ConnectorsV1.ListResponse(connectors: connectors, nextPageToken: "next-page")
        let bytes = response.serializedBytes()
        #expect(bytes.count > 1000 * 300)
        let decoded = try ConnectorsV1.ListResponse(serializedBytes: bytes)
        #expect(decoded.connectors.count == 1000)
        #expect(decoded.connectors.map(\.id) == Array(1...1000))
        #expect(decoded == response)
    }

    @Test("Get request and response")
    func get() throws {
        try roundTrip(ConnectorsV1.GetRequest())
        try roundTrip(ConnectorsV1.GetRequest(connectorID: 123_456_789_012))
        try roundTrip(ConnectorsV1.GetResponse())
        try roundTrip(ConnectorsV1.GetResponse(connector: fullConnector()))
    }

    @Test("SetMode request and response")
    func setMode() throws {
        try roundTrip(ConnectorsV1.SetModeRequest())
        try roundTrip(ConnectorsV1.SetModeRequest(connectorID: 5, mode: .sync))
        try roundTrip(ConnectorsV1.SetModeResponse())
        try roundTrip(ConnectorsV1.SetModeResponse(connector: fullConnector()))
    }

    @Test("Delete request and response")
    func delete() throws {
        try roundTrip(ConnectorsV1.DeleteRequest())
        try roundTrip(ConnectorsV1.DeleteRequest(connectorID: 5))
        try roundTrip(ConnectorsV1.DeleteResponse())
        try roundTrip(ConnectorsV1.DeleteResponse(connectorID: 5, message: "Connector 'x' deleted successfully"))
    }

    @Test("GetLogo request and response, binary data intact")
    func getLogo() throws {
        try roundTrip(ConnectorsV1.GetLogoRequest())
        try roundTrip(ConnectorsV1.GetLogoRequest(connectorID: 5))
        try roundTrip(ConnectorsV1.GetLogoResponse())
        try roundTrip(ConnectorsV1.GetLogoResponse(contentType: "image/png", data: Array(0...255) + [0, 0, 0]))
        let large = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try roundTrip(ConnectorsV1.GetLogoResponse(contentType: "image/svg+xml", data: large))
    }

    @Test("Create (deprecated) request and response")
    func create() throws {
        try roundTrip(ConnectorsV1.CreateRequest())
        try roundTrip(ConnectorsV1.CreateRequest(connectorURL: "https://x/connector.json", secret: "s"))
        try roundTrip(ConnectorsV1.CreateResponse())
        try roundTrip(ConnectorsV1.CreateResponse(connector: fullConnector(), message: "created"))
    }

    @Test("empty messages encode to zero bytes, and zero bytes decode to empty messages")
    func emptyMessages() throws {
        #expect(ConnectorsV1.Connector().serializedBytes() == [])
        #expect(ConnectorsV1.RegisterRequest().serializedBytes() == [])
        #expect(ConnectorsV1.ListRequest().serializedBytes() == [])
        #expect(ConnectorsV1.ListResponse().serializedBytes() == [])
        #expect(ConnectorsV1.GetLogoResponse().serializedBytes() == [])
        #expect(ConnectorsV1.DeleteResponse().serializedBytes() == [])
        #expect(try ConnectorsV1.GetResponse(serializedBytes: []) == ConnectorsV1.GetResponse())
        #expect(try ConnectorsV1.ListResponse(serializedBytes: []) == ConnectorsV1.ListResponse())
        #expect(try ConnectorsV1.Connector(serializedBytes: []) == ConnectorsV1.Connector())
    }

    // MARK: Wire compatibility: field numbers as in proto/connectors/v1/connectors.proto

    @Test("hand-encoded messages decode with the proto's field numbers")
    func fieldNumbers() throws {
        // GetRequest { connector_id (1): 300 }
        #expect(try ConnectorsV1.GetRequest(serializedBytes: [0x08, 0xAC, 0x02]).connectorID == 300)
        #expect(ConnectorsV1.GetRequest(connectorID: 300).serializedBytes() == [0x08, 0xAC, 0x02])
        // SetModeRequest { connector_id (1): 1, mode (2): ACTIVE }
        #expect(try ConnectorsV1.SetModeRequest(serializedBytes: [0x08, 0x01, 0x10, 0x02]) == .init(connectorID: 1, mode: .active))
        // ListRequest { mode (1): SYNC, page_size (2): 5, page_token (3): "t" }
        #expect(
            try ConnectorsV1.ListRequest(serializedBytes: [0x08, 0x01, 0x10, 0x05, 0x1A, 0x01, 0x74])
                == .init(mode: .sync, pageSize: 5, pageToken: "t"))
        // RegisterRequest { name (1): "n", description (2): "d", secret (3): "s" }
        #expect(
            try ConnectorsV1.RegisterRequest(serializedBytes: [0x0A, 0x01, 0x6E, 0x12, 0x01, 0x64, 0x1A, 0x01, 0x73])
                == .init(name: "n", description: "d", secret: "s"))
        // Connector { id (1): 1, mode (5): DEACTIVE, has_logo (8): true, tools_count (10): 2,
        //             updated_at (16): "u" }
        let connectorBytes: [UInt8] = [0x08, 0x01, 0x28, 0x03, 0x40, 0x01, 0x50, 0x02, 0x82, 0x01, 0x01, 0x75]
        let connector = try ConnectorsV1.Connector(serializedBytes: connectorBytes)
        #expect(connector.id == 1)
        #expect(connector.mode == .deactive)
        #expect(connector.hasLogo)
        #expect(connector.toolsCount == 2)
        #expect(connector.updatedAt == "u")
        // ListResponse { connectors (1): [that], next_page_token (2): "p" }
        let list: [UInt8] = [0x0A, UInt8(connectorBytes.count)] + connectorBytes + [0x12, 0x01, 0x70]
        let decoded = try ConnectorsV1.ListResponse(serializedBytes: list)
        #expect(decoded.connectors == [connector])
        #expect(decoded.nextPageToken == "p")
        // GetLogoResponse { content_type (1): "a", data (2): [0, 255] }
        #expect(
            try ConnectorsV1.GetLogoResponse(serializedBytes: [0x0A, 0x01, 0x61, 0x12, 0x02, 0x00, 0xFF])
                == .init(contentType: "a", data: [0, 255]))
    }

    @Test("unknown fields are skipped")
    func unknownFields() throws {
        // GetRequest { connector_id: 7, field 99 (varint): 1, field 100 (bytes): "zz" }
        let bytes: [UInt8] = [0x08, 0x07, 0x98, 0x06, 0x01, 0xA2, 0x06, 0x02, 0x7A, 0x7A]
        #expect(try ConnectorsV1.GetRequest(serializedBytes: bytes).connectorID == 7)
    }

    @Test("strings that are not UTF-8 are rejected")
    func invalidUTF8() {
        for bad: [UInt8] in [[0xFF, 0xFE], [0xC0, 0x80], [0xE2, 0x28, 0xA1]] {
            #expect(throws: ProtobufDecodingError.self) {
                _ = try ConnectorsV1.RegisterRequest(serializedBytes: [0x0A, UInt8(bad.count)] + bad)
            }
            #expect(throws: ProtobufDecodingError.self) {
                _ = try ConnectorsV1.GetLogoResponse(serializedBytes: [0x0A, UInt8(bad.count)] + bad)
            }
            #expect(throws: ProtobufDecodingError.self) {
                _ = try ConnectorsV1.DeleteResponse(serializedBytes: [0x08, 0x01, 0x12, UInt8(bad.count)] + bad)
            }
        }
        // Non-UTF-8 in a bytes field is fine.
        #expect(throws: Never.self) {
            let logo = try ConnectorsV1.GetLogoResponse(serializedBytes: [0x12, 0x02, 0xFF, 0xFE])
            #expect(logo.data == [0xFF, 0xFE])
        }
    }

    @Test("truncated encodings fail with ProtobufDecodingError or decode, never crash")
    func truncations() {
        let bytes = ConnectorsV1.ListResponse(connectors: [fullConnector(1), fullConnector(2)], nextPageToken: "x").serializedBytes()
        var failures = 0
        for cut in 0..<bytes.count {
            do {
                _ = try ConnectorsV1.ListResponse(serializedBytes: Array(bytes[..<cut]))
            } catch {
                failures += 1
            }
        }
        #expect(failures > bytes.count / 2)
    }
}
