import ConnectorRegistry
import Foundation
import SampleConnectorKit
import Synchronization
import TestSupport
import Testing

/// ConnectorRegistry.watch and listChanges: the changes in revision order,
/// resumable from the history, with a bounded buffer per watcher.
@Suite(.timeLimit(.minutes(5)))
struct WatchTests {
    /// Collects events until `until` says stop (by throwing `Enough`).
    struct Enough: Error {}

    @Test func fromARevisionEveryChangeThenLiveInOrder() async throws {
        try await withRegistry { registry, _ in
            for index in 0..<5 { _ = try await registry.register(name: "before\(index)", description: "d", secret: nil) }
            let (seen, signal) = AsyncStream.makeStream(of: ConnectorEvent.self)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try? await registry.watch(startRevision: 3) { event in signal.yield(event) }
                }
                var iterator = seen.makeAsyncIterator()
                var revisions: [UInt64] = []
                for _ in 0..<3 { revisions.append(try #require(await iterator.next()).revision) }
                #expect(revisions == [3, 4, 5])
                let live = try await registry.register(name: "after", description: "d", secret: nil).connector
                let event = try #require(await iterator.next())
                #expect(event.revision == 6 && event.kind == .change(.registered) && event.connector == live)
                group.cancelAll()
            }
        }
    }

    @Test func aSlowWatcherIsEndedNamingWhereToResumeAndAFastOneGetsEverything() async throws {
        try await withRegistry { registry, _ in
            let gate = AsyncStream.makeStream(of: Void.self)
            let fast = Locked<[UInt64]>([])
            let (slowStarted, started) = AsyncStream.makeStream(of: Void.self)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try? await registry.watch(startRevision: 1) { event in
                        fast.withLock { $0.append(event.revision) }
                        if event.revision == 40 { throw Enough() }
                    }
                }
                let slow = Task {
                    try await registry.watch(startRevision: 0, bufferCapacity: 8) { _ in
                        started.yield()
                        for await _ in gate.stream {}  // never lets go until the gate is finished
                    }
                }
                _ = try await registry.register(name: "first", description: "d", secret: nil)
                var iterator = slowStarted.makeAsyncIterator()
                _ = await iterator.next()  // the slow watcher holds revision 1
                for index in 0..<39 { _ = try await registry.register(name: "c\(index)", description: "d", secret: nil) }
                gate.continuation.finish()
                let error = await #expect(throws: ConnectorRegistryError.self) { try await slow.value }
                #expect(error?.code == .resourceExhausted)
                // It delivered revision 1 and then its 8 buffered changes (2...9).
                #expect(error?.message == "Watch fell behind after revision 9; resume with start_revision 10")
                try await group.waitForAll()
                #expect(fast.value == Array(1...40), "the fast watcher is unaffected")
            }
        }
    }

    @Test func initialStateThenABookmarkThenChangesWhileWritesRace() async throws {
        try await withRegistry { registry, _ in
            for index in 0..<20 { _ = try await registry.register(name: "c\(index)", description: "d", secret: nil) }
            let replica = Locked<[Int64: Connector]>([:])
            let bookmark = Locked<UInt64?>(nil)
            let last = Locked<UInt64>(0)
            let finalRevision = try await withThrowingTaskGroup(of: UInt64?.self) { group in
                group.addTask {
                    var revision: UInt64 = 0
                    for index in 0..<60 {
                        let id = Int64(1 + index % 20)
                        if index % 3 == 0 {
                            revision = try await registry.register(name: "new\(index)", description: "d", secret: nil).connector.revision
                        } else if index % 7 == 0 {
                            revision = (try? await registry.delete(id: id))?.connector.revision ?? revision
                        } else {
                            revision = (try? await registry.setMode(id: id, to: .deactive))?.revision ?? revision
                        }
                    }
                    return revision
                }
                group.addTask {
                    try? await registry.watch(startRevision: 0, includeInitialState: true) { event in
                        switch event.kind {
                        case .snapshot:
                            #expect(bookmark.value == nil, "snapshots come before the bookmark")
                            replica.withLock { $0[event.connectorID] = event.connector }
                        case .bookmark:
                            bookmark.withLock { $0 = event.revision }
                        case .change(let kind):
                            #expect(event.revision > (bookmark.value ?? .max), "changes come after the bookmark")
                            replica.withLock { $0[event.connectorID] = kind == .deleted ? nil : event.connector }
                        }
                        last.withLock { $0 = max($0, event.revision) }
                    }
                    return nil
                }
                let writes = try await group.next()!!
                #expect(await eventually { last.value >= writes })
                group.cancelAll()
                return writes
            }
            let listed = try await registry.list(mode: nil, pageSize: 1000, pageToken: "")
            #expect(listed.revision == finalRevision)
            #expect(replica.value.values.sorted { $0.id < $1.id } == listed.connectors)
        }
    }

    @Test func aRevisionNoLongerKeptIsOutOfRange() async throws {
        let files = try TestFiles.make()
        defer { files.remove() }
        try await withConnectorRegistry(databasePath: files.databasePath, keyFilePath: files.keyPath, historyKeepRevisions: 4) { registry in
            for index in 0..<10 { _ = try await registry.register(name: "c\(index)", description: "d", secret: nil) }
            let error = await #expect(throws: ConnectorRegistryError.self) {
                try await registry.watch(startRevision: 2) { _ in }
            }
            #expect(error?.code == .outOfRange)
            #expect(error?.message == "Revision 2 is no longer kept; the oldest revision in the history is 7")
            await #expect(throws: ConnectorRegistryError.self) {
                try await registry.listChanges(startRevision: 6, maxEvents: 10, wait: .zero)
            }
            let kept = try await registry.listChanges(startRevision: 7, maxEvents: 10, wait: .zero)
            #expect(kept.events.map(\.revision) == [7, 8, 9, 10])
            #expect(kept.nextRevision == 11)
            // A watch refused, or a long poll answered at once, leaves nothing subscribed.
            _ = try await registry.listChanges(startRevision: 7, maxEvents: 10, wait: .seconds(60))
            #expect(registry.watcherCount == 0)
        }
    }

    @Test func listChangesPagesFiltersAndWaitsForTheNextChange() async throws {
        try await withRegistry { registry, _ in
            let first = try await registry.register(name: "a", description: "d", secret: nil).connector
            let second = try await registry.register(name: "b", description: "d", secret: nil).connector
            _ = try await registry.setMode(id: first.id, to: .deactive)
            let page = try await registry.listChanges(startRevision: 1, maxEvents: 2, wait: .zero)
            #expect(page.events.map(\.revision) == [1, 2])
            #expect(page.nextRevision == 3)
            let rest = try await registry.listChanges(startRevision: page.nextRevision, maxEvents: 10, wait: .zero)
            #expect(rest.events.map(\.revision) == [3])
            let ofSecond = try await registry.listChanges(startRevision: 1, maxEvents: 10, wait: .zero, filter: WatchFilter(connectorID: second.id))
            #expect(ofSecond.events.map(\.revision) == [2])

            // Nothing new: a long poll answers the next change as soon as it is committed.
            async let waited = registry.listChanges(startRevision: rest.nextRevision, maxEvents: 10, wait: .seconds(60))
            #expect(await eventually { registry.watcherCount > 0 })
            let third = try await registry.register(name: "c", description: "d", secret: nil).connector
            let answer = try await waited
            #expect(answer.events.map(\.connector) == [third])
            #expect(answer.nextRevision == third.revision + 1)
        }
    }
}
