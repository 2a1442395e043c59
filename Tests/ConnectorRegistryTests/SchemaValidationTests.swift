import ConnectorRegistry
import Foundation
import SampleConnectorKit
import Testing

/// Invalid connector.json documents: FAILED_PRECONDITION naming the JSON path
/// of the first fault, and the connector is left as it was.
@Suite(.timeLimit(.minutes(5)))
struct SchemaValidationTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var label: String
        var body: String
        var message: String
        var testDescription: String { label }
    }

    static let cases: [Case] = [
        Case(label: "not JSON", body: "<html><body>It works!</body></html>", message: "Invalid connector schema: $: not valid JSON"),
        Case(label: "truncated JSON", body: #"{"name": "x", "tools": ["#, message: "Invalid connector schema: $: not valid JSON"),
        Case(label: "empty body", body: "", message: "Invalid connector schema: $: not valid JSON"),
        Case(label: "a JSON array", body: #"[{"name": "x"}]"#, message: "Invalid connector schema: $: expected an object, found an array"),
        Case(label: "a JSON string", body: #""connector""#, message: "Invalid connector schema: $: expected an object, found a string"),
        Case(label: "null", body: "null", message: "Invalid connector schema: $: expected an object, found null"),
        Case(
            label: "a tool without a name",
            body: schemaJSON(tools: [#"{"name": "first"}"#, #"{"description": "no name"}"#]),
            message: "Invalid connector schema: $.tools[1].name: a name is required"),
        Case(
            label: "a tool with an empty name",
            body: schemaJSON(tools: [#"{"name": ""}"#]),
            message: "Invalid connector schema: $.tools[0].name: a name is required"),
        Case(
            label: "a tool whose name is a number",
            body: schemaJSON(tools: [#"{"name": 7}"#]),
            message: "Invalid connector schema: $.tools[0].name: expected a string, found a number"),
        Case(
            label: "duplicate tool names",
            body: schemaJSON(tools: [#"{"name": "same"}"#, #"{"name": "other"}"#, #"{"name": "same"}"#]),
            message: "Invalid connector schema: $.tools[2].name: duplicate name 'same'"),
        Case(
            label: "a template without a name",
            body: schemaJSON(templates: [#"{"title": "untitled"}"#]),
            message: "Invalid connector schema: $.templates[0].name: a name is required"),
        Case(
            label: "duplicate template names",
            body: schemaJSON(templates: [#"{"name": "r"}"#, #"{"name": "r"}"#]),
            message: "Invalid connector schema: $.templates[1].name: duplicate name 'r'"),
        Case(
            label: "tools not an array",
            body: #"{"name": "x", "tools": {"name": "t"}}"#,
            message: "Invalid connector schema: $.tools: expected an array, found an object"),
        Case(
            label: "templates not an array",
            body: #"{"name": "x", "templates": "none"}"#,
            message: "Invalid connector schema: $.templates: expected an array, found a string"),
        Case(
            label: "a tool that is not an object",
            body: schemaJSON(tools: [#""run_query""#]),
            message: "Invalid connector schema: $.tools[0]: expected an object, found a string"),
        Case(
            label: "inputSchema not an object",
            body: schemaJSON(tools: [#"{"name": "t", "inputSchema": "object"}"#]),
            message: "Invalid connector schema: $.tools[0].inputSchema: expected an object, found a string"),
        Case(
            label: "outputSchema not an object",
            body: schemaJSON(tools: [#"{"name": "t"}"#, #"{"name": "u", "outputSchema": [1]}"#]),
            message: "Invalid connector schema: $.tools[1].outputSchema: expected an object, found an array"),
        Case(
            label: "tool description not a string",
            body: schemaJSON(tools: [#"{"name": "t", "description": true}"#]),
            message: "Invalid connector schema: $.tools[0].description: expected a string, found a boolean"),
        Case(
            label: "is_async a string",
            body: schemaJSON(templates: [#"{"name": "r", "is_async": "yes"}"#]),
            message: "Invalid connector schema: $.templates[0].is_async: expected a boolean, found a string"),
        Case(
            label: "is_async a number",
            body: schemaJSON(templates: [#"{"name": "r", "is_async": 1}"#]),
            message: "Invalid connector schema: $.templates[0].is_async: expected a boolean, found a number"),
        Case(
            label: "template inputSchema not an object",
            body: schemaJSON(templates: [#"{"name": "r", "inputSchema": 3}"#]),
            message: "Invalid connector schema: $.templates[0].inputSchema: expected an object, found a number"),
        Case(
            label: "version a number",
            body: #"{"name": "x", "version": 1.2}"#,
            message: "Invalid connector schema: $.version: expected a string, found a number"),
        Case(
            label: "name an object",
            body: #"{"name": {"first": "x"}}"#,
            message: "Invalid connector schema: $.name: expected a string, found an object"),
        Case(
            label: "logo_url a number",
            body: #"{"name": "x", "logo_url": 5}"#,
            message: "Invalid connector schema: $.logo_url: expected a string, found a number"),
        Case(
            label: "config not an object",
            body: #"{"name": "x", "config": ["params"]}"#,
            message: "Invalid connector schema: $.config: expected an object, found an array"),
    ]

    @Test(arguments: cases)
    func invalidSchemaIsFailedPrecondition(_ schema: Case) async throws {
        let routes: [String: FixtureRoute] = ["/connector.json": .json(schema.body)]
        try await withRegistryAndServer(routes) { registry, server, _ in
            let registered = try await register(registry, "invalid_schema")
            await expectError(.failedPrecondition, schema.message) {
                try await registry.activate(id: registered.id, url: server.url("/connector.json"))
            }
            #expect(try await registry.connector(id: registered.id) == registered)
        }
    }

    @Test(arguments: [
        String(repeating: "[", count: 10_000),
        String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000),
        #"{"name": "x", "config": "# + String(repeating: #"{"a":"#, count: 5_000) + "1" + String(repeating: "}", count: 5_000) + "}",
    ])
    func deepNestingIsRefusedBeforeParsing(body: String) async throws {
        try await withRegistryAndServer(["/connector.json": .json(body)]) { registry, server, _ in
            let registered = try await register(registry, "deep")
            let error = await expectError(.failedPrecondition) {
                try await registry.activate(id: registered.id, url: server.url("/connector.json"))
            }
            // Found by the depth check, not by a parser recursing 10,000 levels.
            #expect(error?.message == "Invalid connector schema: $: nested deeper than 64 levels")
            #expect(try await registry.connector(id: registered.id) == registered)
        }
    }

    @Test func nestingWithinTheLimitIsAccepted() async throws {
        // 64 levels in all: the root object and 63 nested objects (config's value and 62 inside it).
        let inner = String(repeating: #"{"a":"#, count: 63) + "1" + String(repeating: "}", count: 63)
        let body = #"{"name": "x", "config": "# + inner + "}"
        try await withRegistryAndServer(["/connector.json": .json(body)]) { registry, server, _ in
            let registered = try await register(registry, "nested_ok")
            let outcome = try await registry.activate(id: registered.id, url: server.url("/connector.json"))
            #expect(outcome.connector.mode == .active)
        }
    }

    @Test func bracketsInsideStringsDoNotCountAsNesting() async throws {
        let deepText = String(repeating: "[", count: 1_000)
        let body = schemaJSON(tools: [#"{"name": "t", "description": "\#(deepText)"}"#])
        try await withRegistryAndServer(["/connector.json": .json(body)]) { registry, server, _ in
            let registered = try await register(registry, "brackets")
            let outcome = try await registry.activate(id: registered.id, url: server.url("/connector.json"))
            let tools = try #require(try parseJSON(outcome.connector.toolsJSON) as? [[String: Any]])
            #expect(tools.first?["description"] as? String == deepText)
        }
    }

    @Test func invalidSchemaDoesNotReplaceAnActiveOne() async throws {
        try await withRegistryAndServer(SampleConnector.routes) { registry, server, _ in
            let registered = try await register(registry, "keeps_schema")
            let active = try await registry.activate(id: registered.id, url: server.url("/connector.json")).connector
            server.setRoute("/connector.json", .json("[]"))
            await expectError(.failedPrecondition, "Invalid connector schema: $: expected an object, found an array") {
                try await registry.activate(id: registered.id, url: server.url("/connector.json"))
            }
            #expect(try await registry.connector(id: registered.id) == active)
            #expect(try await registry.logo(id: registered.id).contentType == "image/svg+xml")
        }
    }
}
