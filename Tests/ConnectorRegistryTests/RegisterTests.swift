import ConnectorRegistry
import Foundation
import GRDB
import Testing

/// Step 1 of the seed: Register stores a deactive connector with version 0.0.0
/// and no URL, under the name, description and secret rules of issue 3.
@Suite(.timeLimit(.minutes(5)))
struct RegisterTests {
    static let nameRule = "use 1-64 characters of letters, digits, '_', '.' and '-', starting with a letter or digit"

    @Test func registerStoresADeactiveConnector() async throws {
        try await withRegistry { registry, files in
            let before = Timestamp.now()
            let registration = try await registry.register(
                name: "my_connector", description: "My custom connector for XYZ", secret: "optional_connector_secret")
            let connector = registration.connector

            #expect(registration.message == "Connector 'my_connector' registered successfully")
            #expect(registration.nextStep.localizedCaseInsensitiveContains("activate"))
            #expect(registration.nextStep.localizedCaseInsensitiveContains("connector URL"))
            #expect(registration.nextStep.contains("\(connector.id)"))

            #expect(connector.id > 0)
            #expect(connector.name == "my_connector")
            #expect(connector.description == "My custom connector for XYZ")
            #expect(connector.mode == .deactive)
            #expect(connector.version == "0.0.0")
            #expect(connector.url == "")
            #expect(connector.isActivated == false)
            #expect(connector.toolsCount == 0)
            #expect(connector.templatesCount == 0)
            #expect(connector.toolsJSON == "[]")
            #expect(connector.templatesJSON == "[]")
            #expect(connector.serverConfigJSON == "{}")
            #expect(connector.logoURL == "")
            #expect(connector.hasLogo == false)
            #expect(connector.hasSecret == true)
            #expect(connector.createdAt == connector.updatedAt)
            #expect(connector.createdAt >= before && connector.createdAt <= Timestamp.now())

            // The record is visible (Get, List) and stored as the seed's table shows it.
            #expect(try await registry.connector(id: connector.id) == connector)
            let page = try await registry.list(mode: nil, pageSize: 0, pageToken: "")
            #expect(page.connectors == [connector])
            #expect(page.nextPageToken == "")

            let row = try files.inspect { db in
                try Row.fetchOne(db, sql: "SELECT id, name, url, mode, version FROM mcp_connectors WHERE id = ?", arguments: [connector.id])
            }
            let stored = try #require(row)
            #expect(stored["name"] as String == "my_connector")
            #expect(stored["url"] as String == "")
            #expect(stored["mode"] as String == "deactive")
            #expect(stored["version"] as String == "0.0.0")
        }
    }

    @Test func idsAscendAndAreNeverReused() async throws {
        try await withRegistry { registry, _ in
            let a = try await register(registry, "a")
            let b = try await register(registry, "b")
            #expect(b.id > a.id)
            _ = try await registry.delete(id: b.id)
            let c = try await register(registry, "c")
            #expect(c.id > b.id)
        }
    }

    @Test(arguments: [
        ("", "A connector name is required: \(nameRule)"),
        (String(repeating: "a", count: 65), "Invalid connector name '\(String(repeating: "a", count: 65))': \(nameRule)"),
        ("-leading", "Invalid connector name '-leading': \(nameRule)"),
        ("_leading", "Invalid connector name '_leading': \(nameRule)"),
        (".leading", "Invalid connector name '.leading': \(nameRule)"),
        ("with space", "Invalid connector name 'with space': \(nameRule)"),
        ("with/slash", "Invalid connector name 'with/slash': \(nameRule)"),
        ("..", "Invalid connector name '..': \(nameRule)"),
        ("a\u{7}b", "Invalid connector name: \(nameRule)"),
        ("tab\tname", "Invalid connector name: \(nameRule)"),
        ("newline\n", "Invalid connector name: \(nameRule)"),
        ("café", "Invalid connector name: \(nameRule)"),
        ("ｆｕｌｌｗｉｄｔｈ", "Invalid connector name: \(nameRule)"),
        ("name:colon", "Invalid connector name 'name:colon': \(nameRule)"),
    ])
    func invalidNamesAreRejected(name: String, message: String) async throws {
        try await withRegistry { registry, _ in
            await expectError(.invalidArgument, message) {
                try await registry.register(name: name, description: "d", secret: nil)
            }
            let remaining = try await registry.list(mode: nil, pageSize: 0, pageToken: "").connectors
            #expect(remaining.isEmpty)
        }
    }

    @Test(arguments: [
        String(repeating: "a", count: 64), "a.b-c_1", "A", "9lives", "x..y", "Mixed.Case-Name_2",
    ])
    func validNamesAreAccepted(name: String) async throws {
        try await withRegistry { registry, _ in
            let registration = try await registry.register(name: name, description: "d", secret: nil)
            #expect(registration.connector.name == name)
            #expect(registration.message == "Connector '\(name)' registered successfully")
        }
    }

    @Test func descriptionIsRequiredAndBounded() async throws {
        try await withRegistry { registry, _ in
            for blank in ["", "   ", "\n\t "] {
                await expectError(.invalidArgument, "A description is required") {
                    try await registry.register(name: "blank", description: blank, secret: nil)
                }
            }
            await expectError(.invalidArgument, "The description is longer than 4096 characters") {
                try await registry.register(name: "long", description: String(repeating: "d", count: 4097), secret: nil)
            }
            // 4,096 characters is the limit; characters, not bytes.
            let longest = try await registry.register(name: "longest", description: String(repeating: "d", count: 4096), secret: nil)
            #expect(longest.connector.description.count == 4096)
            let accented = String(repeating: "é", count: 4096)  // 8,192 bytes
            let wide = try await registry.register(name: "accented", description: accented, secret: nil)
            #expect(wide.connector.description == accented)
        }
    }

    @Test func secretIsBoundedInBytes() async throws {
        try await withRegistry { registry, _ in
            let largest = try await registry.register(name: "largest", description: "d", secret: String(repeating: "s", count: 4096))
            #expect(largest.connector.hasSecret)
            #expect(try await registry.secret(id: largest.connector.id) == String(repeating: "s", count: 4096))

            await expectError(.invalidArgument, "The secret is longer than 4096 bytes") {
                try await registry.register(name: "too-large", description: "d", secret: String(repeating: "s", count: 4097))
            }
            // 2,049 two-byte characters are 4,098 bytes.
            await expectError(.invalidArgument, "The secret is longer than 4096 bytes") {
                try await registry.register(name: "too-large-utf8", description: "d", secret: String(repeating: "é", count: 2049))
            }
            // Nothing was stored by the failed calls.
            let names = try await registry.list(mode: nil, pageSize: 0, pageToken: "").connectors.map(\.name)
            #expect(names == ["largest"])
        }
    }

    @Test func duplicateNameIsAlreadyExists() async throws {
        try await withRegistry { registry, _ in
            let first = try await register(registry, "my_connector")
            await expectError(.alreadyExists, "Connector with name 'my_connector' already exists") {
                try await registry.register(name: "my_connector", description: "again", secret: nil)
            }
            // Names are unique case-insensitively.
            await expectError(.alreadyExists, "Connector with name 'MY_Connector' already exists") {
                try await registry.register(name: "MY_Connector", description: "again", secret: "s")
            }
            let all = try await registry.list(mode: nil, pageSize: 0, pageToken: "").connectors
            #expect(all == [first])
            // The name is free again once the connector is deleted.
            _ = try await registry.delete(id: first.id)
            let again = try await register(registry, "My_Connector")
            #expect(again.id > first.id)
        }
    }

    @Test func concurrentDuplicateRegistrationsGiveExactlyOneSuccess() async throws {
        try await withRegistry { registry, _ in
            let results = await withTaskGroup(of: Result<Connector, ConnectorRegistryError>.self) { group in
                for index in 0..<20 {
                    group.addTask {
                        await capture { try await registry.register(name: "dup", description: "attempt \(index)", secret: "s\(index)").connector }
                    }
                }
                var results: [Result<Connector, ConnectorRegistryError>] = []
                for await result in group { results.append(result) }
                return results
            }
            let successes = results.compactMap { try? $0.get() }
            let failures = results.compactMap { result -> ConnectorRegistryError? in
                if case .failure(let error) = result { return error } else { return nil }
            }
            #expect(successes.count == 1)
            #expect(failures.count == 19)
            for failure in failures {
                #expect(failure == ConnectorRegistryError(.alreadyExists, "Connector with name 'dup' already exists"))
            }
            let stored = try await registry.list(mode: nil, pageSize: 0, pageToken: "").connectors
            #expect(stored.count == 1)
            #expect(stored.first == successes.first)
            // The winner's secret is the one stored with it.
            let winner = try #require(successes.first)
            let index = try #require(Int(winner.description.dropFirst("attempt ".count)))
            #expect(try await registry.secret(id: winner.id) == "s\(index)")
        }
    }

    @Test func concurrentRegistrationsDifferingOnlyInCaseGiveExactlyOneSuccess() async throws {
        try await withRegistry { registry, _ in
            let spellings = ["pg", "PG", "Pg", "pG"]
            let outcomes = await withTaskGroup(of: ConnectorRegistryError.Code?.self) { group in
                for index in 0..<16 {
                    group.addTask {
                        switch await capture({ try await registry.register(name: spellings[index % 4], description: "d", secret: nil) }) {
                        case .success: nil
                        case .failure(let error): error.code
                        }
                    }
                }
                var outcomes: [ConnectorRegistryError.Code?] = []
                for await outcome in group { outcomes.append(outcome) }
                return outcomes
            }
            #expect(outcomes.filter { $0 == nil }.count == 1)
            #expect(outcomes.filter { $0 == .alreadyExists }.count == 15)
        }
    }
}
