import ConnectorAPI
import ConnectorClient
import ConnectorServer
import NIOCore
import SampleConnectorKit
import TTRPC
import TestSupport
import Testing

/// Every error of the seed (and of the issue) reaches the caller through the
/// wire with its status code and message.
@Suite(.timeLimit(.minutes(5)))
struct ErrorMappingTests {
    static var routes: [String: FixtureRoute] {
        var routes = SampleConnector.routes
        routes["/array.json"] = .json("[1, 2, 3]")
        routes["/not-json.json"] = .respond(headers: ["Content-Type": "text/plain"], body: Array("hello".utf8))
        routes["/nameless-tool.json"] = .json(#"{"name": "x", "version": "1.0.0", "tools": [{"description": "no name"}]}"#)
        routes["/duplicate-tools.json"] = .json(
            #"{"name": "x", "version": "1.0.0", "tools": [{"name": "a"}, {"name": "a"}]}"#)
        routes["/server-error.json"] = .json("{}", status: 500)
        routes["/nameless.json"] = .json(#"{"version": "1.0.0", "tools": []}"#)
        return routes
    }

    @Test func duplicateNameIsAlreadyExists() async throws {
        try await withDaemon { running, _ in
            let client = running.client
            _ = try await client.register(name: "x", description: "first")
            await expectRPCError(.alreadyExists, "Connector with name 'x' already exists") {
                try await client.register(name: "x", description: "second")
            }
            // Names are unique case-insensitively; the message names what was asked.
            await expectRPCError(.alreadyExists, "Connector with name 'X' already exists") {
                try await client.register(name: "X", description: "third")
            }
            #expect(try await client.list().connectors.count == 1)
        }
    }

    @Test func unknownIDIsNotFoundForEveryMethod() async throws {
        try await withDaemon { running, _ in
            try await FixtureHTTPServer.with(routes: Self.routes) { server in
                let client = running.client
                let message = "Connector with ID 99 not found"
                await expectRPCError(.notFound, message) { try await client.get(id: 99) }
                await expectRPCError(.notFound, message) { try await client.activate(id: 99, url: server.url("/connector.json")) }
                await expectRPCError(.notFound, message) { try await client.setMode(id: 99, mode: .sync) }
                await expectRPCError(.notFound, message) { try await client.delete(id: 99) }
                await expectRPCError(.notFound, message) { try await client.logo(id: 99) }
                #expect(server.hitCount("/connector.json") == 0, "nothing is fetched for an unknown id")
            }
        }
    }

    @Test func idsBeyondInt64AreNotFound() async throws {
        try await withDaemon { running, _ in
            let client = running.client
            for id in [UInt64(Int64.max) + 1, UInt64.max] {
                let message = "Connector with ID \(id) not found"
                await expectRPCError(.notFound, message) { try await client.get(id: id) }
                await expectRPCError(.notFound, message) { try await client.logo(id: id) }
                await expectRPCError(.notFound, message) { try await client.setMode(id: id, mode: .deactive) }
                await expectRPCError(.notFound, message) { try await client.delete(id: id) }
                await expectRPCError(.notFound, message) { try await client.activate(id: id, url: "http://127.0.0.1:1/c.json") }
            }
            // Int64.max itself is a valid id that does not exist.
            await expectRPCError(.notFound, "Connector with ID \(Int64.max) not found") {
                try await client.get(id: UInt64(Int64.max))
            }
        }
    }

    @Test func activationFetchFailures() async throws {
        try await withDaemon { running, _ in
            try await FixtureHTTPServer.with(routes: Self.routes) { server in
                let client = running.client
                let id = try await client.register(name: "fetched", description: "fetch failures").connector.id

                // Refused.
                let refusing = try RefusingPort()
                defer { refusing.close() }
                let port = refusing.port
                let refused = await expectRPCError(.unavailable) {
                    try await client.activate(id: id, url: "http://127.0.0.1:\(port)/connector.json")
                }
                #expect(refused?.message.hasPrefix("Failed to connect to connector URL: ") == true, "\(refused?.message ?? "")")

                // Non-200.
                await expectRPCError(.failedPrecondition, "Failed to fetch connector schema from URL. Status: 404") {
                    try await client.activate(id: id, url: server.url("/missing.json"))
                }
                await expectRPCError(.failedPrecondition, "Failed to fetch connector schema from URL. Status: 500") {
                    try await client.activate(id: id, url: server.url("/server-error.json"))
                }

                // Invalid schemas, reported with a JSON path.
                for path in ["/array.json", "/not-json.json", "/nameless-tool.json", "/duplicate-tools.json"] {
                    let error = await expectRPCError(.failedPrecondition) {
                        try await client.activate(id: id, url: server.url(path))
                    }
                    #expect(error?.message.hasPrefix("Invalid connector schema: $") == true, "\(path): \(error?.message ?? "")")
                }
                let nameless = await expectRPCError(.failedPrecondition) {
                    try await client.activate(id: id, url: server.url("/nameless-tool.json"))
                }
                #expect(nameless?.message.contains("tools[0]") == true, "\(nameless?.message ?? "")")

                // After all those failures the connector is untouched.
                let after = try await client.get(id: id)
                #expect(after.mode == .deactive)
                #expect(after.version == "0.0.0")
                #expect(after.url == "")
            }
        }
    }

    @Test func malformedFieldsAreInvalidArgument() async throws {
        try await withDaemon { running, _ in
            let client = running.client
            // Names.
            let empty = await expectRPCError(.invalidArgument) { try await client.register(name: "", description: "d") }
            #expect(empty?.message.hasPrefix("A connector name is required") == true)
            for name in ["-leading-dash", "has space", "semi;colon", String(repeating: "a", count: 65), "ünïcode"] {
                let error = await expectRPCError(.invalidArgument) { try await client.register(name: name, description: "d") }
                #expect(error?.message.hasPrefix("Invalid connector name") == true, "\(name): \(error?.message ?? "")")
            }
            _ = try await client.register(name: String(repeating: "a", count: 64), description: "64 is fine")
            // Description.
            await expectRPCError(.invalidArgument, "A description is required") { try await client.register(name: "ok", description: "") }
            await expectRPCError(.invalidArgument, "A description is required") { try await client.register(name: "ok", description: "  \n") }
            await expectRPCError(.invalidArgument) {
                try await client.register(name: "ok", description: String(repeating: "d", count: 4097))
            }
            // Secret.
            await expectRPCError(.invalidArgument) {
                try await client.register(name: "ok", description: "d", secret: String(repeating: "s", count: 4097))
            }
            #expect(try await client.list().connectors.count == 1, "nothing invalid was stored")

            // URLs.
            let id = try await client.register(name: "ok", description: "d").connector.id
            for url in ["", "not a url", "ftp://127.0.0.1/connector.json", "file:///etc/passwd", "http://",
                "http://127.0.0.1/" + String(repeating: "a", count: 2048)]
            {
                let error = await expectRPCError(.invalidArgument) { try await client.activate(id: id, url: url) }
                #expect(error?.message.hasPrefix("Invalid connector URL") == true, "\(url.prefix(40)): \(error?.message ?? "")")
            }
            let createError = await expectRPCError(.invalidArgument) { try await client.create(url: "gopher://x/y") }
            #expect(createError?.message.hasPrefix("Invalid connector URL") == true)
        }
    }

    @Test func modesAndPagingArguments() async throws {
        try await withDaemon { running, _ in
            let client = running.client
            let id = try await client.register(name: "moded", description: "d").connector.id

            // SetMode: UNSPECIFIED and numbers this version does not know.
            await expectRPCError(.invalidArgument, "A mode is required: sync, active or deactive") {
                try await client.setMode(id: id, mode: .unspecified)
            }
            await expectRPCError(.invalidArgument, "Unknown connector mode 9") {
                try await client.setMode(id: id, mode: ConnectorsV1.ConnectorMode(rawValue: 9))
            }
            await expectRPCError(.invalidArgument) {
                try await client.setMode(id: id, mode: ConnectorsV1.ConnectorMode(rawValue: -1))
            }
            // Active or sync before an activation.
            let notActivated = "Connector 'moded' has not been activated; activate it first with its connector URL"
            await expectRPCError(.failedPrecondition, notActivated) { try await client.setMode(id: id, mode: .active) }
            await expectRPCError(.failedPrecondition, notActivated) { try await client.setMode(id: id, mode: .sync) }
            #expect(try await client.setMode(id: id, mode: .deactive).mode == .deactive)
            #expect(try await client.get(id: id).mode == .deactive)

            // List: an unknown mode, page sizes, tokens.
            await expectRPCError(.invalidArgument, "Unknown connector mode 9") {
                try await client.list(mode: ConnectorsV1.ConnectorMode(rawValue: 9))
            }
            await expectRPCError(.invalidArgument, "page_size must be between 1 and 1000, not 5000") {
                try await client.list(pageSize: 5000)
            }
            await expectRPCError(.invalidArgument) { try await client.list(pageSize: 1001) }
            #expect(try await client.list(pageSize: 1000).connectors.count == 1)
            await expectRPCError(.invalidArgument, "Invalid page token") { try await client.list(pageToken: "garbage!") }
            await expectRPCError(.invalidArgument) { try await client.list(pageToken: String(repeating: "A", count: 200)) }
        }
    }

    @Test func undecodablePayloadIsInvalidArgument() async throws {
        try await withDaemon { running, _ in
            let transport = TTRPCClient(socketPath: running.socketPath)
            let garbage: [[UInt8]] = [
                [0x0A, 0x05, 0x61],  // field 1 declares 5 bytes, carries 1
                [0x0F, 0x01],  // wire type 7 does not exist
                [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],  // a varint that never ends
            ]
            for payload in garbage {
                for method in ConnectorsV1.Method.allCases.filter({ $0 != .watch }).map(\.rawValue) {
                    let error = await expectRPCError(.invalidArgument) {
                        try await transport.call(
                            service: ConnectorsV1.serviceName, method: method, payload: ByteBuffer(bytes: payload))
                    }
                    #expect(error?.message.hasPrefix("invalid \(method) request") == true, "\(method): \(error?.message ?? "")")
                }
                // Watch is a stream: the same, as the status that ends it.
                let error = await expectRPCError(.invalidArgument) {
                    try await transport.serverStreaming(
                        service: ConnectorsV1.serviceName, method: "Watch", request: ByteBuffer(bytes: payload)
                    ) { messages in
                        for try await _ in messages {}
                    }
                }
                #expect(error?.message.hasPrefix("invalid Watch request") == true, "Watch: \(error?.message ?? "")")
            }
            // A name that is not UTF-8 (protobuf-c does not check; the Swift decoding must).
            await expectRPCError(.invalidArgument) {
                try await transport.call(
                    service: ConnectorsV1.serviceName, method: "Register", payload: ByteBuffer(bytes: [0x0A, 0x02, 0xC3, 0x28, 0x12, 0x01, 0x64]))
            }
            #expect(try await running.client.list().connectors.isEmpty, "nothing was registered")
            // An empty payload is a valid (empty) message: Register then fails validation, List succeeds.
            await expectRPCError(.invalidArgument) {
                try await transport.call(service: ConnectorsV1.serviceName, method: "Register", payload: ByteBuffer())
            }
            let list = try await transport.call(service: ConnectorsV1.serviceName, method: "List", payload: ByteBuffer())
            let decoded = try ConnectorsV1.ListResponse(serializedBytes: Array(list.readableBytesView))
            #expect(decoded.connectors.isEmpty)

            // Unknown methods and services are UNIMPLEMENTED.
            await expectRPCError(.unimplemented) {
                try await transport.call(service: ConnectorsV1.serviceName, method: "Nope", payload: ByteBuffer())
            }
            await expectRPCError(.unimplemented) {
                try await transport.call(service: "connectors.v2.Nope", method: "List", payload: ByteBuffer())
            }
            // The daemon still serves after all that.
            #expect(try await running.client.list().connectors.isEmpty)
            await transport.close()
        }
    }

    @Test func getLogoWithoutALogoIsNotFound() async throws {
        try await withDaemon { running, _ in
            try await FixtureHTTPServer.with(routes: Self.routes) { server in
                let client = running.client
                let id = try await client.register(name: "logoless", description: "d").connector.id
                await expectRPCError(.notFound, "Connector 'logoless' has no logo") { try await client.logo(id: id) }
                // Activated from a schema without a logo_url: still none.
                server.setRoute("/plain.json", .json(#"{"name": "plain", "version": "2.0.0", "tools": [], "templates": []}"#))
                let activated = try await client.activate(id: id, url: server.url("/plain.json"))
                #expect(activated.connector.hasLogo == false)
                #expect(activated.connector.version == "2.0.0")
                await expectRPCError(.notFound, "Connector 'logoless' has no logo") { try await client.logo(id: id) }
            }
        }
    }

    @Test func deprecatedCreateWorksAndItsDuplicateIsAlreadyExists() async throws {
        try await withDaemon { running, _ in
            try await FixtureHTTPServer.with(routes: Self.routes) { server in
                let client = running.client
                let created = try await client.create(url: server.url("/connector.json"))
                #expect(created.message == "Connector 'sample_postgres' created successfully")
                let connector = created.connector
                #expect(connector.id > 0)
                #expect(connector.name == "sample_postgres")
                #expect(connector.mode == .active)
                #expect(connector.version == "1.2.0")
                #expect(connector.toolsCount == 3)
                #expect(connector.templatesCount == 2)
                #expect(connector.url == server.url("/connector.json"))
                #expect(connector.hasLogo)
                #expect(isRFC3339Micros(connector.createdAt))
                #expect(isRFC3339Micros(connector.updatedAt))
                #expect(try await client.get(id: connector.id) == connector)
                #expect(try await client.logo(id: connector.id).contentType == "image/svg+xml")

                await expectRPCError(.alreadyExists, "Connector with name 'sample_postgres' already exists") {
                    try await client.create(url: server.url("/connector.json"))
                }
                await expectRPCError(.alreadyExists, "Connector with name 'sample_postgres' already exists") {
                    try await client.register(name: "sample_postgres", description: "taken")
                }
                // Create's own fetch errors.
                await expectRPCError(.failedPrecondition, "Failed to fetch connector schema from URL. Status: 404") {
                    try await client.create(url: server.url("/missing.json"))
                }
                let nameless = await expectRPCError(.failedPrecondition) { try await client.create(url: server.url("/nameless.json")) }
                #expect(nameless?.message.hasPrefix("Invalid connector schema: $.name") == true, "\(nameless?.message ?? "")")
                #expect(try await client.list().connectors.map(\.id) == [connector.id])
            }
        }
    }
}
