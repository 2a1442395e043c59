import ConnectorRegistry
import GRDB
import SampleConnectorKit
import Synchronization
import TestSupport
import Testing

/// List answers from the read model when a page's connectors are all in
/// memory (it holds every id by mode); otherwise the database decides which
/// ids a page has, the cache what each connector is, and the mode filter
/// holds on what is returned.
@Suite(.timeLimit(.minutes(5)))
struct CachedListTests {
    /// The revision of each entry.
    static func revisions(_ page: CachedConnectorPage) -> [Int64: UInt64?] {
        Dictionary(uniqueKeysWithValues: page.entries.map { ($0.id, Optional($0.revision)) })
    }

    @Test func aColdListFillsTheCacheAndRevisionsHoldUntilAChange() async throws {
        let files = try TestFiles.make()
        defer { files.remove() }
        let (ids, written) = try await files.withRegistry { registry in
            let ids = try await ListTests.registerMany(registry, 12)
            return (ids, try await registry.list(mode: nil, pageSize: 0, pageToken: "").connectors)
        }

        // Reopened: nothing cached, the page is read from the database and cached.
        try await files.withRegistry { registry in
            #expect(registry.cachedConnector(id: ids[0]) == nil)
            let cold = try await registry.cachedList(mode: nil, pageSize: 0, pageToken: "")
            #expect(cold.entries.map(\.connector) == written)
            #expect(cold.nextPageToken == "")
            let coldRevisions = Self.revisions(cold)
            #expect(coldRevisions.values.allSatisfy { $0 != nil }, "no write ran meanwhile: every connector read is cached")
            for id in ids { #expect(registry.cachedConnector(id: id)?.revision == coldRevisions[id] ?? nil) }

            // Again: the same values at the same revisions, and `list` agrees.
            let warm = try await registry.cachedList(mode: nil, pageSize: 0, pageToken: "")
            #expect(warm.entries.map(\.connector) == written)
            #expect(Self.revisions(warm) == coldRevisions)
            #expect(try await registry.list(mode: nil, pageSize: 0, pageToken: "").connectors == written)

            // A change gives that connector a new revision and value, and no other.
            let changed = try await registry.setMode(id: ids[4], to: .deactive)
            let after = try await registry.cachedList(mode: nil, pageSize: 0, pageToken: "")
            #expect(after.entries.map(\.connector) == written.map { $0.id == changed.id ? changed : $0 })
            var afterRevisions = Self.revisions(after)
            let newRevision = try #require(afterRevisions.removeValue(forKey: ids[4]) ?? nil)
            #expect(newRevision != coldRevisions[ids[4]] ?? nil)
            #expect(afterRevisions == coldRevisions.filter { $0.key != ids[4] })

            // A deleted connector leaves the listing.
            _ = try await registry.delete(id: ids[7])
            #expect(try await registry.cachedList(mode: nil, pageSize: 0, pageToken: "").entries.map(\.connector.id)
                == ids.filter { $0 != ids[7] })
        }
    }

    @Test func aCachedConnectorWhoseModeNoLongerMatchesIsLeftOutAndNothingIsSkipped() async throws {
        let files = try TestFiles.make()
        defer { files.remove() }
        let ids = try await files.withRegistry { registry in try await ListTests.registerMany(registry, 5) }
        try files.inspect { db in
            try db.execute(sql: "UPDATE mcp_connectors SET mode = 'sync'")
            try db.execute(sql: "UPDATE mcp_connectors SET mode = 'active' WHERE id = ?", arguments: [ids[1]])
        }
        try await files.withRegistry { registry in
            // The cache and the database disagree on the mode of ids[1]: the cache
            // holds `active`, the database (changed behind the registry's back,
            // standing for a change the page's snapshot has not seen) `sync`.
            #expect(try await registry.connector(id: ids[1]).mode == .active)
            try files.inspect { db in try db.execute(sql: "UPDATE mcp_connectors SET mode = 'sync' WHERE id = ?", arguments: [ids[1]]) }
            #expect(registry.cachedConnector(id: ids[1])?.connector.mode == .active)

            // Pages with a connector not in memory are read from the database,
            // which selects ids[1] for `sync`; it is left out, so a page made
            // only of it is empty, with a token that goes on after it.
            let one = try await registry.list(mode: .sync, pageSize: 1, pageToken: "")
            #expect(one.connectors.map(\.id) == [ids[0]])
            let leftOut = try await registry.list(mode: .sync, pageSize: 1, pageToken: one.nextPageToken)
            #expect(leftOut.connectors.isEmpty)
            #expect(!leftOut.nextPageToken.isEmpty)
            let next = try await registry.list(mode: .sync, pageSize: 1, pageToken: leftOut.nextPageToken)
            #expect(next.connectors.map(\.id) == [ids[2]])
            let rest = try await registry.list(mode: .sync, pageSize: 2, pageToken: next.nextPageToken)
            #expect(rest.connectors.map(\.id) == [ids[3], ids[4]])
            #expect(rest.nextPageToken == "")

            // Every connector is in memory now: pages come from the read model,
            // as it has them.
            let all = try await registry.list(mode: nil, pageSize: 0, pageToken: "")
            #expect(all.connectors.map(\.id) == ids)
            #expect(all.connectors.map(\.mode) == [.sync, .active, .sync, .sync, .sync])
            #expect(try await registry.list(mode: .active, pageSize: 0, pageToken: "").connectors.map(\.id) == [ids[1]])
            #expect(registry.cachedListInMemory(mode: .sync, pageSize: 0, pageToken: "")?.entries.map(\.id) == [ids[0], ids[2], ids[3], ids[4]])
        }
    }

    @Test func pagingWhileModesChangeReturnsEveryMatchingConnectorOnce() async throws {
        try await withRegistryAndServer(SampleConnector.routes) { registry, server, _ in
            let ids = try await ListTests.registerMany(registry, 45)
            // By position: 0 never activated (deactive), 1 active throughout, 2 flips between sync and active.
            let stableDeactive = ids.enumerated().filter { $0.offset % 3 == 0 }.map(\.element)
            let stableActive = ids.enumerated().filter { $0.offset % 3 == 1 }.map(\.element)
            let flipping = ids.enumerated().filter { $0.offset % 3 == 2 }.map(\.element)
            for id in stableActive + flipping { _ = try await registry.activate(id: id, url: server.url("/connector.json")) }

            /// Every page of one filter, checked as it goes; the ids listed.
            @Sendable func pass(_ mode: ConnectorMode?, pageSize: Int) async throws -> [Int64] {
                var seen: [Int64] = []
                var token = ""
                var pages = 0
                repeat {
                    let page = try await registry.list(mode: mode, pageSize: pageSize, pageToken: token)
                    #expect(page.connectors.count <= pageSize)
                    if let mode { #expect(page.connectors.allSatisfy { $0.mode == mode }, "a connector of another mode under \(mode)") }
                    seen += page.connectors.map(\.id)
                    token = page.nextPageToken
                    pages += 1
                } while !token.isEmpty && pages < 1000
                #expect(seen == seen.sorted() && Set(seen).count == seen.count, "ascending, nothing repeated")
                return seen
            }

            let writing = Flag()
            let passes = try await withThrowingTaskGroup(of: Int.self) { group in
                group.addTask {
                    defer { writing.clear() }
                    for round in 0..<8 {
                        for id in flipping { _ = try await registry.setMode(id: id, to: round % 2 == 0 ? .sync : .active) }
                    }
                    return 0
                }
                for (mode, pageSize) in [(ConnectorMode.active, 4), (.sync, 3), (.deactive, 5), (nil, 6)] {
                    group.addTask {
                        var passes = 0
                        // Until the writer is done, and at least twice.
                        while passes < 2 || writing.isSet {
                            let seen = try await pass(mode, pageSize: pageSize)
                            switch mode {
                            case .active?:
                                #expect(Set(stableActive).isSubset(of: Set(seen)), "every connector active throughout, once")
                                #expect(Set(seen).isSubset(of: Set(stableActive + flipping)))
                            case .sync?:
                                #expect(Set(seen).isSubset(of: Set(flipping)))
                            case .deactive?:
                                #expect(seen == stableDeactive)
                            case nil:
                                #expect(seen == ids)
                            }
                            passes += 1
                            if passes > 10_000 { break }
                            // Leave the machine to the other tests running alongside.
                            try await Task.sleep(for: .milliseconds(2))
                        }
                        return passes
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(passes >= 8)

            // Once the changes are over, each filter lists exactly its connectors.
            #expect(try await pass(.active, pageSize: 4) == (stableActive + flipping).sorted())
            #expect(try await pass(.sync, pageSize: 3) == [])
        }
    }
}

/// A flag set at first, cleared once by one task and read by others.
private final class Flag: Sendable {
    private let value = Atomic(true)

    var isSet: Bool { value.load(ordering: .acquiring) }

    func clear() { value.store(false, ordering: .releasing) }

    /// Random registrations, activations, mode changes and deletes, across a
    /// reopening: after each, every listing (from memory or the database, by
    /// any page size, of each mode) is what the database holds.
    @Test func listingsFollowEveryChangeAsTheDatabaseHasIt() async throws {
        let seed = SeededGenerator.testSeed()
        var random = SeededGenerator(seed: seed)
        let files = try TestFiles.make()
        defer { files.remove() }
        try await FixtureHTTPServer.with(routes: SampleConnector.routes) { server in
            var registered = 0
            for session in 0..<2 {
                try await files.withRegistry { registry in
                    for step in 0..<120 {
                        let ids = try files.inspect { db in try Int64.fetchAll(db, sql: "SELECT id FROM mcp_connectors") }
                        let target = ids.isEmpty ? nil : ids[random.next(below: ids.count)]
                        switch (random.next(below: 6), target) {
                        case (0, _), (_, nil):
                            _ = try await register(registry, "random\(registered)")
                            registered += 1
                        case (1, let id?):
                            _ = try await registry.activate(id: id, url: server.url("/connector.json"))
                        case (2, let id?), (3, let id?):
                            let mode = ConnectorMode.allCases[random.next(below: 3)]
                            _ = try? await registry.setMode(id: id, to: mode)  // sync or active before activation: refused
                        default:
                            _ = try await registry.delete(id: target!)
                        }
                        for mode in [nil] + ConnectorMode.allCases.map(Optional.some) {
                            let stored = try files.inspect { db in
                                try Int64.fetchAll(
                                    db, sql: "SELECT id FROM mcp_connectors WHERE ?1 IS NULL OR mode = ?1 ORDER BY id",
                                    arguments: [mode?.rawValue])
                            }
                            let pageSize = 1 + random.next(below: 8)
                            let listed = try await ListTests.listAll(registry, mode: mode, pageSize: pageSize).ids
                            #expect(listed == stored, "seed \(seed), session \(session), step \(step), mode \(mode?.rawValue ?? "any"), page size \(pageSize)")
                            if let inMemory = registry.cachedListInMemory(mode: mode, pageSize: 1000, pageToken: "") {
                                #expect(inMemory.entries.map(\.id) == stored, "seed \(seed), step \(step)")
                                #expect(inMemory.entries.allSatisfy { mode == nil || $0.mode == mode })
                            }
                        }
                    }
                }
            }
        }
    }
}
