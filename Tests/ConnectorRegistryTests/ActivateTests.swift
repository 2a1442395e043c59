import ConnectorRegistry
import Foundation
import GRDB
import SampleConnectorKit
import Testing

/// Step 2 of the seed: Activate fetches connector.json from a running
/// connector and stores its schema and logo.
@Suite(.timeLimit(.minutes(5)))
struct ActivateTests {
    @Test func activateStoresTheSampleConnectorSchema() async throws {
        try await withRegistryAndServer(SampleConnector.routes) { registry, server, files in
            let registered = try await registry.register(name: "my_connector", description: "My custom connector for XYZ", secret: nil)
            let id = registered.connector.id
            let url = server.url("/connector.json")
            try await Task.sleep(for: .milliseconds(2))  // so updated_at differs from created_at

            let outcome = try await registry.activate(id: id, url: url)
            let connector = outcome.connector

            #expect(outcome.message == "Connector 'my_connector' activated successfully")
            #expect(connector.id == id)
            #expect(connector.name == "my_connector")
            #expect(connector.url == url)
            #expect(connector.mode == .active)
            #expect(connector.version == "1.2.0")
            #expect(connector.toolsCount == SampleConnector.toolsCount)
            #expect(connector.templatesCount == SampleConnector.templatesCount)
            #expect(connector.description == "Sample PostgreSQL connector: query tables and describe schemas")
            #expect(connector.isActivated)
            #expect(connector.hasLogo)
            #expect(connector.logoURL == server.url("/logo.svg"), "stored resolved against the schema URL")
            #expect(connector.hasSecret == false)
            #expect(connector.createdAt == registered.connector.createdAt)
            #expect(connector.updatedAt > registered.connector.updatedAt)

            // Tools: the schema's array, unknown and optional keys kept.
            let tools = try #require(try parseJSON(connector.toolsJSON) as? [[String: Any]])
            #expect(tools.map { $0["name"] as? String } == ["run_query", "list_tables", "describe_table"])
            #expect(tools[0]["title"] as? String == "Run a query")
            #expect((tools[0]["annotations"] as? [String: Any])?["readOnlyHint"] as? Bool == true)
            #expect((tools[0]["inputSchema"] as? [String: Any])?["required"] as? [String] == ["sql"])
            #expect(tools[2]["outputSchema"] is [String: Any])

            // Templates.
            let templates = try #require(try parseJSON(connector.templatesJSON) as? [[String: Any]])
            #expect(templates.map { $0["name"] as? String } == ["daily_report", "schema_overview"])
            #expect(templates.map { $0["is_async"] as? Bool } == [true, false])
            #expect(templates[0]["inputSchema"] is [String: Any])

            // Server configuration: the schema's `config` object.
            let config = try #require(try parseJSON(connector.serverConfigJSON) as? [String: Any])
            let params = try #require(config["params"] as? [String: Any])
            #expect(params["required"] as? [String] == ["host", "database"])
            #expect(((params["properties"] as? [String: Any])?["port"] as? [String: Any])?["default"] as? Int == 5432)
            #expect(((config["ui_schema"] as? [String: Any])?["host"] as? [String: Any])?["ui:placeholder"] as? String == "db.internal")

            // The logo, checked by content, with its bytes.
            let logo = try await registry.logo(id: id)
            #expect(logo.contentType == "image/svg+xml")
            #expect(logo.data == Array(SampleConnector.logoSVG.utf8))
            #expect(server.hitCount("/connector.json") == 1)
            #expect(server.hitCount("/logo.svg") == 1)

            // Get answers the same record; the row is as the seed's table shows it.
            #expect(try await registry.connector(id: id) == connector)
            let row = try #require(try files.inspect { db in
                try Row.fetchOne(db, sql: "SELECT name, url, mode, version, length(logo) AS logo_size FROM mcp_connectors WHERE id = ?", arguments: [id])
            })
            #expect(row["url"] as String == url)
            #expect(row["mode"] as String == "active")
            #expect(row["version"] as String == "1.2.0")
            #expect(row["logo_size"] as Int == SampleConnector.logoSVG.utf8.count)
        }
    }

    @Test func descriptionIsKeptWhenTheSchemaHasNone() async throws {
        let routes: [String: FixtureRoute] = ["/connector.json": .json(schemaJSON(description: nil, version: nil))]
        try await withRegistryAndServer(routes) { registry, server, _ in
            let registered = try await register(registry, "keeps")
            let connector = try await registry.activate(id: registered.id, url: server.url("/connector.json")).connector
            #expect(connector.description == "The keeps connector")
            #expect(connector.version == "0.0.0")  // no version in the schema
            #expect(connector.mode == .active)
            #expect(connector.toolsCount == 1)
            #expect(connector.templatesCount == 0)
            #expect(connector.hasLogo == false)
            #expect(connector.logoURL == "")
        }
    }

    @Test func unknownKeysAreKept() async throws {
        let schema = #"""
            {"name": "n", "version": "3.0.0", "x-vendor": {"a": 1},
             "tools": [{"name": "t", "x-extra": [1, 2], "inputSchema": {"type": "object"}}],
             "templates": [{"name": "p", "x-flag": true}],
             "config": {"params": {}, "x-more": "kept"}}
            """#
        try await withRegistryAndServer(["/connector.json": .json(schema)]) { registry, server, _ in
            let registered = try await register(registry, "unknown_keys")
            let connector = try await registry.activate(id: registered.id, url: server.url("/connector.json")).connector
            let tools = try #require(try parseJSON(connector.toolsJSON) as? [[String: Any]])
            #expect(tools.first?["x-extra"] as? [Int] == [1, 2])
            let templates = try #require(try parseJSON(connector.templatesJSON) as? [[String: Any]])
            #expect(templates.first?["x-flag"] as? Bool == true)
            let config = try #require(try parseJSON(connector.serverConfigJSON) as? [String: Any])
            #expect(config["x-more"] as? String == "kept")
        }
    }

    @Test func absoluteLogoURLAndPNGRecognizedByContent() async throws {
        try await withRegistryAndServer([:]) { registry, server, _ in
            let logoURL = server.url("/assets/logo.png")
            server.setRoute("/connector.json", .json(schemaJSON(logoURL: logoURL)))
            // The server calls it text/plain: the registry goes by the bytes.
            server.setRoute("/assets/logo.png", .respond(headers: ["Content-Type": "text/plain"], body: SampleConnector.logoPNG))
            let registered = try await register(registry, "png_logo")
            let outcome = try await registry.activate(id: registered.id, url: server.url("/connector.json"))
            #expect(outcome.message == "Connector 'png_logo' activated successfully")
            #expect(outcome.connector.hasLogo)
            #expect(outcome.connector.logoURL == logoURL)
            let logo = try await registry.logo(id: registered.id)
            #expect(logo == Logo(contentType: "image/png", data: SampleConnector.logoPNG))
        }
    }

    @Test func relativeLogoURLResolvesAgainstTheSchemaURL() async throws {
        let routes: [String: FixtureRoute] = [
            "/connectors/pg/connector.json": .json(schemaJSON(logoURL: "img/logo.svg")),
            "/connectors/pg/img/logo.svg": .respond(body: Array(SampleConnector.logoSVG.utf8)),
        ]
        try await withRegistryAndServer(routes) { registry, server, _ in
            let registered = try await register(registry, "relative_logo")
            let outcome = try await registry.activate(id: registered.id, url: server.url("/connectors/pg/connector.json"))
            #expect(outcome.message == "Connector 'relative_logo' activated successfully")
            #expect(outcome.connector.hasLogo)
            #expect(server.hitCount("/connectors/pg/img/logo.svg") == 1)
            #expect(outcome.connector.logoURL == server.url("/connectors/pg/img/logo.svg"))
            #expect(try await registry.logo(id: registered.id).contentType == "image/svg+xml")
        }
    }

    @Test func missingLogoDoesNotFailActivation() async throws {
        let routes: [String: FixtureRoute] = ["/connector.json": .json(schemaJSON(logoURL: "missing.svg"))]
        try await withRegistryAndServer(routes) { registry, server, _ in
            let registered = try await register(registry, "no_logo")
            let outcome = try await registry.activate(id: registered.id, url: server.url("/connector.json"))
            #expect(outcome.message.hasPrefix("Connector 'no_logo' activated successfully"))
            #expect(outcome.message.contains("logo not stored"))
            #expect(outcome.message.contains("404"))
            #expect(outcome.connector.mode == .active)
            #expect(outcome.connector.hasLogo == false)
            #expect(server.hitCount("/missing.svg") == 1)
            await expectError(.notFound, "Connector 'no_logo' has no logo") { try await registry.logo(id: registered.id) }
        }
    }

    @Test(arguments: [true, false])
    func tooBigLogoDoesNotFailActivation(declareLength: Bool) async throws {
        let routes: [String: FixtureRoute] = [
            "/connector.json": .json(schemaJSON(logoURL: "/big.png")),
            "/big.png": .large(bytes: (1 << 20) + 1, declareLength: declareLength),
        ]
        try await withRegistryAndServer(routes) { registry, server, _ in
            let registered = try await register(registry, "big_logo")
            let outcome = try await registry.activate(id: registered.id, url: server.url("/connector.json"))
            #expect(outcome.message.hasPrefix("Connector 'big_logo' activated successfully"))
            #expect(outcome.message.contains("logo not stored"))
            #expect(outcome.connector.mode == .active)
            #expect(outcome.connector.hasLogo == false)
            await expectError(.notFound, "Connector 'big_logo' has no logo") { try await registry.logo(id: registered.id) }
        }
    }

    @Test func logoOfExactlyOneMebibyteIsStored() async throws {
        var png = SampleConnector.logoPNG
        png += [UInt8](repeating: 0, count: (1 << 20) - png.count)
        let routes: [String: FixtureRoute] = [
            "/connector.json": .json(schemaJSON(logoURL: "/edge.png")),
            "/edge.png": .respond(headers: ["Content-Type": "image/png"], body: png),
        ]
        try await withRegistryAndServer(routes) { registry, server, _ in
            let registered = try await register(registry, "edge_logo")
            let outcome = try await registry.activate(id: registered.id, url: server.url("/connector.json"))
            #expect(outcome.message == "Connector 'edge_logo' activated successfully")
            #expect(try await registry.logo(id: registered.id).data.count == 1 << 20)
        }
    }

    @Test func logoThatIsNotAnImageDoesNotFailActivation() async throws {
        let html = Array("<!DOCTYPE html><html><body>not an image</body></html>".utf8)
        let routes: [String: FixtureRoute] = [
            "/connector.json": .json(schemaJSON(logoURL: "logo.png")),
            "/logo.png": .respond(headers: ["Content-Type": "image/png"], body: html),
        ]
        try await withRegistryAndServer(routes) { registry, server, _ in
            let registered = try await register(registry, "html_logo")
            let outcome = try await registry.activate(id: registered.id, url: server.url("/connector.json"))
            #expect(outcome.message.hasPrefix("Connector 'html_logo' activated successfully"))
            #expect(outcome.message.contains("logo not stored"))
            #expect(outcome.connector.mode == .active)
            #expect(outcome.connector.hasLogo == false)
            #expect(server.hitCount("/logo.png") == 1)
            await expectError(.notFound, "Connector 'html_logo' has no logo") { try await registry.logo(id: registered.id) }
        }
    }

    @Test func logoWithAFileURLIsNotFetched() async throws {
        let routes: [String: FixtureRoute] = ["/connector.json": .json(schemaJSON(logoURL: "file:///etc/passwd"))]
        try await withRegistryAndServer(routes) { registry, server, _ in
            let registered = try await register(registry, "file_logo")
            let outcome = try await registry.activate(id: registered.id, url: server.url("/connector.json"))
            #expect(outcome.message.hasPrefix("Connector 'file_logo' activated successfully"))
            #expect(outcome.message.contains("logo not stored"))
            #expect(outcome.connector.hasLogo == false)
        }
    }

    @Test func reactivationReplacesTheSchema() async throws {
        try await withRegistryAndServer(SampleConnector.routes) { registry, server, _ in
            let registered = try await register(registry, "replaced")
            let first = try await registry.activate(id: registered.id, url: server.url("/connector.json")).connector
            #expect(first.toolsCount == 3)
            #expect(first.templatesCount == 2)
            #expect(first.version == "1.2.0")

            let newSchema = schemaJSON(
                description: "Version two", version: "2.0.0", logoURL: "logo2.png",
                tools: [#"{"name": "only_tool"}"#], templates: [], config: #"{"params": {"type": "object", "title": "v2"}}"#)
            server.setRoute("/connector.json", .json(newSchema))
            server.setRoute("/logo2.png", .respond(headers: ["Content-Type": "image/png"], body: SampleConnector.logoPNG))
            try await Task.sleep(for: .milliseconds(2))

            let outcome = try await registry.activate(id: registered.id, url: server.url("/connector.json"))
            let second = outcome.connector
            #expect(outcome.message == "Connector 'replaced' activated successfully")
            #expect(second.mode == .active)
            #expect(second.version == "2.0.0")
            #expect(second.description == "Version two")
            #expect(second.toolsCount == 1)
            #expect(second.templatesCount == 0)
            #expect(try names(inJSONArray: second.toolsJSON) == ["only_tool"])
            #expect(second.templatesJSON == "[]")
            #expect((try parseJSON(second.serverConfigJSON) as? [String: Any]).flatMap { ($0["params"] as? [String: Any])?["title"] as? String } == "v2")
            #expect(second.updatedAt > first.updatedAt)
            #expect(second.createdAt == first.createdAt)
            #expect(try await registry.logo(id: registered.id) == Logo(contentType: "image/png", data: SampleConnector.logoPNG))
            #expect(server.hitCount("/connector.json") == 2)
        }
    }

    @Test func deactivatedConnectorIsActivatedAgainByActivation() async throws {
        try await withRegistryAndServer(SampleConnector.routes) { registry, server, _ in
            let registered = try await register(registry, "cycle")
            _ = try await registry.activate(id: registered.id, url: server.url("/connector.json"))
            let off = try await registry.setMode(id: registered.id, to: .deactive)
            #expect(off.mode == .deactive)
            let on = try await registry.activate(id: registered.id, url: server.url("/connector.json"))
            #expect(on.connector.mode == .active)
            #expect(on.message == "Connector 'cycle' activated successfully")
            // From sync too.
            _ = try await registry.setMode(id: registered.id, to: .sync)
            #expect(try await registry.activate(id: registered.id, url: server.url("/connector.json")).connector.mode == .active)
        }
    }

    @Test func redirectChainToAValidSchemaSucceeds() async throws {
        let routes: [String: FixtureRoute] = [
            "/start": .redirect(to: "/hop1"),
            "/hop1": .redirect(to: "/hop2", status: 301),
            "/hop2": .redirect(to: "/final/connector.json", status: 307),
            "/final/connector.json": .json(SampleConnector.schemaJSON),
            "/final/logo.svg": .respond(body: Array(SampleConnector.logoSVG.utf8)),
        ]
        try await withRegistryAndServer(routes) { registry, server, _ in
            let registered = try await register(registry, "redirected")
            let url = server.url("/start")
            let outcome = try await registry.activate(id: registered.id, url: url)
            #expect(outcome.message == "Connector 'redirected' activated successfully")
            #expect(outcome.connector.mode == .active)
            #expect(outcome.connector.url == url)  // the URL the administrator gave
            #expect(outcome.connector.toolsCount == 3)
            #expect(outcome.connector.hasLogo)  // relative to where the schema finally came from
            for path in ["/start", "/hop1", "/hop2", "/final/connector.json", "/final/logo.svg"] {
                #expect(server.hitCount(path) == 1, "\(path)")
            }
        }
    }

    @Test func fiveRedirectsAreFollowedSixAreNot() async throws {
        var routes: [String: FixtureRoute] = ["/connector.json": .json(schemaJSON())]
        for index in 0..<6 { routes["/r\(index)"] = .redirect(to: index == 5 ? "/connector.json" : "/r\(index + 1)") }
        try await withRegistryAndServer(routes) { registry, server, _ in
            let registered = try await register(registry, "hops")
            // /r1 .. /r5 then the schema: 5 redirects.
            let outcome = try await registry.activate(id: registered.id, url: server.url("/r1"))
            #expect(outcome.connector.mode == .active)
            // /r0 .. /r5 then the schema: 6 redirects.
            await expectError(.failedPrecondition, "Failed to fetch connector schema from URL: more than 5 redirects") {
                try await registry.activate(id: registered.id, url: server.url("/r0"))
            }
        }
    }
}
