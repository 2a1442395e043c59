import ConnectorRegistry
import Foundation
import SampleConnectorKit
import TestSupport
import Testing

/// The deprecated single-step Create: fetch, validate, take the name from the
/// schema, register and activate at once.
@Suite(.timeLimit(.minutes(5)))
struct CreateTests {
    @Test func createTakesTheNameFromTheSchema() async throws {
        try await withRegistryAndServer(SampleConnector.routes) { registry, server, _ in
            let url = server.url("/connector.json")
            let outcome = try await registry.create(url: url, secret: "create-secret")
            let connector = outcome.connector
            #expect(outcome.message == "Connector 'sample_postgres' created successfully")
            #expect(connector.name == "sample_postgres")
            #expect(connector.description == "Sample PostgreSQL connector: query tables and describe schemas")
            #expect(connector.mode == .active)
            #expect(connector.url == url)
            #expect(connector.version == "1.2.0")
            #expect(connector.toolsCount == 3)
            #expect(connector.templatesCount == 2)
            #expect(try names(inJSONArray: connector.toolsJSON) == ["run_query", "list_tables", "describe_table"])
            #expect(try names(inJSONArray: connector.templatesJSON) == ["daily_report", "schema_overview"])
            #expect(connector.hasLogo)
            #expect(connector.hasSecret)
            #expect(try await registry.secret(id: connector.id) == "create-secret")
            #expect(try await registry.logo(id: connector.id).data == Array(SampleConnector.logoSVG.utf8))
            #expect(try await registry.connector(id: connector.id) == connector)
            #expect(try await registry.list(mode: .active, pageSize: 0, pageToken: "").connectors == [connector])
        }
    }

    @Test func secondCreateWithTheSameSchemaIsAlreadyExists() async throws {
        try await withRegistryAndServer(SampleConnector.routes) { registry, server, _ in
            let first = try await registry.create(url: server.url("/connector.json"), secret: nil).connector
            await expectError(.alreadyExists, "Connector with name 'sample_postgres' already exists") {
                try await registry.create(url: server.url("/connector.json"), secret: nil)
            }
            #expect(try await registry.list(mode: nil, pageSize: 0, pageToken: "").connectors == [first])
        }
    }

    @Test func createOfANameTakenByARegistrationIsAlreadyExists() async throws {
        try await withRegistryAndServer(SampleConnector.routes) { registry, server, _ in
            let registered = try await register(registry, "SAMPLE_Postgres")
            await expectError(.alreadyExists, "Connector with name 'sample_postgres' already exists") {
                try await registry.create(url: server.url("/connector.json"), secret: "s")
            }
            #expect(try await registry.list(mode: nil, pageSize: 0, pageToken: "").connectors == [registered])
        }
    }

    @Test func schemaWithoutANameIsFailedPrecondition() async throws {
        let routes: [String: FixtureRoute] = ["/connector.json": .json(schemaJSON(name: nil))]
        try await withRegistryAndServer(routes) { registry, server, _ in
            let error = await expectError(.failedPrecondition) { try await registry.create(url: server.url("/connector.json"), secret: nil) }
            #expect(error?.message.hasPrefix("Invalid connector schema: $.name: ") == true)
            #expect(error?.message == "Invalid connector schema: $.name: A connector name is required: \(RegisterTests.nameRule)")
            let remaining = try await registry.list(mode: nil, pageSize: 0, pageToken: "").connectors
            #expect(remaining.isEmpty)
        }
    }

    @Test(arguments: ["bad name", "-dash", "../etc", String(repeating: "n", count: 65)])
    func schemaWithAnInvalidNameIsFailedPrecondition(name: String) async throws {
        let routes: [String: FixtureRoute] = ["/connector.json": .json(schemaJSON(name: name))]
        try await withRegistryAndServer(routes) { registry, server, _ in
            let error = await expectError(.failedPrecondition) { try await registry.create(url: server.url("/connector.json"), secret: nil) }
            #expect(error?.message.hasPrefix("Invalid connector schema: $.name: Invalid connector name") == true)
            let remaining = try await registry.list(mode: nil, pageSize: 0, pageToken: "").connectors
            #expect(remaining.isEmpty)
        }
    }

    @Test func unreachableIsUnavailable() async throws {
        let refusing = try RefusingPort()
        defer { refusing.close() }
        let port = refusing.port
        try await withRegistry { registry, _ in
            let error = await expectError(.unavailable) {
                try await registry.create(url: "http://127.0.0.1:\(port)/connector.json", secret: nil)
            }
            #expect(error?.message.hasPrefix("Failed to connect to connector URL: ") == true)
            let remaining = try await registry.list(mode: nil, pageSize: 0, pageToken: "").connectors
            #expect(remaining.isEmpty)
        }
    }

    @Test func createErrorsLikeActivate() async throws {
        let routes: [String: FixtureRoute] = ["/array.json": .json("[]"), "/loop": .redirect(to: "/loop")]
        try await withRegistryAndServer(routes) { registry, server, _ in
            await expectError(.invalidArgument, "Invalid connector URL: the connector URL must use http or https, not 'ftp'") {
                try await registry.create(url: "ftp://127.0.0.1/connector.json", secret: nil)
            }
            await expectError(.failedPrecondition, "Failed to fetch connector schema from URL. Status: 404") {
                try await registry.create(url: server.url("/missing.json"), secret: nil)
            }
            await expectError(.failedPrecondition, "Invalid connector schema: $: expected an object, found an array") {
                try await registry.create(url: server.url("/array.json"), secret: nil)
            }
            await expectError(.failedPrecondition, "Failed to fetch connector schema from URL: more than 5 redirects") {
                try await registry.create(url: server.url("/loop"), secret: nil)
            }
            await expectError(.invalidArgument, "The secret is longer than 4096 bytes") {
                try await registry.create(url: server.url("/array.json"), secret: String(repeating: "s", count: 4097))
            }
            let remaining = try await registry.list(mode: nil, pageSize: 0, pageToken: "").connectors
            #expect(remaining.isEmpty)
        }
    }
}
