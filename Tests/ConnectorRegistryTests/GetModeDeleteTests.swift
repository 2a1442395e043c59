import ConnectorRegistry
import Foundation
import GRDB
import SampleConnectorKit
import Testing

/// Get, GetLogo, SetMode and Delete.
@Suite(.timeLimit(.minutes(5)))
struct GetModeDeleteTests {
    // MARK: Get and GetLogo

    @Test func getAndGetLogoOfAnUnknownIDAreNotFound() async throws {
        try await withRegistry { registry, _ in
            await expectError(.notFound, "Connector with ID 99 not found") { try await registry.connector(id: 99) }
            await expectError(.notFound, "Connector with ID 99 not found") { try await registry.logo(id: 99) }
            await expectError(.notFound, "Connector with ID 0 not found") { try await registry.connector(id: 0) }
            await expectError(.notFound, "Connector with ID -1 not found") { try await registry.connector(id: -1) }
            await expectError(.notFound, "Connector with ID 99 not found") { try await registry.secret(id: 99) }
        }
    }

    @Test func getLogoWithoutALogoIsNotFound() async throws {
        try await withRegistry { registry, _ in
            let connector = try await register(registry, "plain")
            let error = await expectError(.notFound, "Connector 'plain' has no logo") { try await registry.logo(id: connector.id) }
            #expect(error?.message.contains("no logo") == true)
        }
    }

    @Test func getReturnsTheStoredRecord() async throws {
        try await withRegistry { registry, _ in
            let a = try await register(registry, "a")
            let b = try await register(registry, "b", secret: "x")
            #expect(try await registry.connector(id: a.id) == a)
            #expect(try await registry.connector(id: b.id) == b)
            #expect(try await registry.connector(id: b.id).hasSecret)
        }
    }

    // MARK: SetMode

    @Test func deactiveIsAlwaysAllowed() async throws {
        try await withRegistry { registry, _ in
            let connector = try await register(registry, "never_activated")
            try await Task.sleep(for: .milliseconds(2))
            let updated = try await registry.setMode(id: connector.id, to: .deactive)
            #expect(updated.mode == .deactive)
            #expect(updated.updatedAt > connector.updatedAt)
            #expect(updated.createdAt == connector.createdAt)
        }
    }

    @Test(arguments: [ConnectorMode.active, .sync])
    func activeOrSyncBeforeActivationIsFailedPrecondition(mode: ConnectorMode) async throws {
        try await withRegistry { registry, _ in
            let connector = try await register(registry, "never_activated")
            let error = await expectError(
                .failedPrecondition, "Connector 'never_activated' has not been activated; activate it first with its connector URL"
            ) {
                try await registry.setMode(id: connector.id, to: mode)
            }
            #expect(error?.message.contains("activate it first") == true)
            #expect(try await registry.connector(id: connector.id) == connector)
        }
    }

    @Test(arguments: ConnectorMode.allCases)
    func setModeOfAnUnknownIDIsNotFound(mode: ConnectorMode) async throws {
        try await withRegistry { registry, _ in
            await expectError(.notFound, "Connector with ID 42 not found") { try await registry.setMode(id: 42, to: mode) }
        }
    }

    @Test func manualTransitionsAfterActivation() async throws {
        try await withRegistryAndServer(SampleConnector.routes) { registry, server, _ in
            let registered = try await register(registry, "switching")
            let active = try await registry.activate(id: registered.id, url: server.url("/connector.json")).connector
            var previous = active
            for mode in [ConnectorMode.sync, .deactive, .active, .deactive, .sync, .active] {
                try await Task.sleep(for: .milliseconds(2))
                let updated = try await registry.setMode(id: registered.id, to: mode)
                #expect(updated.mode == mode)
                #expect(updated.updatedAt > previous.updatedAt)
                #expect(updated.createdAt == active.createdAt)
                // Only the mode, updated_at and the revision change.
                #expect(updated.revision == previous.revision + 1)
                var expected = active
                expected.mode = mode
                expected.updatedAt = updated.updatedAt
                expected.revision = updated.revision
                #expect(updated == expected)
                #expect(try await registry.connector(id: registered.id) == updated)
                previous = updated
            }
            #expect(try await registry.logo(id: registered.id).contentType == "image/svg+xml")
        }
    }

    // MARK: Delete

    @Test func deleteRemovesTheRecordAndItsLogo() async throws {
        try await withRegistryAndServer(SampleConnector.routes) { registry, server, files in
            let registered = try await register(registry, "to_delete", secret: "delete-me")
            let kept = try await register(registry, "kept")
            let active = try await registry.activate(id: registered.id, url: server.url("/connector.json")).connector
            #expect(active.hasLogo)

            let outcome = try await registry.delete(id: registered.id)
            #expect(outcome.message == "Connector 'to_delete' deleted successfully")
            // What was deleted, at the revision of its deletion.
            var deleted = active
            deleted.revision = active.revision + 1
            #expect(outcome.connector == deleted)

            await expectError(.notFound, "Connector with ID \(registered.id) not found") { try await registry.connector(id: registered.id) }
            await expectError(.notFound, "Connector with ID \(registered.id) not found") { try await registry.logo(id: registered.id) }
            await expectError(.notFound, "Connector with ID \(registered.id) not found") { try await registry.secret(id: registered.id) }
            await expectError(.notFound, "Connector with ID \(registered.id) not found") { try await registry.delete(id: registered.id) }
            await expectError(.notFound, "Connector with ID \(registered.id) not found") {
                try await registry.setMode(id: registered.id, to: .deactive)
            }
            await expectError(.notFound, "Connector with ID \(registered.id) not found") {
                try await registry.activate(id: registered.id, url: server.url("/connector.json"))
            }
            #expect(try await registry.list(mode: nil, pageSize: 0, pageToken: "").connectors == [kept])

            let (rows, logos, total) = try files.inspect { db in
                (
                    try Int.fetchOne(db, sql: "SELECT count(*) FROM mcp_connectors WHERE id = ?", arguments: [registered.id]),
                    try Int.fetchOne(db, sql: "SELECT count(*) FROM mcp_connectors WHERE logo IS NOT NULL OR logo_content_type IS NOT NULL"),
                    try Int.fetchOne(db, sql: "SELECT count(*) FROM mcp_connectors")
                )
            }
            #expect(rows == 0)
            #expect(logos == 0)
            #expect(total == 1)
        }
    }

    @Test func deleteOfAnUnknownIDIsNotFound() async throws {
        try await withRegistry { registry, _ in
            await expectError(.notFound, "Connector with ID 99 not found") { try await registry.delete(id: 99) }
        }
    }

    @Test func deleteOfADeactiveConnector() async throws {
        try await withRegistry { registry, _ in
            let connector = try await register(registry, "registered_only")
            let outcome = try await registry.delete(id: connector.id)
            #expect(outcome.message == "Connector 'registered_only' deleted successfully")
            var deleted = connector
            deleted.revision = connector.revision + 1
            #expect(outcome.connector == deleted)
            #expect(try await registry.list(mode: nil, pageSize: 0, pageToken: "").connectors.isEmpty)
        }
    }
}
