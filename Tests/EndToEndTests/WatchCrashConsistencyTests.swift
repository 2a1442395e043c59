import Foundation
import Glibc
import Synchronization
import TestSupport
import Testing

/// `connectorctl watch --since 1` follows the registry while `connectord` is
/// SIGKILLed and restarted again and again under a stream of changes: it
/// resumes by itself each time, and prints every committed change exactly
/// once, in revision order, with no gap; every change a writer got
/// acknowledged is among them. The writer repeats each change with its
/// request id until it is acknowledged, so each is done once however often
/// the daemon dies under it.
///
/// In the heavy step (the suite name matches `CrashConsistencyTests`).
/// `CONNECTORD_KILL_CYCLES` raises the number of kills (at least 10).
@Suite(.serialized)
struct WatchCrashConsistencyTests {
    static let cycles = max(10, Int(ProcessInfo.processInfo.environment["CONNECTORD_KILL_CYCLES"] ?? "") ?? 10)

    @Test func aWatchResumesAcrossSIGKILLsAndPrintsEveryChangeOnceInOrder() async throws {
        let seed = SeededGenerator.testSeed()
        var random = SeededGenerator(seed: seed)
        let daemon = try await DaemonUnderTest()
        defer { try? FileManager.default.removeItem(at: daemon.directory) }
        let watcher = try await ChildProcess.start(
            Binaries.path("connectorctl"), ["watch", "--since", "1", "--json", "--socket", daemon.socket], environment: ["NO_COLOR": "1"])

        let stop = StopFlag()
        let writer = ChangeWriter(socket: daemon.socket)
        async let acknowledged = writer.run(until: stop)
        for cycle in 1...Self.cycles {
            // Let a change through, then kill: right away or a second or so later.
            let before = writer.acknowledgedCount
            #expect(await eventually { writer.acknowledgedCount > before }, "cycle \(cycle): a change went through")
            try await Task.sleep(for: .milliseconds(random.next(below: 1500)))
            let status = await daemon.kill()
            #expect(status == 128 + SIGKILL, "the daemon died of SIGKILL: \(status)")
            try await daemon.restart()
        }
        stop.set()
        let changes = await acknowledged
        #expect(changes.count >= Self.cycles, "the writer got changes through between the kills")

        // Every committed change, as the restarted daemon's history has it.
        let history = try await daemon.ctl("history", "--json")
        try #require(history.status == 0, "\(history.stderr)")
        let records = try #require(try history.json()["records"] as? [[String: Any]])
        let latest = try #require(records.last?["revision"] as? Int)
        _ = try await watcher.line { $0.contains("\"revision\":\(latest),") }
        let watcherStopped = await watcher.stop(SIGTERM)
        #expect(watcherStopped == 0, "\(watcher.standardError)")

        let events = try watcher.standardOutput.split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not JSON: \(line)")
        }
        let seen = events.map(SeenChange.init(event:))
        #expect(seen.map(\.revision) == Array(1...latest), "every revision once, in order, no gap (seed \(seed))")
        let recorded = records.map(SeenChange.init(record:))
        #expect(seen == recorded, "the watch printed what the history holds")
        let counts = Dictionary(seen.map { ($0.change, 1) }, uniquingKeysWith: +)
        for change in changes {
            #expect(counts[change] == 1, "acknowledged \(change) seen once, not \(counts[change] ?? 0) times")
        }
        let resumed = watcher.standardError.components(separatedBy: "reconnected; resuming from revision").count - 1
        // Not one per kill: a kill during the watcher's backoff is one resume for
        // two kills, and a watch that ends again before any event is resumed
        // again (both seen under load).
        #expect(resumed >= 1, "the watcher said it resumed: \(watcher.standardError)")
        print("watch across SIGKILL: \(Self.cycles) kills, \(changes.count) acknowledged changes, \(latest) revisions, \(resumed) resumes")
        #expect(await daemon.stopGracefully() == 0)
    }
}

/// One change as the watch or the history shows it.
private struct SeenChange: Equatable {
    var revision: Int
    var change: ChangeWriter.Change

    init(event: [String: Any]) {
        revision = event["revision"] as? Int ?? -1
        let connector = event["connector"] as? [String: Any]
        change = .init(kind: event["kind"] as? String ?? "?", name: connector?["name"] as? String ?? "?")
    }

    init(record: [String: Any]) {
        revision = record["revision"] as? Int ?? -1
        change = .init(kind: record["kind"] as? String ?? "?", name: record["connector_name"] as? String ?? "?")
    }
}

/// Registers and deletes connectors with `connectorctl`, one change at a
/// time, each repeated with its request id until acknowledged.
private final class ChangeWriter: Sendable {
    struct Change: Hashable, CustomStringConvertible {
        var kind: String
        var name: String
        var description: String { "\(kind) \(name)" }
    }

    let socket: String
    private let acknowledged = Mutex<Int>(0)

    init(socket: String) { self.socket = socket }

    var acknowledgedCount: Int { acknowledged.withLock { $0 } }

    /// Changes until `stop` is set; returns the acknowledged ones, in order.
    func run(until stop: StopFlag) async -> [Change] {
        var changes: [Change] = []
        var index = 0
        while !stop.isSet {
            let name = "watched_\(index)"
            guard let registered = await acknowledge(["register", name, "--description", "d", "--request-id", "register-\(index)"]),
                let id = (try? registered.json())?["connector_id"] as? Int
            else { break }
            changes.append(Change(kind: "REGISTERED", name: name))
            if index % 2 == 0 {
                guard await acknowledge(["set-mode", String(id), "deactive", "--request-id", "mode-\(index)"]) != nil else { break }
                changes.append(Change(kind: "MODE_CHANGED", name: name))
            }
            guard await acknowledge(["delete", String(id), "--request-id", "delete-\(index)"]) != nil else { break }
            changes.append(Change(kind: "DELETED", name: name))
            index += 1
        }
        return changes
    }

    /// Runs connectorctl until it succeeds; retries while the daemon is down or
    /// cut the call off (exit 7 or 10); nil (recorded as an issue) on any other failure.
    private func acknowledge(_ arguments: [String]) async -> CommandResult? {
        while true {
            guard let result = try? await runCommand(Binaries.path("connectorctl"), arguments + ["--json", "--socket", socket]) else {
                Issue.record("could not run connectorctl \(arguments)")
                return nil
            }
            switch result.status {
            case 0:
                acknowledged.withLock { $0 += 1 }
                return result
            case 7, 10:
                try? await Task.sleep(for: .milliseconds(20))
            default:
                Issue.record("connectorctl \(arguments) exited \(result.status): \(result.stderr)")
                return nil
            }
        }
    }
}
