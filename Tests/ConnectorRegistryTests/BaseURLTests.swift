import ConnectorRegistry
import Foundation
import SampleConnectorKit
import Testing

/// A connector's base URL (`http://host:port`, path empty or `/`), as users of
/// the seed project type it: the registry fetches `<url>/connector.json` and
/// stores that URL.
@Suite(.timeLimit(.minutes(1)))
struct BaseURLTests {
    /// Like the seed SDK's PostgreSQL example: 4 tools, 2 templates, a logo at
    /// the server's root given as a relative reference.
    static func routes(logoURL: String) -> [String: FixtureRoute] {
        let tools = ["query", "list_tables", "describe_table", "explain"].map { name in
            #"{"name": "\#(name)", "description": "\#(name)", "inputSchema": {"type": "object"}}"#
        }
        let templates = ["daily_report", "schema_overview"].map { name in
            #"{"name": "\#(name)", "description": "\#(name)", "is_async": false}"#
        }
        return [
            "/connector.json": .json(
                schemaJSON(name: "postgres_example", logoURL: logoURL, tools: tools, templates: templates)),
            "/logo.png": .respond(headers: ["Content-Type": "image/png"], body: SampleConnector.logoPNG),
        ]
    }

    /// The server's root with and without its trailing slash.
    static func baseURLs(_ server: FixtureHTTPServer) -> [String] {
        ["http://127.0.0.1:\(server.port)", "http://127.0.0.1:\(server.port)/"]
    }

    @Test(arguments: ["/logo.png", "logo.png"])
    func activateWithTheBaseURLFetchesAndStoresConnectorJSON(logoURL: String) async throws {
        try await withRegistryAndServer(Self.routes(logoURL: logoURL)) { registry, server, _ in
            for (index, base) in Self.baseURLs(server).enumerated() {
                let id = try await register(registry, "base_\(index)").id
                let connector = try await registry.activate(id: id, url: base).connector
                #expect(connector.url == server.url("/connector.json"), "activated with \(base)")
                #expect(connector.url.hasSuffix("/connector.json"))
                #expect(connector.mode == .active)
                #expect(connector.toolsCount == 4)
                #expect(connector.templatesCount == 2)
                #expect(connector.hasLogo, "the relative logo \(logoURL) resolves against \(connector.url)")
                #expect(connector.logoURL == server.url("/logo.png"))
                #expect(try await registry.logo(id: id).data == SampleConnector.logoPNG)
                #expect(try await registry.connector(id: id).url == server.url("/connector.json"), "stored so")
                #expect(server.hitCount("/connector.json") == index + 1)
            }
            #expect(server.hitCount("/") == 0, "the base URL itself is never fetched")
            #expect(server.hitCount("/logo.png") == 2)
        }
    }

    @Test func createWithTheBaseURLFetchesAndStoresConnectorJSON() async throws {
        try await withRegistryAndServer(SampleConnector.routes) { registry, server, _ in
            for (index, base) in Self.baseURLs(server).enumerated() {
                if index > 0 {
                    // The schema's name is taken by the first create: delete it.
                    let existing = try await registry.list(mode: nil, pageSize: 0, pageToken: "").connectors
                    for connector in existing { _ = try await registry.delete(id: connector.id) }
                }
                let connector = try await registry.create(url: base, secret: nil).connector
                #expect(connector.name == "sample_postgres", "created with \(base)")
                #expect(connector.url == server.url("/connector.json"))
                #expect(connector.toolsCount == SampleConnector.toolsCount)
                #expect(connector.templatesCount == SampleConnector.templatesCount)
                #expect(connector.logoURL == server.url("/logo.svg"), "the schema's relative logo.svg")
                #expect(try await registry.logo(id: connector.id).data == Array(SampleConnector.logoSVG.utf8))
            }
            #expect(server.hitCount("/connector.json") == 2)
            #expect(server.hitCount("/") == 0)
        }
    }

    /// Only an empty path or `/` is a base URL: any other path is fetched as given.
    @Test func aURLWithAPathIsFetchedAsGiven() async throws {
        try await withRegistryAndServer(SampleConnector.routes) { registry, server, _ in
            let id = try await register(registry, "with_path").id
            for path in ["/api", "/api/", "/connector.json/"] {
                await expectError(.failedPrecondition, "Failed to fetch connector schema from URL. Status: 404") {
                    try await registry.activate(id: id, url: server.url(path))
                }
                #expect(server.hitCount(path) == 1, "\(path) fetched as given")
            }
            #expect(server.hitCount("/connector.json") == 0)
            #expect(try await registry.connector(id: id).url == "", "nothing stored")
        }
    }

    /// A query on a base URL is kept on the schema's URL.
    @Test func aBaseURLKeepsItsQuery() async throws {
        try await withRegistryAndServer(SampleConnector.routes) { registry, server, _ in
            let id = try await register(registry, "with_query").id
            let connector = try await registry.activate(id: id, url: "http://127.0.0.1:\(server.port)/?v=2").connector
            #expect(connector.url == server.url("/connector.json?v=2"))
            #expect(server.hitCount("/connector.json") == 1)
        }
    }

    /// The base URL is still checked: a bad one is INVALID_ARGUMENT, not fetched.
    @Test func aBadBaseURLIsInvalidArgument() async throws {
        try await withRegistry { registry, _ in
            let id = try await register(registry, "bad_base").id
            await expectError(.invalidArgument) { try await registry.activate(id: id, url: "ftp://127.0.0.1/") }
            await expectError(.invalidArgument) { try await registry.activate(id: id, url: "http://") }
            // 2,048 characters as given; with /connector.json added, too long.
            let prefix = "http://127.0.0.1:1/?q="
            let long = prefix + String(repeating: "a", count: 2048 - prefix.count)
            await expectError(.invalidArgument, "Invalid connector URL: the connector URL is longer than 2048 characters") {
                try await registry.activate(id: id, url: long)
            }
        }
    }
}
