import ArgumentParser
import ConnectorAPI
import ConnectorClient
import Foundation
import TTRPC
import UnixSignals

/// watch-load: many concurrent Watch streams on connectord, for the benchmark
/// harness (`Benchmarks/run.py`, BENCHMARKS.md figure 7).
///
/// Opens `--watchers` unfiltered watches (start revision 0) spread round-robin
/// over `--connections` connections, then registers probe connectors until
/// every watcher has seen the same latest revision (so every watch is open).
/// Then, with `--events N`, it registers N connectors at `--rate` per second on
/// a connection of its own and waits until every watcher has received all of
/// them; without, it prints `ready` and listens until SIGTERM or SIGINT.
/// Either way it ends by printing one JSON object (see `Report`).
@main
struct WatchLoad: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch-load",
        abstract: "Many concurrent connectord watchers; prints one JSON object.",
        discussion: """
            Delivery latency is the local receive time minus the event's connector.updated_at (the \
            server's time of the change, taken before its commit): same machine, same clock. A \
            watcher ended with RESOURCE_EXHAUSTED (it fell behind) resumes from its last revision + 1.
            """)

    @Option(help: "connectord's socket") var socket: String
    @Option(help: "concurrent watches") var watchers = 1000
    @Option(help: "connections the watches are spread over (round-robin)") var connections = 1000
    @Option(help: "registrations to make and wait for (0: print ready, listen until SIGTERM)") var events = 0
    @Option(help: "registrations per second (with --events)") var rate = 100.0
    @Option(name: .customLong("name-prefix"), help: "prefix of the registered names (a counter is appended)")
    var namePrefix = "watch"
    @Option(name: .customLong("server-pid"), help: "connectord's pid: its CPU time over the registrations")
    var serverPID: Int32?
    @Option(help: "seconds to wait for every watch to open, and for every delivery") var timeout = 60.0

    func validate() throws {
        guard watchers >= 0, connections >= 1, events >= 0, rate > 0, timeout > 0 else {
            throw ValidationError("--watchers >= 0, --connections >= 1, --events >= 0, --rate > 0, --timeout > 0")
        }
        guard events > 0 || watchers > 0 else { throw ValidationError("listening needs --watchers > 0") }
    }

    func run() async throws {
        // Listening ends on a signal; the harness only sends one after `ready`.
        let signals = events == 0 ? await UnixSignalsSequence(trapping: .sigterm, .sigint) : nil
        let clients = (0..<min(connections, max(watchers, 1))).map { _ in ConnectorClient(socketPath: socket) }
        let writer = ConnectorClient(socketPath: socket, timeout: .seconds(30))
        for client in clients + [writer] { try await client.connect() }

        let progress = Progress(watchers: watchers)
        let began = ContinuousClock.now
        let report = try await withThrowingTaskGroup(of: Void.self, returning: Report.self) { group in
            for index in 0..<watchers {
                let client = clients[index % clients.count]
                group.addTask { try await Self.watch(index, client: client, progress: progress) }
            }
            let driver = Driver(writer: writer, progress: progress, namePrefix: namePrefix, timeout: .seconds(timeout))
            try await driver.waitUntilEveryWatchIsOpen()
            let ready = began.duration(to: .now)
            var report: Report
            if let signals {
                print("ready")
                fflush(nil)  // every stream: the harness waits for this line
                let listening = ContinuousClock.now
                for await _ in signals { break }
                report = Report(window: listening.duration(to: .now))
            } else {
                report = try await driver.register(events, perSecond: rate, serverPID: serverPID)
            }
            group.cancelAll()
            report.readySeconds = ready.inSeconds
            return report
        }
        for client in clients + [writer] { await client.close() }
        var final = report
        progress.summarize(into: &final, watchers: watchers, connections: clients.count, expected: events)
        print(try final.json())
    }

    /// One watcher: every change from now on, resumed after its last revision
    /// when the daemon ends it for falling behind; returns when cancelled.
    static func watch(_ index: Int, client: ConnectorClient, progress: Progress) async throws {
        var start: UInt64 = 0
        while !Task.isCancelled {
            do {
                try await client.watch(ConnectorsV1.WatchRequest(startRevision: start)) { events in
                    for try await event in events {
                        progress.received(event, by: index, at: WallClock.microseconds())
                    }
                }
                return
            } catch let error as RPCError where error.code == .resourceExhausted && !Task.isCancelled {
                start = progress.cutOff(index)
            } catch where Task.isCancelled {
                return
            } catch {
                progress.failed(error)
                throw error
            }
        }
    }
}
