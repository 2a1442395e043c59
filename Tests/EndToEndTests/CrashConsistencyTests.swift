import Foundation
import Glibc
import SampleConnectorKit
import Synchronization
import TestSupport
import Testing

/// Crash consistency: `connectord` is killed with SIGKILL at random moments
/// while `connectorctl` processes register, activate, change modes and delete
/// concurrently; after each restart every acknowledged change is there, an
/// unacknowledged one is either wholly applied or not at all, names stay
/// unique, and SQLite's `integrity_check` passes (on the files the kill left
/// and on the restarted daemon's database).
///
/// `CONNECTORD_KILL_CYCLES` (default 3) sets the number of kills; the long run
/// (scripts/reliability.sh) uses 20 or more. `CONNECTORD_CRASH_SEED` fixes the
/// workers' choices (the kill moments still vary with timing).
@Suite(.serialized)
struct CrashConsistencyTests {
    static let cycles = max(1, Int(ProcessInfo.processInfo.environment["CONNECTORD_KILL_CYCLES"] ?? "") ?? 3)
    static let workerCount = 4
    static let seed = UInt64(ProcessInfo.processInfo.environment["CONNECTORD_CRASH_SEED"] ?? "") ?? UInt64.random(in: 1...UInt64(UInt32.max))

    @Test func acknowledgedChangesSurviveSIGKILL() async throws {
        let daemon = try await DaemonUnderTest()
        try await FixtureHTTPServer.with(routes: SampleConnector.routes) { fixture in
            let schemaURL = fixture.url("/connector.json")
            let workers = (0..<Self.workerCount).map { Worker(index: $0, seed: Self.seed, socket: daemon.socket, schemaURL: schemaURL) }
            var killMoments: [Duration] = []
            var crashImageChecks = 0
            reliabilityFigure("crash: \(Self.cycles) kill cycles, \(Self.workerCount) concurrent connectorctl workers, seed \(Self.seed)")

            for cycle in 1...Self.cycles {
                // Workers run connectorctl against the daemon until told to stop.
                let stop = StopFlag()
                let running = Task {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for worker in workers { group.addTask { await worker.run(until: stop) } }
                        try await group.waitForAll()
                    }
                }
                // Kill at a random moment: from right after the restart to a few seconds in.
                let delay = Duration.milliseconds(Int.random(in: 50...2500))
                killMoments.append(delay)
                try await Task.sleep(for: delay)
                let status = await daemon.kill()
                #expect(status == 128 + SIGKILL, "the daemon died of SIGKILL, not something else: \(status)")
                stop.set()
                try await running.value

                // The files the kill left are a sound database.
                let image = try await Self.integrityOfCrashImage(daemon)
                #expect(image == "ok", "integrity_check of the files left by the kill (cycle \(cycle)): \(image)")
                crashImageChecks += 1

                // Restarted, the daemon has every acknowledged change and nothing half-applied.
                try await daemon.restart()
                let checked = try await Self.verify(daemon, workers, cycle: cycle)
                let live = try await Self.integrityOfLiveDatabase(daemon)
                #expect(live == "ok", "integrity_check of the restarted daemon's database (cycle \(cycle)): \(live)")

                let acknowledged = workers.map(\.acknowledged).reduce(0, +)
                let uncertain = workers.map(\.uncertainResolved).reduce(0, +)
                reliabilityFigure(
                    "crash cycle \(cycle): killed after \(delay.formatted2); \(acknowledged) acknowledged changes so far, "
                        + "\(checked) connectors checked, \(uncertain) cut-off changes found whole (before or after) so far")
            }

            // A final graceful stop and check of the file itself.
            #expect(await daemon.stopGracefully() == 0)
            let final = try await Self.sqlite(daemon.databasePath, "PRAGMA integrity_check")
            #expect(final == "ok", "integrity_check after a graceful stop: \(final)")

            let acknowledged = workers.map(\.acknowledged).reduce(0, +)
            let byKind = workers.map(\.acknowledgedByKind).reduce(into: [String: Int]()) { total, next in
                total.merge(next, uniquingKeysWith: +)
            }
            let attempted = workers.map(\.attempted).reduce(0, +)
            let uncertain = workers.map(\.uncertainResolved).reduce(0, +)
            let applied = workers.map(\.uncertainApplied).reduce(0, +)
            let refused = workers.map(\.refusedWhileDown).reduce(0, +)
            reliabilityFigure(
                "crash: \(Self.cycles) SIGKILL cycles (kill moments \(killMoments.map(\.formatted2))); \(attempted) changes attempted, "
                    + "\(acknowledged) acknowledged, each present after the restarts unless superseded by a later acknowledged one (\(byKind.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))); "
                    + "\(uncertain) cut off by a kill, each found wholly as before (\(uncertain - applied)) or wholly applied (\(applied)); "
                    + "\(refused) refused while the daemon was down; integrity_check ok on \(crashImageChecks) crash images, "
                    + "\(Self.cycles) restarted databases and the final file; lost: \(workers.map(\.lost).reduce(0, +))")
            #expect(acknowledged >= Self.cycles, "the workers got changes acknowledged")
            #expect(workers.map(\.lost).reduce(0, +) == 0)
        }
    }

    // MARK: Verification

    /// Compares the restarted daemon's registry with every worker's model; returns how many
    /// connectors were checked.
    static func verify(_ daemon: DaemonUnderTest, _ workers: [Worker], cycle: Int) async throws -> Int {
        let list = try await daemon.ctl("list", "--json")
        try #require(list.status == 0, "list after restart: \(list.stderr)")
        let listed = try #require(try list.json()["connectors"] as? [[String: Any]])
        let observed = listed.map(ObservedConnector.init(json:))

        // Names unique (case-insensitively), ids unique.
        let names = observed.map { $0.name.lowercased() }
        #expect(Set(names).count == names.count, "names are unique: \(names.sorted())")
        #expect(Set(observed.map(\.id)).count == observed.count, "ids are unique")

        // Nothing half-applied, whoever made it.
        for connector in observed {
            #expect(connector.problems.isEmpty, "cycle \(cycle): \(connector.name) is half-applied: \(connector.problems)")
        }

        // Every connector belongs to a change a worker attempted, and matches what the
        // worker knows: exactly, for acknowledged changes; one of before/after otherwise.
        let byName = Dictionary(observed.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var known = Set<String>()
        for worker in workers {
            for message in worker.anomalies { Issue.record("cycle \(cycle): \(message)") }
            worker.anomalies = []
            for message in worker.reconcile(with: byName) {
                Issue.record("cycle \(cycle): \(message)")
            }
            known.formUnion(worker.names)
        }
        let unknown = observed.map(\.name).filter { !known.contains($0) }
        #expect(unknown.isEmpty, "connectors nobody registered: \(unknown)")

        // The whole record, with tools and templates, for a few connectors.
        for connector in observed.shuffled().prefix(6) {
            let got = try await daemon.ctl("get", String(connector.id), "--json")
            #expect(got.status == 0, "get \(connector.id): \(got.stderr)")
            guard got.status == 0 else { continue }
            let detail = try got.json()
            let tools = detail["tools"] as? [Any]
            let templates = detail["templates"] as? [Any]
            #expect(tools?.count == connector.toolsCount, "\(connector.name): tools match tools_count")
            #expect(templates?.count == connector.templatesCount, "\(connector.name): templates match templates_count")
            #expect(detail["config"] is [String: Any], "\(connector.name): config is an object")
            #expect(detail["mode"] as? String == connector.mode && detail["url"] as? String == connector.url)
        }
        return observed.count
    }

    /// `PRAGMA integrity_check` on a copy of the database and WAL as the kill left them.
    static func integrityOfCrashImage(_ daemon: DaemonUnderTest) async throws -> String {
        let scratch = daemon.directory.appendingPathComponent("crash-image")
        try? FileManager.default.removeItem(at: scratch)
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        for suffix in ["", "-wal"] where FileManager.default.fileExists(atPath: daemon.databasePath + suffix) {
            try FileManager.default.copyItem(
                atPath: daemon.databasePath + suffix, toPath: scratch.appendingPathComponent("connectord.sqlite" + suffix).path)
        }
        return try await sqlite(scratch.appendingPathComponent("connectord.sqlite").path, "PRAGMA integrity_check")
    }

    /// `PRAGMA integrity_check` read-only on the live database of the running daemon.
    static func integrityOfLiveDatabase(_ daemon: DaemonUnderTest) async throws -> String {
        try await sqlite(daemon.databasePath, "PRAGMA integrity_check", readOnly: true)
    }

    /// The sqlite3 command-line shell (Debian package `sqlite3`).
    static let sqliteShell = ["/usr/bin/sqlite3", "/usr/local/bin/sqlite3"].first { FileManager.default.isExecutableFile(atPath: $0) }

    static func sqlite(_ path: String, _ sql: String, readOnly: Bool = false) async throws -> String {
        guard let shell = sqliteShell else { return "the sqlite3 shell is not installed (apt-get install sqlite3)" }
        let result = try await runCommand(shell, (readOnly ? ["-readonly"] : []) + [path, sql])
        guard result.status == 0 else { return "sqlite3 failed (\(result.status)): \(result.stderr)" }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

// MARK: - What the daemon shows

/// A connector as `connectorctl list --json` shows it.
struct ObservedConnector {
    var id: UInt64
    var name: String
    var description: String
    var mode: String
    var url: String
    var version: String
    var toolsCount: Int
    var templatesCount: Int
    var hasLogo: Bool
    var hasSecret: Bool

    init(json: [String: Any]) {
        id = UInt64(json["id"] as? Int ?? -1)
        name = json["name"] as? String ?? ""
        description = json["description"] as? String ?? ""
        mode = json["mode"] as? String ?? ""
        url = json["url"] as? String ?? ""
        version = json["version"] as? String ?? ""
        toolsCount = json["tools_count"] as? Int ?? -1
        templatesCount = json["templates_count"] as? Int ?? -1
        hasLogo = json["has_logo"] as? Bool ?? false
        hasSecret = json["has_secret"] as? Bool ?? false
    }

    /// What would make this a half-applied connector.
    var problems: [String] {
        var problems: [String] = []
        if !["active", "sync", "deactive"].contains(mode) { problems.append("mode \(mode)") }
        if url.isEmpty {
            // Never activated: nothing of a schema.
            if mode != "deactive" { problems.append("\(mode) without a url") }
            if version != "0.0.0" { problems.append("version \(version) without a url") }
            if toolsCount != 0 || templatesCount != 0 || hasLogo { problems.append("schema parts without a url") }
        } else {
            // Activated: the whole schema.
            if version != "1.2.0" { problems.append("url with version \(version)") }
            if toolsCount != SampleConnector.toolsCount || templatesCount != SampleConnector.templatesCount {
                problems.append("url with \(toolsCount) tools, \(templatesCount) templates")
            }
            if !hasLogo { problems.append("url without the logo") }
        }
        return problems
    }

    /// The part of the state the workers model.
    var state: ConnectorState {
        ConnectorState(exists: true, mode: mode, url: url, hasSecret: hasSecret, id: id)
    }
}

/// What a worker expects of one connector.
struct ConnectorState: Equatable, CustomStringConvertible {
    var exists: Bool
    var mode: String = "deactive"
    var url: String = ""
    var hasSecret: Bool = false
    /// The id, once known (nil matches any).
    var id: UInt64?

    static let absent = ConnectorState(exists: false, mode: "", url: "", hasSecret: false, id: nil)

    func matches(_ other: ConnectorState) -> Bool {
        guard exists == other.exists else { return false }
        guard exists else { return true }
        return mode == other.mode && url == other.url && hasSecret == other.hasSecret
            && (id == nil || other.id == nil || id == other.id)
    }

    var description: String {
        exists ? "{id \(id.map(String.init) ?? "?"), \(mode), url '\(url)', secret \(hasSecret)}" : "{absent}"
    }
}

// MARK: - A worker

/// One client of the registry: runs connectorctl for changes to the connectors it owns, one
/// at a time, and remembers what each acknowledged (exit 0) change must have left.
final class Worker: @unchecked Sendable {
    /// A connector this worker registered (or tried to).
    struct Record {
        var name: String
        /// One state if known; before and after while a change was cut off by a kill.
        var possible: [ConnectorState]

        var known: ConnectorState? { possible.count == 1 ? possible[0] : nil }
    }

    let index: Int
    let socket: String
    let schemaURL: String
    private var random: SeededGenerator
    private var counter = 0
    private(set) var records: [Record] = []
    private(set) var acknowledged = 0
    private(set) var acknowledgedByKind: [String: Int] = [:]
    private(set) var attempted = 0
    private(set) var uncertainResolved = 0
    private(set) var uncertainApplied = 0
    private(set) var refusedWhileDown = 0
    private(set) var lost = 0
    /// Answers the model says are impossible, for the test to record.
    var anomalies: [String] = []

    init(index: Int, seed: UInt64, socket: String, schemaURL: String) {
        self.index = index
        self.socket = socket
        self.schemaURL = schemaURL
        random = SeededGenerator(seed: seed &+ UInt64(index) &* 0x1000_0000_01B3)
    }

    var names: [String] { records.map(\.name) }

    /// Runs changes until `stop` (one connectorctl process at a time).
    func run(until stop: StopFlag) async {
        while !stop.isSet {
            await step()
        }
    }

    private func ctl(_ arguments: [String], input: String? = nil) async -> CommandResult {
        (try? await runCommand(Binaries.path("connectorctl"), arguments + ["--socket", socket, "--json"], input: input))
            ?? CommandResult(status: -1, stdout: "", stderr: "could not run connectorctl")
    }

    private func step() async {
        let live = records.indices.filter { records[$0].known?.exists == true && records[$0].known?.id != nil }
        if live.count < 2 || (live.count < 12 && random.next(below: 100) < 20) {
            await register()
            return
        }
        let target = live[random.next(below: live.count)]
        let roll = random.next(below: 100)
        if roll < 35 {
            await activate(target)
        } else if roll < 85 {
            await setMode(target, ["active", "sync", "deactive"][random.next(below: 3)])
        } else {
            await delete(target)
        }
    }

    /// Applies the outcome of a change to `record`: exit 0 is acknowledged; exit 10 means the
    /// daemon could not be reached (nothing was sent); other failures leave it uncertain.
    private func settle(_ record: Int, _ kind: String, _ result: CommandResult, after: ConnectorState, expectedFailure: Int32? = nil) {
        attempted += 1
        let before = records[record].possible[0]
        switch result.status {
        case 0 where expectedFailure == nil:
            records[record].possible = [after]
            acknowledged += 1
            acknowledgedByKind[kind, default: 0] += 1
        case let status where status == expectedFailure:
            // A documented refusal (e.g. active before activation): nothing changes.
            acknowledged += 1
            acknowledgedByKind[kind + " refused", default: 0] += 1
        case 10:
            refusedWhileDown += 1
        case 2, 3, 4, 5, 6, 9, 0:
            // The daemon answered something the model says is impossible.
            lost += 1
            anomalies.append("worker \(index): \(kind) \(records[record].name) \(before) exited \(result.status): \(result.stderr)")
            records[record].possible = [before, after]
        default:
            // Cut off (the daemon died mid-call): applied whole or not at all.
            records[record].possible = [before, after]
        }
    }

    private func register() async {
        counter += 1
        let name = "w\(index)_c\(counter)"
        let withSecret = random.next(below: 2) == 0
        records.append(Record(name: name, possible: [.absent]))
        let result = await ctl(
            ["register", name, "--description", "crash test \(name)"] + (withSecret ? ["--secret-stdin"] : []),
            input: withSecret ? "s3cret-\(name)\n" : nil)
        var after = ConnectorState(exists: true, mode: "deactive", url: "", hasSecret: withSecret, id: nil)
        if result.status == 0, let id = (try? result.json())?["connector_id"] as? Int { after.id = UInt64(id) }
        settle(records.count - 1, "register", result, after: after)
    }

    private func activate(_ record: Int) async {
        guard var after = records[record].known, let id = after.id else { return }
        counter += 1
        let url = schemaURL + "?worker=\(index)&change=\(counter)"
        let result = await ctl(["activate", String(id), url])
        after.mode = "active"
        after.url = url
        settle(record, "activate", result, after: after)
    }

    private func setMode(_ record: Int, _ mode: String) async {
        guard var after = records[record].known, let id = after.id else { return }
        let refused = mode != "deactive" && after.url.isEmpty  // active/sync need an activation first
        let result = await ctl(["set-mode", String(id), mode])
        if !refused { after.mode = mode }
        settle(record, "set-mode", result, after: after, expectedFailure: refused ? 6 : nil)
    }

    private func delete(_ record: Int) async {
        guard let before = records[record].known, let id = before.id else { return }
        let result = await ctl(["delete", String(id)])
        settle(record, "delete", result, after: .absent)
    }

    /// After a restart: checks every record against what the daemon shows and resolves the
    /// uncertain ones; returns the problems.
    func reconcile(with observed: [String: ObservedConnector]) -> [String] {
        var problems: [String] = []
        for index in records.indices {
            let seen = observed[records[index].name]?.state ?? .absent
            let possible = records[index].possible
            guard let match = possible.first(where: { $0.matches(seen) }) else {
                lost += 1
                problems.append(
                    "\(records[index].name): the daemon shows \(seen), the acknowledged state is "
                        + (possible.count == 1 ? "\(possible[0])" : "one of \(possible)"))
                records[index].possible = [seen]
                continue
            }
            if possible.count > 1 {
                uncertainResolved += 1
                if match == possible.last { uncertainApplied += 1 }
            }
            records[index].possible = [seen.exists ? seen : .absent]
        }
        return problems
    }
}

/// A flag the test raises to stop the workers.
final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    var isSet: Bool { flag.load(ordering: .acquiring) }
    func set() { flag.store(true, ordering: .releasing) }
}

