import ConnectorRegistry
import Foundation
import GRDB
import SampleConnectorKit
import Testing

/// What the registry acknowledged is in the files: close, reopen, and it is there.
@Suite(.timeLimit(.minutes(5)))
struct DurabilityTests {
    @Test func dataSurvivesCloseAndReopen() async throws {
        let files = try TestFiles.make()
        defer { files.remove() }

        let (registered, activated, synced, deleted) = try await files.withRegistry { registry in
            try await FixtureHTTPServer.with(routes: SampleConnector.routes) { server in
                let registered = try await register(registry, "durable", secret: "durable-secret")
                let activated = try await registry.activate(id: try await register(registry, "active_one").id, url: server.url("/connector.json")).connector
                let synced = try await registry.setMode(id: try await register(registry, "synced").id, to: .deactive)
                let deleted = try await register(registry, "deleted")
                _ = try await registry.delete(id: deleted.id)
                return (registered, activated, synced, deleted)
            }
        }

        try await files.withRegistry { reopened in
            #expect(try await reopened.connector(id: registered.id) == registered)
            #expect(try await reopened.connector(id: activated.id) == activated)
            #expect(try await reopened.connector(id: synced.id) == synced)
            await expectError(.notFound) { try await reopened.connector(id: deleted.id) }
            #expect(try await reopened.secret(id: registered.id) == "durable-secret")
            #expect(try await reopened.logo(id: activated.id).data == Array(SampleConnector.logoSVG.utf8))
            #expect(try await reopened.list(mode: nil, pageSize: 0, pageToken: "").connectors == [registered, activated, synced])
            #expect(try await reopened.integrityCheck() == "ok")
            // Names stay taken and ids are not reused across restarts.
            await expectError(.alreadyExists, "Connector with name 'DURABLE' already exists") {
                try await reopened.register(name: "DURABLE", description: "d", secret: nil)
            }
            let next = try await register(reopened, "after_restart")
            #expect(next.id > deleted.id)
        }
    }

    @Test func databaseUsesWALAndFullSynchronousWrites() async throws {
        try await withRegistry { registry, files in
            _ = try await register(registry, "wal")
            let journalMode = try files.inspect { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
            #expect(journalMode?.lowercased() == "wal")
            // On the writer itself: GRDB's WAL set-up lowers it to NORMAL.
            #expect(try await registry.commitsAreSynced(), "commits are not synced to disk before they are acknowledged")
            #expect(try await registry.integrityCheck() == "ok")
        }
    }
}

/// Small domain values the server layer relies on.
@Suite struct DomainValueTests {
    @Test func superuserRequiredError() {
        #expect(ConnectorRegistryError.superuserRequired.code == .permissionDenied)
        #expect(ConnectorRegistryError.superuserRequired.message == "Access denied. Superuser role required.")
        #expect("\(ConnectorRegistryError.superuserRequired)" == "Access denied. Superuser role required.")
    }

    @Test func timestampsAreUTCWithMicroseconds() {
        #expect(Timestamp(microseconds: 1_760_385_600_000_000).rfc3339 == "2025-10-13T20:00:00.000000Z")
        #expect(Timestamp(microseconds: 1_760_385_900_123_456).rfc3339 == "2025-10-13T20:05:00.123456Z")
        #expect(Timestamp(microseconds: -1).rfc3339 == "1969-12-31T23:59:59.999999Z")
        #expect(Timestamp(microseconds: 0) < Timestamp(microseconds: 1))
    }

    @Test func modesAreTheSeedsThree() {
        #expect(ConnectorMode.allCases.map(\.rawValue).sorted() == ["active", "deactive", "sync"])
    }
}
