import Foundation
import Glibc
import SampleConnectorKit
import TestSupport
import Testing

/// The history from the command line, with real `connectord` and
/// `connectorctl` processes: `watch`, `history`, `audit verify`,
/// `--if-revision`, request ids, and ConnectorClient's retry of a change
/// whose connection dropped.
@Suite(.serialized)
struct HistoryCLITests {
    /// Runs `body` with a daemon (started with `arguments`), stopping it on every path.
    func withDaemon(_ arguments: [String] = [], _ body: (DaemonUnderTest) async throws -> Void) async throws {
        let daemon = try await DaemonUnderTest(arguments: arguments)
        let result: Result<Void, any Error>
        do {
            try await body(daemon)
            result = .success(())
        } catch {
            result = .failure(error)
        }
        if daemon.daemon.isRunning { _ = await daemon.stopGracefully() }
        try? FileManager.default.removeItem(at: daemon.directory)
        try result.get()
    }

    /// connectorctl with `arguments` against `daemon`, without colours.
    func ctl(_ daemon: DaemonUnderTest, _ arguments: String...) async throws -> CommandResult {
        try await runCommand(Binaries.path("connectorctl"), arguments + ["--socket", daemon.socket])
    }

    /// Starts `connectorctl watch` with `arguments` against `daemon`.
    func startWatch(_ daemon: DaemonUnderTest, _ arguments: String...) async throws -> ChildProcess {
        try await ChildProcess.start(
            Binaries.path("connectorctl"), ["watch"] + arguments + ["--socket", daemon.socket], environment: ["NO_COLOR": "1"])
    }

    /// The JSON objects `process` printed, one a line.
    static func jsonLines(_ process: ChildProcess) throws -> [[String: Any]] {
        try process.standardOutput.split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not a JSON object: \(line)")
        }
    }

    /// Registers `name`; returns its id.
    func register(_ daemon: DaemonUnderTest, _ name: String, _ extra: String...) async throws -> Int {
        let result = try await runCommand(
            Binaries.path("connectorctl"), ["register", name, "--description", "d", "--json", "--socket", daemon.socket] + extra)
        try #require(result.status == 0, "register \(name): \(result.stderr)")
        return try #require(try result.json()["connector_id"] as? Int)
    }

    /// A connector's revision, as `get --json` shows it.
    func revision(_ daemon: DaemonUnderTest, _ id: Int) async throws -> Int {
        let got = try await ctl(daemon, "get", String(id), "--json")
        try #require(got.status == 0, "get \(id): \(got.stderr)")
        return try #require(try got.json()["revision"] as? Int)
    }

    // MARK: watch

    @Test func watchPrintsEveryKindOfChangeInRevisionOrder() async throws {
        try await withDaemon { daemon in
            try await FixtureHTTPServer.with(routes: SampleConnector.routes) { fixture in
                _ = try await register(daemon, "before_watch")
                let fromNow = try await startWatch(daemon, "--json", "--initial")
                _ = try await fromNow.line { $0.contains("\"BOOKMARK\"") }

                let id = try await register(daemon, "watched")
                let activated = try await ctl(daemon, "activate", String(id), fixture.url("/connector.json"))
                #expect(activated.status == 0, "\(activated.stderr)")
                let moded = try await ctl(daemon, "set-mode", String(id), "sync")
                #expect(moded.status == 0, "\(moded.stderr)")
                let deleted = try await ctl(daemon, "delete", String(id))
                #expect(deleted.status == 0, "\(deleted.stderr)")

                // From the initial state: the snapshot, the bookmark, then the four changes.
                _ = try await fromNow.line { $0.contains("\"DELETED\"") }
                let events = try Self.jsonLines(fromNow)
                let kinds = events.map { $0["kind"] as? String ?? "?" }
                #expect(kinds == ["SNAPSHOT", "BOOKMARK", "REGISTERED", "ACTIVATED", "MODE_CHANGED", "DELETED"])
                let snapshot = events[0]["connector"] as? [String: Any]
                #expect(snapshot?["name"] as? String == "before_watch")
                #expect(events[1]["revision"] as? Int == 1, "the bookmark is the revision of the snapshot")
                let changes = Array(events.dropFirst(2))
                #expect(changes.map { $0["revision"] as? Int } == [2, 3, 4, 5], "in revision order, no gap")
                #expect(changes.allSatisfy { $0["connector_id"] as? Int == id })
                #expect(changes.map { ($0["connector"] as? [String: Any])?["mode"] as? String } == ["deactive", "active", "sync", "sync"])

                // From revision 1, as text: the whole history, then live.
                let fromStart = try await startWatch(daemon, "--since", "1")
                _ = try await fromStart.line { $0.contains("DELETED") }
                let lines = fromStart.standardOutput.split(separator: "\n")
                #expect(lines.count == 5, "\(lines)")
                for (line, (revision, kind)) in zip(lines, [(1, "REGISTERED"), (2, "REGISTERED"), (3, "ACTIVATED"), (4, "MODE_CHANGED"), (5, "DELETED")]) {
                    #expect(line.hasPrefix("rev \(revision)  \(kind)"), "\(line)")
                }
                // Filtered by connector: only the first one's registration.
                let byID = try await startWatch(daemon, "--since", "1", "--id", "1", "--json")
                let later = try await register(daemon, "after_filter")
                let filteredOut = try await ctl(daemon, "delete", String(later))
                #expect(filteredOut.status == 0)
                _ = try await fromStart.line { $0.contains("rev 7  DELETED") }
                _ = try await byID.line { $0.contains("\"REGISTERED\"") }

                // Ctrl-C and SIGTERM end a watch cleanly.
                _ = try await fromNow.line { $0.contains("\"revision\":7") }
            #expect(await fromNow.stop(SIGTERM) == 0, "\(fromNow.standardError)")
                #expect(await fromStart.stop(SIGINT) == 0, "\(fromStart.standardError)")
                #expect(await byID.stop(SIGTERM) == 0, "\(byID.standardError)")
                #expect(try Self.jsonLines(byID).map { $0["revision"] as? Int } == [1], "only connector 1's changes")
                #expect(try Self.jsonLines(fromNow).count == 8, "snapshot, bookmark, six changes")
            }
        }
    }

    @Test func watchResumesAfterARestartAndSaysSo() async throws {
        try await withDaemon { daemon in
            let watcher = try await startWatch(daemon, "--json")
            // Only once the watcher is connected does "now" mean anything: a first change it sees.
            var names: [String] = []
            try #require(await eventually {
                let name = "probe_\(names.count)"
                names.append(name)
                _ = try await register(daemon, name)
                return watcher.standardOutput.contains("\"REGISTERED\"")
            })
            try await daemon.restart()  // SIGTERM, then a new daemon
            _ = try await register(daemon, "after_restart")
            _ = try await watcher.line { $0.contains("after_restart") }
            #expect(watcher.standardError.contains("reconnect"), "\(watcher.standardError)")
            let revisions = try Self.jsonLines(watcher).compactMap { $0["revision"] as? Int }
        try #require(!revisions.isEmpty)
            #expect(revisions == Array(revisions[0]...(revisions[0] + revisions.count - 1)), "no gap, no duplicate: \(revisions)")
            #expect(revisions.last == names.count + 1)
            #expect(await watcher.stop(SIGTERM) == 0, "\(watcher.standardError)")
        }
    }

    @Test func watchFromARevisionNoLongerKeptFailsWithTheOldestKept() async throws {
        try await withDaemon(["--history-keep-revisions", "2"]) { daemon in
            for index in 0..<4 { _ = try await register(daemon, "kept_\(index)") }
            let result = try await ctl(daemon, "watch", "--since", "1")
            #expect(result.status == 2, "OUT_OF_RANGE: \(result.stderr)")
            #expect(result.stderr.contains("oldest revision"), "\(result.stderr)")
        }
    }

    // MARK: history and audit verify

    @Test func historyListsEveryChangeWithItsCaller() async throws {
        try await withDaemon { daemon in
            let first = try await register(daemon, "audited_one")
            let second = try await register(daemon, "audited_two", "--request-id", "my-request-1")
            let moded = try await ctl(daemon, "set-mode", String(first), "deactive")
            #expect(moded.status == 0, "\(moded.stderr)")
            let deleted = try await ctl(daemon, "delete", String(second))
            #expect(deleted.status == 0, "\(deleted.stderr)")

            let all = try await ctl(daemon, "history", "--json")
            #expect(all.status == 0, "\(all.stderr)")
            let records = try #require(try all.json()["records"] as? [[String: Any]])
            #expect(records.map { $0["revision"] as? Int } == [1, 2, 3, 4])
            #expect(records.map { $0["method"] as? String } == ["Register", "Register", "SetMode", "Delete"])
            #expect(records.map { $0["kind"] as? String } == ["REGISTERED", "REGISTERED", "MODE_CHANGED", "DELETED"])
            #expect(records[1]["request_id"] as? String == "my-request-1")
            let generated = records[0]["request_id"] as? String ?? ""
            #expect(generated.count == 32 && generated.allSatisfy(\.isHexDigit), "a random id for every change: \(generated)")
            for record in records {
                let caller = record["caller"] as? [String: Any]
                #expect(caller?["uid"] as? Int == Int(getuid()))
                #expect(caller?["process"] as? String == "connectorctl")
                #expect((record["hash"] as? String)?.count == 64)
            }

            let one = try await ctl(daemon, "history", String(second), "--json")
            #expect(try #require(try one.json()["records"] as? [[String: Any]]).map { $0["revision"] as? Int } == [2, 4])
            let since = try await ctl(daemon, "history", "--since", "3", "--json")
            #expect(try #require(try since.json()["records"] as? [[String: Any]]).map { $0["revision"] as? Int } == [3, 4])
            let table = try await ctl(daemon, "history")
            #expect(table.status == 0 && table.stdout.contains("audited_two") && table.stdout.contains("MODE_CHANGED"), "\(table.stdout)")
        }
    }

    @Test(.enabled(if: CrashConsistencyTests.sqliteShell != nil, "needs the sqlite3 shell"))
    func auditVerifyReportsAnEditedAndADeletedRecordAtTheirRevision() async throws {
        try await withDaemon { daemon in
            for name in ["chained_a", "chained_b", "chained_c"] { _ = try await register(daemon, name) }
            let sound = try await ctl(daemon, "audit", "verify")
            #expect(sound.status == 0, "\(sound.stderr)")
            #expect(sound.stdout == "ok, 3 records (revisions 1-3)\n")

            /// Runs `sql` on the database with the daemon stopped, then starts it again.
            func edit(_ sql: String) async throws {
                #expect(await daemon.stopGracefully() == 0)
                let result = try await CrashConsistencyTests.sqlite(daemon.databasePath, sql)
                #expect(result.isEmpty, "\(result)")
                try await daemon.restart()
            }

            // Who made change 2, rewritten.
            try await edit("UPDATE registry_history SET caller_uid = caller_uid + 1000 WHERE revision = 2")
            let edited = try await ctl(daemon, "audit", "verify")
            #expect(edited.status == 11, "\(edited.stdout) \(edited.stderr)")
            #expect(edited.stderr.contains("revision 2"), "\(edited.stderr)")
            let editedJSON = try await ctl(daemon, "audit", "verify", "--json")
            #expect(editedJSON.status == 11)
            #expect(try editedJSON.json()["first_bad_revision"] as? Int == 2)
            #expect(try editedJSON.json()["ok"] as? Bool == false)

            try await edit("UPDATE registry_history SET caller_uid = caller_uid - 1000 WHERE revision = 2")
            let restored = try await ctl(daemon, "audit", "verify", "--json")
            #expect(restored.status == 0, "\(restored.stderr)")
            #expect(try restored.json()["records"] as? Int == 3)

            // Its message, then the whole row: reported at the same revision.
            try await edit("UPDATE registry_history SET message = 'nothing happened' WHERE revision = 3")
            let message = try await ctl(daemon, "audit", "verify")
            #expect(message.status == 11 && message.stderr.contains("revision 3"), "\(message.stderr)")
            try await edit("DELETE FROM registry_history WHERE revision = 2")
            let deleted = try await ctl(daemon, "audit", "verify", "--json")
            #expect(deleted.status == 11, "\(deleted.stderr)")
            #expect(try deleted.json()["first_bad_revision"] as? Int == 2)
            #expect(deleted.stderr.contains("revision 2"), "\(deleted.stderr)")
        }
    }

    // MARK: compare-and-swap and request ids

    @Test func ifRevisionMismatchChangesNothing() async throws {
        try await withDaemon { daemon in
            try await FixtureHTTPServer.with(routes: SampleConnector.routes) { fixture in
                let id = try await register(daemon, "guarded")
                _ = try await register(daemon, "other")
                let at = try await revision(daemon, id)
                #expect(at == 1)
                let stale = String(at + 1)

                for arguments in [
                    ["activate", String(id), fixture.url("/connector.json"), "--if-revision", stale],
                    ["set-mode", String(id), "deactive", "--if-revision", stale],
                    ["delete", String(id), "--if-revision", stale, "--json"],
                ] {
                    let refused = try await runCommand(Binaries.path("connectorctl"), arguments + ["--socket", daemon.socket])
                    #expect(refused.status == 9, "\(arguments): \(refused.stderr)")
                    #expect(refused.stderr.contains("Connector \(id) is at revision \(at), not \(stale)"), "\(refused.stderr)")
                }
                let got = try await ctl(daemon, "get", String(id), "--json")
                #expect(try got.json()["mode"] as? String == "deactive")
                #expect(try got.json()["revision"] as? Int == at)
                let history = try await ctl(daemon, "history", "--json")
                #expect(try #require(try history.json()["records"] as? [[String: Any]]).count == 2, "nothing recorded")

                // At the revision named, each goes through.
                let activated = try await ctl(daemon, "activate", String(id), fixture.url("/connector.json"), "--if-revision", String(at), "--json")
                #expect(activated.status == 0, "\(activated.stderr)")
                let activeAt = try #require(try activated.json()["revision"] as? Int)
                let moded = try await ctl(daemon, "set-mode", String(id), "sync", "--if-revision", String(activeAt), "--json")
                #expect(moded.status == 0, "\(moded.stderr)")
                let syncAt = try #require(try moded.json()["revision"] as? Int)
                let deleted = try await ctl(daemon, "delete", String(id), "--if-revision", String(syncAt))
                #expect(deleted.status == 0, "\(deleted.stderr)")

                let zero = try await ctl(daemon, "delete", "2", "--if-revision", "0")
                #expect(zero.status == 64, "\(zero.stderr)")
            }
        }
    }

    @Test func aRepeatedRequestIDRegistersOnceAlsoAcrossARestart() async throws {
        try await withDaemon { daemon in
            let id = try await register(daemon, "once", "--request-id", "register-once")
            #expect(try await register(daemon, "once", "--request-id", "register-once") == id, "answered as the first time")
            #expect(await daemon.kill() == 128 + SIGKILL)
            try await daemon.restart()
            #expect(try await register(daemon, "once", "--request-id", "register-once") == id, "also after a restart")
            // Another id is another request: the name is taken.
            let again = try await ctl(daemon, "register", "once", "--description", "d", "--request-id", "register-twice")
            #expect(again.status == 4, "\(again.stderr)")

            for _ in 0..<2 {
                let deleted = try await ctl(daemon, "delete", String(id), "--request-id", "delete-once")
                #expect(deleted.status == 0, "a repeated delete answers as the first: \(deleted.stderr)")
            }
            let list = try await ctl(daemon, "list", "--json")
            #expect(try #require(try list.json()["connectors"] as? [[String: Any]]).isEmpty)
            let history = try await ctl(daemon, "history", "--json")
            let kinds = try #require(try history.json()["records"] as? [[String: Any]]).map { $0["kind"] as? String }
            #expect(kinds == ["REGISTERED", "DELETED"])
        }
    }

    /// ConnectorClient (in connectorctl) retries a change once, with the same
    /// request id, when its connection drops after the request was sent: the
    /// connector is registered once, and the retry answers it.
    @Test func aChangeWhoseConnectionDropsIsRetriedOnceWithTheSameRequestID() async throws {
        try await withDaemon { daemon in

            let once = try DroppingProxy(path: daemon.directory.appendingPathComponent("drop1.sock").path, upstream: daemon.socket, drops: 1)
            defer { once.close() }
            let retried = try await runCommand(
                Binaries.path("connectorctl"), ["register", "retried", "--description", "d", "--json", "--socket", once.path])
            #expect(retried.status == 0, "\(retried.stderr)")
            #expect(once.counts == [2, 1], "sent twice, the first answer dropped: \(once.counts)")
            let id = try #require(try retried.json()["connector_id"] as? Int)
            let list = try await ctl(daemon, "list", "--json")
            let connectors = try #require(try list.json()["connectors"] as? [[String: Any]])
            #expect(connectors.map { $0["id"] as? Int } == [id], "registered once")
            let history = try await ctl(daemon, "history", "--json")
            #expect(try #require(try history.json()["records"] as? [[String: Any]]).count == 1)

            // Dropped twice: one retry only, and the failure is the dropped connection's.
            let twice = try DroppingProxy(path: daemon.directory.appendingPathComponent("drop2.sock").path, upstream: daemon.socket, drops: 2)
            defer { twice.close() }
            let failed = try await runCommand(
                Binaries.path("connectorctl"), ["set-mode", String(id), "deactive", "--socket", twice.path])
            #expect(failed.status == 7, "\(failed.stderr)")
            #expect(twice.counts == [2, 2], "\(twice.counts)")

            // A status the daemon answered is never retried.
            let relay = try DroppingProxy(path: daemon.directory.appendingPathComponent("relay.sock").path, upstream: daemon.socket, drops: 0)
            defer { relay.close() }
            let taken = try await runCommand(
                Binaries.path("connectorctl"), ["register", "retried", "--description", "d", "--socket", relay.path])
            #expect(taken.status == 4, "\(taken.stderr)")
            #expect(relay.counts == [1, 0], "\(relay.counts)")
        }
    }
}
