import ConnectorAPI
import ConnectorClient
import ConnectorServer
import Foundation
import SampleConnectorKit
import Synchronization
import TTRPC
import TestSupport
import Testing

/// Revisions as a client sees them: after an acknowledged change at
/// revision r, a Get and a List on any other connection show r or later; an
/// acknowledged Delete is NOT_FOUND for good; a restarted daemon goes on
/// from its last revision.
@Suite(.timeLimit(.minutes(5)))
struct RevisionOverTheWireTests {
    /// Sixteen connections change one connector (SetMode, Activate) and each
    /// checks, after every acknowledged answer, a Get and a List on another
    /// connection; a Delete is sent among them at the end of every round.
    @Test func readsOnOtherConnectionsAreNeverOlderThanAnAcknowledgedChange() async throws {
        let seed = SeededGenerator.testSeed()
        try await withDaemon { running, _ in
            try await FixtureHTTPServer.with(routes: SampleConnector.routes) { server in
                let url = server.url("/connector.json")
                let writers = (0..<16).map { _ in ConnectorClient(socketPath: running.socketPath) }
                let readers = (0..<4).map { _ in ConnectorClient(socketPath: running.socketPath) }
                let problems = Problems()
                for round in 0..<48 {
                    let id = try await running.client.register(name: "hammered_\(round)", description: "d").connector.id
                    _ = try await running.client.activate(id: id, url: url)
                    let acknowledged = Counter()
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for (index, writer) in writers.enumerated() {
                            let reader = readers[index % readers.count]
                            group.addTask {
                                var random = SeededGenerator(seed: seed &+ UInt64(round * 16 + index))
                                for _ in 0..<4 {
                                    let revision: UInt64
                                    do {
                                        switch random.next() % 4 {
                                        case 0: revision = try await writer.activate(id: id, url: url).connector.revision
                                        case 1: revision = try await writer.setMode(id: id, mode: .active).revision
                                        case 2: revision = try await writer.setMode(id: id, mode: .sync).revision
                                        default: revision = try await writer.setMode(id: id, mode: .deactive).revision
                                        }
                                    } catch let error as RPCError where error.code == .notFound || error.code == .aborted {
                                        continue  // deleted meanwhile, or an activation already running
                                    }
                                    acknowledged.increment()
                                    if let seen = try? await reader.get(id: id), seen.revision < revision {
                                        problems.add("Get on another connection: \(seen.revision) after \(revision)")
                                    }
                                    let page = try await reader.list(pageSize: 1000)
                                    if page.revision < revision {
                                        problems.add("List read at \(page.revision) after \(revision)")
                                    }
                                    if let listed = page.connectors.first(where: { $0.id == id }), listed.revision < revision {
                                        problems.add("List: \(listed.revision) after \(revision)")
                                    }
                                }
                            }
                        }
                        // In the middle of the storm: changes acknowledged, others in flight.
                        #expect(await eventually(every: .milliseconds(1)) { acknowledged.value >= 8 })
                        let deleted = try await running.client.delete(id: id)
                        #expect(deleted.connectorID == id)
                        for reader in readers {
                            if (try? await reader.get(id: id)) != nil { problems.add("round \(round): found after its Delete") }
                        }
                        try await group.waitForAll()
                    }
                    // Gone for good, on every connection.
                    for reader in readers + [running.client] {
                        await expectRPCError(.notFound, "Connector with ID \(id) not found") { try await reader.get(id: id) }
                        #expect(try await !reader.list(pageSize: 1000).connectors.contains { $0.id == id })
                    }
                }
                #expect(problems.all.isEmpty, "seed \(seed): \(problems.all.prefix(20))")
                for client in writers + readers { await client.close() }
            }
        }
    }

    @Test func aRestartedDaemonGoesOnFromItsLastRevision() async throws {
        try await withTempDirectory { directory in
            let configuration = testConfiguration(in: directory)
            let last = try await withDaemon(configuration) { running in
                let first = try await running.client.register(name: "before", description: "d").connector
                #expect(first.revision == 1)
                let moved = try await running.client.setMode(id: first.id, mode: .deactive)
                #expect(moved.revision == 2)
                _ = try await running.client.delete(id: first.id)
                let page = try await running.client.list()
                #expect(page.revision == 3, "the delete is revision 3")
                return page.revision
            }
            try await withDaemon(configuration) { running in
                #expect(try await running.client.list().revision == last)
                let after = try await running.client.register(name: "after", description: "d").connector
                #expect(after.revision == last + 1)
                #expect(try await running.client.get(id: after.id).revision == last + 1)
            }
        }
    }
}

/// What the readers saw that they should not have.
final class Problems: Sendable {
    private let seen = Mutex<[String]>([])

    func add(_ problem: String) { seen.withLock { $0.append(problem) } }
    var all: [String] { seen.withLock { $0 } }
}

/// A count shared by tasks.
final class Counter: Sendable {
    private let count = Mutex(0)

    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}

