import ConnectorRegistry
import Foundation
import GRDB
import SampleConnectorKit
import Synchronization
import TestSupport
import Testing

/// Revisions: every committed change gets the next registry-wide revision,
/// durable and never reused; the read model that Get and List answer from is
/// never older than an acknowledged change, and a deleted connector never
/// comes back.
@Suite(.timeLimit(.minutes(5)))
struct RevisionTests {
    @Test func everyChangeTakesTheNextRevision() async throws {
        try await withRegistryAndServer(SampleConnector.routes) { registry, server, _ in
            let registered = try await register(registry, "first")
            #expect(registered.revision == 1)
            let activated = try await registry.activate(id: registered.id, url: server.url("/connector.json")).connector
            #expect(activated.revision == 2)
            let moded = try await registry.setMode(id: registered.id, to: .sync)
            #expect(moded.revision == 3)
            let second = try await register(registry, "second")
            #expect(second.revision == 4)
            #expect(try await registry.list(mode: nil, pageSize: 0, pageToken: "").revision == 4)
            let deleted = try await registry.delete(id: registered.id)
            #expect(deleted.connector.revision == 5, "a delete is a change with its own revision")
            #expect(try await registry.list(mode: nil, pageSize: 0, pageToken: "").revision == 5)
            // A refused change takes none: the next one is 6.
            await expectError(.alreadyExists) { try await registry.register(name: "SECOND", description: "d", secret: nil) }
            await expectError(.notFound) { try await registry.setMode(id: registered.id, to: .deactive) }
            #expect(try await register(registry, "third").revision == 6)
        }
    }

    @Test func revisionsKeepIncreasingAcrossReopeningAndAreNeverReused() async throws {
        let files = try TestFiles.make()
        defer { files.remove() }
        let last = try await files.withRegistry { registry in
            let a = try await register(registry, "a")
            _ = try await register(registry, "b")
            return try await registry.delete(id: a.id).connector.revision
        }
        #expect(last == 3)
        try await files.withRegistry { registry in
            #expect(try await registry.list(mode: nil, pageSize: 0, pageToken: "").revision == last)
            let next = try await register(registry, "a")
            #expect(next.revision == last + 1)
        }
    }

    /// A database made before revisions: its connectors get revisions 1...n
    /// by id, and the registry's revision is n.
    @Test func aDatabaseFromBeforeRevisionsIsNumbered() async throws {
        let files = try TestFiles.make()
        defer { files.remove() }
        try await files.withRegistry { registry in
            for name in ["x", "y", "z"] { _ = try await register(registry, name) }
        }
        // Back to the first schema: no revision column, no registry revision.
        try files.inspect { db in
            try db.execute(sql: "DROP TABLE registry_revision")
            try db.execute(sql: "ALTER TABLE mcp_connectors DROP COLUMN revision")
            try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier = 'v2: revisions'")
        }
        try await files.withRegistry { registry in
            let page = try await registry.list(mode: nil, pageSize: 0, pageToken: "")
            #expect(page.connectors.map(\.revision) == [1, 2, 3])
            #expect(page.revision == 3)
            #expect(try await register(registry, "w").revision == 4)
        }
    }

    /// Sixteen writers change one connector (mode changes and activations)
    /// while a Get and a List after each acknowledged change must show it at
    /// that revision or later; at the end of each round a Delete is sent
    /// among them, and once it is acknowledged the connector is not found,
    /// for good. Two writes to one connector in one group-commit batch used to
    /// race on putting their result in the cache: an older state, or a
    /// deleted connector, stayed there.
    @Test func readsAreNeverOlderThanAnAcknowledgedChangeAndDeletedStaysDeleted() async throws {
        let seed = SeededGenerator.testSeed()
        try await withRegistryAndServer(SampleConnector.routes) { registry, server, _ in
            let url = server.url("/connector.json")
            for round in 0..<24 {
                let connector = try await register(registry, "hammered_\(round)")
                _ = try await registry.activate(id: connector.id, url: url)
                let stale = StaleReads()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for writer in 0..<16 {
                        group.addTask {
                            var random = SeededGenerator(seed: seed &+ UInt64(round * 16 + writer))
                            for _ in 0..<6 {
                                let change: Connector
                                do {
                                    switch random.next() % 4 {
                                    case 0: change = try await registry.activate(id: connector.id, url: url).connector
                                    case 1: change = try await registry.setMode(id: connector.id, to: .active)
                                    case 2: change = try await registry.setMode(id: connector.id, to: .sync)
                                    default: change = try await registry.setMode(id: connector.id, to: .deactive)
                                    }
                                } catch let error as ConnectorRegistryError where error.code == .notFound || error.code == .aborted {
                                    continue  // deleted meanwhile, or an activation already running
                                }
                                let seen = try? await registry.connector(id: connector.id)
                                if let seen, seen.revision < change.revision {
                                    stale.withLock { $0.append("Get: \(seen.revision) after \(change.revision)") }
                                }
                                let listed = try await registry.list(mode: nil, pageSize: 1000, pageToken: "")
                                if listed.revision < change.revision {
                                    stale.withLock { $0.append("List read at \(listed.revision) after \(change.revision)") }
                                }
                                if let inList = listed.connectors.first(where: { $0.id == connector.id }), inList.revision < change.revision {
                                    stale.withLock { $0.append("List: \(inList.revision) after \(change.revision)") }
                                }
                            }
                        }
                    }
                    // The Delete, sent while the writers run.
                    let deleted = try await registry.delete(id: connector.id)
                    for _ in 0..<20 {
                        if (try? await registry.connector(id: connector.id)) != nil {
                            stale.withLock { $0.append("found after its delete at \(deleted.connector.revision)") }
                        }
                        await Task.yield()
                    }
                    try await group.waitForAll()
                }
                // After every writer is done too: gone for good.
                await expectError(.notFound) { try await registry.connector(id: connector.id) }
                #expect(registry.cachedConnector(id: connector.id) == nil)
                #expect(try await !registry.list(mode: nil, pageSize: 1000, pageToken: "").connectors.contains { $0.id == connector.id })
                #expect(stale.withLock { $0 }.isEmpty, "round \(round), seed \(seed): \(stale.withLock { $0 })")
            }
        }
    }
}

/// What a reader saw that it should not have.
final class StaleReads: Sendable {
    private let seen = Mutex<[String]>([])

    func withLock<T>(_ body: (inout [String]) -> T) -> T { seen.withLock { body(&$0) } }
}

