import ConnectorAPI
import ConnectorClient
import ConnectorServer
import Foundation
import TTRPC
import TestSupport
import Testing

/// Watch over the daemon's socket: every change in revision order under
/// concurrent writers, and a watcher that does not read cut off alone.
@Suite(.timeLimit(.minutes(5)))
struct WatchOverTheWireTests {
    @Test func thirtyTwoWritersAndEveryChangeArrivesInOrderOnce() async throws {
        try await withDaemon { running, _ in
            let watcher = ConnectorClient(socketPath: running.socketPath)
            let writers = (0..<32).map { _ in ConnectorClient(socketPath: running.socketPath) }
            let seen = try await withThrowingTaskGroup(of: [ConnectorsV1.WatchEvent]?.self) { group in
                group.addTask {
                    try await watcher.watch(ConnectorsV1.WatchRequest(startRevision: 1)) { events in
                        var seen: [ConnectorsV1.WatchEvent] = []
                        for try await event in events {
                            seen.append(event)
                            if seen.count == 32 * 4 { break }
                        }
                        return seen
                    }
                }
                for (index, writer) in writers.enumerated() {
                    group.addTask {
                        let id = try await writer.register(name: "w\(index)", description: "d").connector.id
                        _ = try await writer.setMode(id: id, mode: .deactive)
                        _ = try await writer.setMode(id: id, mode: .deactive)
                        _ = try await writer.delete(id: id)
                        return nil
                    }
                }
                var seen: [ConnectorsV1.WatchEvent] = []
                for try await result in group { if let result { seen = result } }
                return seen
            }
            for writer in writers { await writer.close() }
            await watcher.close()
            #expect(seen.map(\.revision) == Array(1...128), "every revision, in order, once")
            // Each connector's own events are register, two mode changes, delete.
            let byConnector = Dictionary(grouping: seen, by: \.connectorID)
            #expect(byConnector.count == 32)
            for events in byConnector.values {
                #expect(events.map(\.kind) == [.registered, .modeChanged, .modeChanged, .deleted])
            }
        }
    }

    @Test func aWatchThatIsNotReadFailsAloneAndTheOtherOnTheConnectionGetsEverything() async throws {
        try await withDaemon { running, _ in
            let client = ConnectorClient(socketPath: running.socketPath)
            let description = String(repeating: "d", count: 4096)
            let count = 400  // about 4 KiB each: well past a stream's 1 MiB buffer
            let gate = AsyncStream.makeStream(of: Void.self)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    // Opened, then never read until the gate is finished.
                    let error = await #expect(throws: RPCError.self) {
                        try await client.watch(ConnectorsV1.WatchRequest(startRevision: 1)) { events in
                            for await _ in gate.stream {}
                            for try await _ in events {}
                        }
                    }
                    #expect(error?.code == .resourceExhausted, "\(String(describing: error))")
                }
                group.addTask {
                    let revisions = try await client.watch(ConnectorsV1.WatchRequest(startRevision: 1)) { events in
                        var revisions: [UInt64] = []
                        for try await event in events {
                            revisions.append(event.revision)
                            if revisions.count == count { break }
                        }
                        return revisions
                    }
                    #expect(revisions == Array(1...UInt64(count)))
                    gate.continuation.finish()
                }
                for index in 0..<count {
                    _ = try await running.client.register(name: "c\(index)", description: description)
                }
                try await group.waitForAll()
            }
            // The connection still serves calls.
            #expect(try await client.get(id: 1).name == "c0")
            await client.close()
        }
    }
}

/// A graceful stop ends open watches at once, saying where to resume, instead
/// of holding the stop for the grace period.
@Suite(.timeLimit(.minutes(5)))
struct WatchShutdownTests {
    @Test func aStopEndsOpenWatchesAtOnceWithTheRevisionToResumeFrom() async throws {
        try await withDaemon(configure: { $0.shutdownGracePeriod = .seconds(3600) }) { running, _ in
            _ = try await running.client.register(name: "a", description: "d")
            _ = try await running.client.register(name: "b", description: "d")
            let watcher = ConnectorClient(socketPath: running.socketPath)
            let error = await #expect(throws: RPCError.self) {
                try await watcher.watch(ConnectorsV1.WatchRequest(startRevision: 1)) { events in
                    var seen = 0
                    for try await _ in events {
                        seen += 1
                        if seen == 2 { running.daemon.stop() }
                    }
                }
            }
            #expect(error?.code == .unavailable)
            #expect(error?.message == "connectord is stopping; watch again with start_revision 3")
            await watcher.close()
        }
    }
}
