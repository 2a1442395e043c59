import ConnectorRegistry
import Foundation
import GRDB
import SampleConnectorKit
import TestSupport
import Testing

/// The history: one record per committed change, written in its transaction,
/// chained by hashes that reveal an edited or removed record; compare-and-swap
/// and request ids on changes.
@Suite(.timeLimit(.minutes(5)))
struct HistoryTests {
    static let caller = Caller(uid: 4242, gid: 4343, pid: 77, processName: "tester")

    /// Every record, oldest first.
    static func allRecords(_ registry: ConnectorRegistry, connectorID: Int64? = nil) async throws -> [HistoryRecord] {
        var records: [HistoryRecord] = []
        var token = ""
        repeat {
            let page = try await registry.history(connectorID: connectorID, startRevision: 0, pageSize: 3, pageToken: token)
            records += page.records
            token = page.nextPageToken
        } while !token.isEmpty
        return records
    }

    @Test func everyChangeIsRecordedInOrderWithWhoAskedAndWhatItDid() async throws {
        try await withRegistryAndServer(SampleConnector.routes) { registry, server, _ in
            let request = ChangeRequest(caller: Self.caller)
            let registered = try await registry.register(name: "alpha", description: "d", secret: "s3cret", request: request)
            let id = registered.connector.id
            let activated = try await registry.activate(id: id, url: server.url("/connector.json"), request: request)
            let synced = try await registry.setMode(id: id, to: .sync, request: request)
            let other = try await registry.register(name: "beta", description: "d", secret: nil)
            let deleted = try await registry.delete(id: id, request: request)

            let records = try await Self.allRecords(registry)
            #expect(records.map(\.revision) == [1, 2, 3, 4, 5])
            #expect(records.map(\.kind) == [.registered, .activated, .modeChanged, .registered, .deleted])
            #expect(records.map(\.method) == ["Register", "Activate", "SetMode", "Register", "Delete"])
            #expect(records.map(\.connectorID) == [id, id, id, other.connector.id, id])
            #expect(records[0].caller == Self.caller)
            #expect(records[3].caller.pid == getpid(), "an in-process change names this process")
            #expect(records[0].connector == registered.connector)
            #expect(records[1].connector == activated.connector)
            #expect(records[1].message == activated.message)
            #expect(records[2].connector == synced)
            #expect(records[2].previousMode == .active)
            #expect(records[4].message == deleted.message)
            #expect(records[4].connector.name == "alpha" && records[4].connector.mode == .sync)
            #expect(records[4].connector.revision == 5)
            #expect(records.allSatisfy { $0.hash.count == 32 })
            #expect(Set(records.map(\.hash)).count == 5)
            // The secret is in no record.
            #expect(records.allSatisfy { !String(describing: $0).contains("s3cret") })
            #expect(try await Self.allRecords(registry, connectorID: other.connector.id).map(\.revision) == [4])

            let verification = try await registry.verifyHistory()
            #expect(verification.isOK)
            #expect(verification.records == 5)
            #expect(verification.oldestRevision == 1 && verification.latestRevision == 5)
        }
    }

    @Test func anEditedRecordIsReportedAtItsRevision() async throws {
        try await withRegistry { registry, files in
            for index in 0..<6 { _ = try await registry.register(name: "c\(index)", description: "d", secret: nil) }
            try files.inspect { db in
                try db.execute(sql: "UPDATE registry_history SET caller_uid = caller_uid + 1 WHERE revision = 4")
            }
            let verification = try await registry.verifyHistory()
            #expect(verification.firstBadRevision == 4)
            #expect(verification.records == 3)
            #expect(verification.message.contains("revision 4"))
        }
    }

    @Test(arguments: [2, 6])
    func aRemovedRecordIsReported(revision: Int) async throws {
        try await withRegistry { registry, files in
            for index in 0..<6 { _ = try await registry.register(name: "c\(index)", description: "d", secret: nil) }
            try files.inspect { db in try db.execute(sql: "DELETE FROM registry_history WHERE revision = ?", arguments: [revision]) }
            let verification = try await registry.verifyHistory()
            #expect(verification.firstBadRevision == UInt64(revision))
            #expect(verification.message.contains("missing"))
        }
    }

    @Test func aCompareAndSwapMismatchChangesNothing() async throws {
        try await withRegistryAndServer(SampleConnector.routes) { registry, server, _ in
            let connector = try await registry.register(name: "cas", description: "d", secret: nil).connector
            let stale = connector.revision + 7
            await expectError(.aborted, "Connector \(connector.id) is at revision \(connector.revision), not \(stale)") {
                try await registry.setMode(id: connector.id, to: .deactive, request: ChangeRequest(expectedRevision: stale))
            }
            await expectError(.aborted) {
                try await registry.activate(id: connector.id, url: server.url("/connector.json"), request: ChangeRequest(expectedRevision: stale))
            }
            await expectError(.aborted) { try await registry.delete(id: connector.id, request: ChangeRequest(expectedRevision: stale)) }
            #expect(try await registry.connector(id: connector.id) == connector)
            #expect(try await Self.allRecords(registry).count == 1)
            #expect(server.hitCount("/connector.json") == 0, "a mismatch is refused before fetching")

            // The right revision is accepted.
            let changed = try await registry.setMode(id: connector.id, to: .deactive, request: ChangeRequest(expectedRevision: connector.revision))
            #expect(changed.revision == connector.revision + 1)
        }
    }

    @Test func aRepeatedRequestIDAnswersTheFirstAnswerAlsoAfterAReopening() async throws {
        let files = try TestFiles.make()
        defer { files.remove() }
        let request = ChangeRequest(caller: Self.caller, requestID: "retry-1")
        let first = try await files.withRegistry { registry in
            let first = try await registry.register(name: "once", description: "d", secret: nil, request: request)
            let again = try await registry.register(name: "once", description: "d", secret: nil, request: request)
            #expect(again == first)
            return first
        }
        try await files.withRegistry { registry in
            let again = try await registry.register(name: "once", description: "d", secret: nil, request: request)
            #expect(again.connector == first.connector)
            #expect(again.message == first.message)
            #expect(try await registry.list(mode: nil, pageSize: 0, pageToken: "").connectors.count == 1)
            #expect(try await Self.allRecords(registry).count == 1)
            // Another uid's request id of the same text is its own.
            var otherCaller = Self.caller
            otherCaller.uid += 1
            await expectError(.alreadyExists) {
                try await registry.register(name: "once", description: "d", secret: nil, request: ChangeRequest(caller: otherCaller, requestID: "retry-1"))
            }
            // The id belongs to that change: another change with it is refused, and nothing changes.
            await expectError(.invalidArgument, "request_id 'retry-1' was used for Register of connector \(first.connector.id); use a new one for another change") {
                try await registry.setMode(id: first.connector.id, to: .deactive, request: request)
            }
            #expect(try await registry.connector(id: first.connector.id) == first.connector)
            // A deletion retried is answered, not NOT_FOUND.
            let deleteRequest = ChangeRequest(caller: Self.caller, requestID: "delete-1")
            let deleted = try await registry.delete(id: first.connector.id, request: deleteRequest)
            #expect(try await registry.delete(id: first.connector.id, request: deleteRequest) == deleted)
        }
    }

    @Test func concurrentRepeatsOfOneRequestIDChangeOnce() async throws {
        try await withRegistry { registry, _ in
            let request = ChangeRequest(caller: Self.caller, requestID: "burst")
            let answers = try await withThrowingTaskGroup(of: ConnectorRegistry.Registration.self) { group in
                for _ in 0..<20 { group.addTask { try await registry.register(name: "burst", description: "d", secret: nil, request: request) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(Set(answers.map(\.connector)).count == 1)
            #expect(try await Self.allRecords(registry).count == 1)
        }
    }

    @Test func aLongRequestIDIsRefused() async throws {
        try await withRegistry { registry, _ in
            await expectError(.invalidArgument) {
                try await registry.register(name: "x", description: "d", secret: nil, request: ChangeRequest(requestID: String(repeating: "r", count: 129)))
            }
        }
    }

    @Test func compactionKeepsTheLastRevisionsAndTheChainStillVerifies() async throws {
        let files = try TestFiles.make()
        defer { files.remove() }
        try await withConnectorRegistry(databasePath: files.databasePath, keyFilePath: files.keyPath, historyKeepRevisions: 5) { registry in
            for index in 0..<12 { _ = try await registry.register(name: "c\(index)", description: "d", secret: nil) }
            let records = try await Self.allRecords(registry)
            #expect(records.map(\.revision) == Array(8...12))
            let verification = try await registry.verifyHistory()
            #expect(verification.isOK, "\(verification.message)")
            #expect(verification.oldestRevision == 8)
            #expect(verification.records == 5)
        }
    }
}
