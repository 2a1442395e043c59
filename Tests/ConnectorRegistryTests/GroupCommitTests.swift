import Foundation
import GRDB
import Synchronization
import TestSupport
import Testing

@testable import ConnectorRegistry

/// Group commit on a real SQLite file: concurrent writes share transactions,
/// each writer gets its own result once its transaction is committed, and a
/// write that fails is rolled back alone.
@Suite(.timeLimit(.minutes(5)))
struct GroupCommitTests {
    @Test("200 concurrent writes: every one committed with its own result, in far fewer transactions")
    func concurrentWritesShareCommits() async throws {
        try await withScratchDatabase { pool, commits in
            let writes = GroupCommit(database: pool)
            let count = 200
            let ids = try await withThrowingTaskGroup(of: (Int, Int64).self) { group in
                for index in 0..<count {
                    group.addTask {
                        let id = try await writes.write { db in
                            try db.execute(sql: "INSERT INTO item (value) VALUES (?)", arguments: [index])
                            return db.lastInsertedRowID
                        }
                        return (index, id)
                    }
                }
                return try await group.reduce(into: [Int: Int64]()) { $0[$1.0] = $1.1 }
            }
            let stored = try await pool.read { db in
                try Row.fetchAll(db, sql: "SELECT id, value FROM item").reduce(into: [Int: Int64]()) { $0[$1["value"]] = $1["id"] }
            }
            #expect(ids.count == count)
            #expect(stored == ids, "each writer was answered with the id of its own row")
            let transactions = commits.count
            #expect(transactions >= 1)
            #expect(transactions <= count / 2, "\(transactions) transactions for \(count) concurrent writes")
        }
    }

    @Test("a write that fails is rolled back alone; the others in its batch commit")
    func failingWriteIsRolledBackAlone() async throws {
        struct Refused: Error, Equatable { let index: Int }
        try await withScratchDatabase { pool, _ in
            let writes = GroupCommit(database: pool)
            let outcomes = await withTaskGroup(of: (Int, Bool).self) { group in
                for index in 0..<60 {
                    group.addTask {
                        do {
                            try await writes.write { db in
                                try db.execute(sql: "INSERT INTO item (value) VALUES (?)", arguments: [index])
                                if index % 3 == 0 { throw Refused(index: index) }
                            }
                            return (index, true)
                        } catch {
                            #expect(error as? Refused == Refused(index: index), "a writer got another's error: \(error)")
                            return (index, false)
                        }
                    }
                }
                return await group.reduce(into: [Int: Bool]()) { $0[$1.0] = $1.1 }
            }
            let stored = try await pool.read { db in Set(try Int.fetchAll(db, sql: "SELECT value FROM item")) }
            #expect(stored == Set((0..<60).filter { $0 % 3 != 0 }))
            #expect(outcomes == Dictionary(uniqueKeysWithValues: (0..<60).map { ($0, $0 % 3 != 0) }))
        }
    }

    @Test("a unique-name conflict between writes of one batch fails only the later one")
    func duplicateNamesInOneBatch() async throws {
        try await withRegistry { registry, _ in
            let results = await withTaskGroup(of: Result<Int64, ConnectorRegistryError>.self) { group in
                for index in 0..<40 {
                    group.addTask {
                        do throws(ConnectorRegistryError) {
                            return .success(try await registry.register(name: "dup_\(index % 10)", description: "d", secret: nil).connector.id)
                        } catch {
                            return .failure(error)
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            let ids = results.compactMap { try? $0.get() }
            #expect(ids.count == 10)
            #expect(results.allSatisfy { result in
                if case .failure(let error) = result { return error.code == .alreadyExists }
                return true
            })
            let page = try await registry.list(mode: nil, pageSize: 100, pageToken: "")
            #expect(Set(page.connectors.map(\.name)) == Set((0..<10).map { "dup_\($0)" }))
            #expect(Set(page.connectors.map(\.id)) == Set(ids))
        }
    }

    /// The leader of a batch commits it in its caller's task. That caller
    /// cancelled (its deadline passed, it hung up) must not fail the others:
    /// GRDB cancels an async write with the task awaiting it.
    @Test("a batch of 100 whose leader's caller is cancelled is committed, and every writer is told its outcome")
    func cancelledLeaderDoesNotSinkItsBatch() async throws {
        try await withScratchDatabase { pool, _ in
            let writes = GroupCommit(database: pool)
            // A first write holds the writer (on GRDB's queue, not a cooperative thread)
            // while the batch of 100 gathers behind it.
            let release = DispatchSemaphore(value: 0)
            let holding = Mutex(false)
            async let first: Void = writes.write { db in
                holding.withLock { $0 = true }
                release.wait()
                try db.execute(sql: "INSERT INTO item (value) VALUES (-1)")
            }
            #expect(await eventually { holding.withLock { $0 } })

            func insert(_ value: Int) -> Task<Int64, any Error> {
                Task {
                    try await writes.write { db in
                        try db.execute(sql: "INSERT INTO item (value) VALUES (?)", arguments: [value])
                        return db.lastInsertedRowID
                    }
                }
            }
            // The oldest waiter leads the next batch.
            let leader = insert(0)
            #expect(await eventually { writes.queuedCount == 1 })
            let others = (1..<100).map(insert)
            #expect(await eventually { writes.queuedCount == 100 })
            leader.cancel()
            release.signal()
            try await first

            var acknowledged: Set<Int> = []
            for (offset, task) in others.enumerated() {
                if case .success = await task.result { acknowledged.insert(offset + 1) }
            }
            #expect(acknowledged == Set(1..<100), "writes failed with their leader's caller")
            let leaderOutcome = await leader.result
            let stored = try await pool.read { db in Set(try Int.fetchAll(db, sql: "SELECT value FROM item WHERE value >= 0")) }
            #expect(stored.isSuperset(of: Set(1..<100)))
            // The leader's own caller is told what is on disk.
            switch leaderOutcome {
            case .success: #expect(stored.contains(0), "acknowledged but not stored")
            case .failure(let error): #expect(!stored.contains(0), "stored but the caller was told \(error)")
            }
        }
    }

    /// A WAL database with synchronous = FULL and an `item` table, and the count of its commits.
    private func withScratchDatabase(_ body: (DatabasePool, CommitCounter) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("group-commit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let pool = try DatabasePool(path: directory.appendingPathComponent("db.sqlite").path)
        let counter = CommitCounter()
        try await pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            try db.execute(sql: "CREATE TABLE item (id INTEGER PRIMARY KEY, value INTEGER NOT NULL)")
            db.add(transactionObserver: counter, extent: .databaseLifetime)
        }
        try await body(pool, counter)
        try pool.close()
    }
}

/// Counts committed transactions that changed something.
private final class CommitCounter: TransactionObserver, Sendable {
    private let commits = Mutex(0)
    var count: Int { commits.withLock { $0 } }
    func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool { true }
    func databaseDidChange(with event: DatabaseEvent) {}
    func databaseDidCommit(_ db: Database) { commits.withLock { $0 += 1 } }
    func databaseDidRollback(_ db: Database) {}
}
