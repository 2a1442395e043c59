import ArgumentParser
import ConnectorAPI
import ConnectorClient
import Foundation
import TTRPC

/// Follow the registry's changes as they are committed.
struct Watch: DaemonCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the registry's changes as they happen, one line each.",
        discussion: """
            Without --since, from now on; with --since REV, every change from revision REV on (as \
            far back as the history is kept), then live. --initial first prints the connectors as \
            they are (SNAPSHOT), then a BOOKMARK with their revision, then the changes after it.

            When the connection drops (connectord restarted or killed) or connectord cuts off a \
            watch that fell behind, watch says so on stderr, reconnects (retrying with a backoff \
            while connectord is down) and resumes after the last revision it printed: no change \
            is missed or printed twice. Ctrl-C or SIGTERM ends it with exit status 0.
            """)

    @Option(name: .long, help: ArgumentHelp("Start at this revision (1: the whole history kept).", valueName: "REV"))
    var since: UInt64?

    @Option(name: .long, help: "Only changes of connectors in this mode (before or after the change).")
    var mode: ModeArgument?

    @Option(name: .long, help: "Only changes of this connector.")
    var id: UInt64?

    @Flag(name: .long, help: "First the current connectors and a bookmark, then the changes.")
    var initial = false

    @OptionGroup var ownOptions: GlobalOptions
    @ParentCommand var root: ConnectorCtl

    func validate() throws {
        if since == 0 { throw ValidationError("--since must be a revision, 1 or more") }
        if since != nil, initial { throw ValidationError("--initial shows the connectors as they are now: it cannot start at --since") }
        if id == 0 { throw ValidationError("--id must be a connector id, 1 or more") }
    }

    func run() async throws {
        let options = options
        let watcher = Watcher(
            socketPaths: options.socketPaths,
            callTimeout: .milliseconds(Int64((options.timeout ?? GlobalOptions.defaultTimeout) * 1000)),
            request: ConnectorsV1.WatchRequest(
                startRevision: since ?? 0, mode: mode?.wire ?? .unspecified, connectorID: id ?? 0, includeInitialState: initial),
            json: options.json)
        let signals = TerminationSignals()
        let received = signals.received
        let failure = await withTaskGroup(of: CLIFailure?.self) { group in
            group.addTask { await watcher.run() }
            group.addTask {
                for await _ in received { break }
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        withExtendedLifetime(signals) {}
        if let failure {
            failure.report(json: options.json)
            throw ExitCode(failure.exitCode)
        }
    }
}

/// The watch loop: watches, and after a dropped connection or a cut-off
/// watch, reconnects and resumes after the last revision printed.
struct Watcher: Sendable {
    var socketPaths: [String]
    var callTimeout: Duration
    var request: ConnectorsV1.WatchRequest
    var json: Bool

    /// Watches until the task is cancelled (nil) or the watch fails for good
    /// (the failure to report): a status other than UNAVAILABLE and
    /// RESOURCE_EXHAUSTED, or no daemon to connect to at the start.
    func run() async -> CLIFailure? {
        // The revision to resume from; nil until known (the first connection learns "now").
        var next: UInt64? = request.startRevision > 0 ? request.startRevision : nil
        var initial = request.includeInitialState
        var retryDelay = Self.firstRetryDelay
        var connectedBefore = false
        var interrupted = false
        var reportedDown = false
        // Once connected, the same daemon only: revisions are its history's.
        var paths = socketPaths
        while !Task.isCancelled {
            let client: ConnectorClient
            switch await connect(paths) {
            case .success(let connected):
                client = connected
                paths = [connected.socketPath]
            case .failure(let failure):
                guard connectedBefore else { return failure }
                if !reportedDown {
                    Terminal.standardError("watch: \(failure.message); retrying until it is back")
                    reportedDown = true
                }
                try? await Task.sleep(for: retryDelay)
                retryDelay = min(retryDelay * 2, Self.maximumRetryDelay)
                continue
            }
            connectedBefore = true
            reportedDown = false
            var delivered = false
            let ended: RPCError?
            do throws(RPCError) {
                if next == nil, !initial {
                    next = try await currentRevision(client)
                }
                if interrupted {
                    Terminal.standardError("watch: reconnected; resuming \(next.map { "from revision \($0)" } ?? "with the current state")")
                    interrupted = false
                }
                try await watch(client, from: next, initial: initial) { event in
                    delivered = true
                    if event.kind != .snapshot { next = event.revision + 1 }
                    if event.kind == .bookmark { initial = false }
                }
                ended = nil
            } catch {
                ended = error
            }
            await client.close()
            switch ended?.code {
            case nil:
                Terminal.standardError("watch: connectord ended the watch; reconnecting")
            case .cancelled? where Task.isCancelled:
                return nil
            case .unavailable?:
                Terminal.standardError("watch: lost the connection to connectord (\(ended?.message ?? "")); reconnecting")
            case .resourceExhausted?:
                Terminal.standardError("watch: the watch was cut off (\(ended?.message ?? "")); resuming")
            default:
                return ended.map { CLIFailure($0) }
            }
            interrupted = true
            // A watch that ends again before any event (a daemon stopping, say) is retried with the backoff too.
            if delivered {
                retryDelay = Self.firstRetryDelay
            } else {
                try? await Task.sleep(for: retryDelay)
                retryDelay = min(retryDelay * 2, Self.maximumRetryDelay)
            }
        }
        return nil
    }

    /// A client connected to the first of `paths` that accepts, or the failure naming every one tried.
    private func connect(_ paths: [String]) async -> Result<ConnectorClient, CLIFailure> {
        var unreachable: [String] = []
        for path in paths {
            let client = ConnectorClient(socketPath: path)
            do {
                try await client.connect()
                return .success(client)
            } catch {
                unreachable.append(error.message)
                await client.close()
            }
        }
        return .failure(CLIFailure(
            exitCode: 10, code: "UNAVAILABLE",
            message: "connectord is not running or not reachable (\(unreachable.joined(separator: "; ")))"))
    }

    /// The revision the next change will have ("now"), so that a watch
    /// resumed after a drop misses nothing that came after it.
    private func currentRevision(_ client: ConnectorClient) async throws(RPCError) -> UInt64 {
        var client = client
        client.timeout = callTimeout
        let changes = try await client.listChanges(ConnectorsV1.ListChangesRequest(startRevision: 0, maxEvents: 1, waitMs: 0))
        return changes.events.first?.revision ?? changes.nextRevision
    }

    /// Prints the events of one watch from `start` (or with the initial
    /// state), telling `seen` of each after it is printed; throws the status
    /// the watch ends with.
    private func watch(
        _ client: ConnectorClient, from start: UInt64?, initial: Bool, seen: (ConnectorsV1.WatchEvent) -> Void
    ) async throws(RPCError) {
        var watchRequest = request
        watchRequest.startRevision = initial ? 0 : start ?? 0
        watchRequest.includeInitialState = initial
        do {
            try await client.watch(watchRequest) { events in
                for try await event in events {
                    // Unbuffered: each line is out before the next event is awaited.
                    FileHandle.standardOutput.write(Data(((json ? event.json.compact : event.line) + "\n").utf8))
                    seen(event)
                }
            }
        } catch let error as RPCError {
            throw error
        } catch {
            throw RPCError(code: .unknown, message: "\(error)")
        }
    }

    private static let firstRetryDelay = Duration.milliseconds(100)
    private static let maximumRetryDelay = Duration.seconds(2)
}
