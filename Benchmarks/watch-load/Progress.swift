import ConnectorAPI
import Synchronization

/// What every watcher has received, shared by the watchers and the driver.
final class Progress: Sendable {
    private struct Watcher {
        /// The highest revision received.
        var last: UInt64 = 0
        /// Events above the ready revision (the measured ones).
        var counted = 0
        var missing: UInt64 = 0
        var duplicates = 0
        var cutOffs = 0
    }

    private struct State {
        var watchers: [Watcher]
        /// The revision every watcher had seen when all watches were open.
        var readyRevision: UInt64?
        /// Delivery latencies of the measured events, microseconds.
        var latencies: [Int64] = []
        var unparsedTimes = 0
        var errors = 0
        var firstError: String?
    }

    private let state: Mutex<State>
    let watcherCount: Int

    init(watchers: Int) {
        watcherCount = watchers
        state = Mutex(State(watchers: Array(repeating: Watcher(), count: watchers)))
    }

    /// Records one event received by watcher `index` at `now` (wall clock, us).
    func received(_ event: ConnectorsV1.WatchEvent, by index: Int, at now: Int64) {
        let changed = WallClock.microseconds(rfc3339: event.connector.updatedAt)
        state.withLock { state in
            let last = state.watchers[index].last
            if last != 0, event.revision <= last {
                state.watchers[index].duplicates += 1
                return
            }
            if last != 0, event.revision > last + 1 {
                state.watchers[index].missing += event.revision - last - 1
            }
            state.watchers[index].last = event.revision
            guard let ready = state.readyRevision, event.revision > ready else { return }
            state.watchers[index].counted += 1
            if let changed {
                state.latencies.append(now - changed)
            } else {
                state.unparsedTimes += 1
            }
        }
    }

    /// Watcher `index` was ended for falling behind: the revision to resume from.
    func cutOff(_ index: Int) -> UInt64 {
        state.withLock { state in
            state.watchers[index].cutOffs += 1
            let last = state.watchers[index].last
            return last == 0 ? 0 : last + 1
        }
    }

    /// Watcher ended with an error other than falling behind.
    func failed(_ error: any Error) {
        state.withLock { state in
            state.errors += 1
            if state.firstError == nil { state.firstError = "\(error)" }
        }
    }

    /// Watchers that have received at least one event.
    var openCount: Int { state.withLock { $0.watchers.count { $0.last > 0 } } }

    /// True (and counting from here on) once every watcher has received the same latest revision.
    func markReadyIfEveryWatcherAgrees() -> Bool {
        state.withLock { state in
            guard let first = state.watchers.first?.last, first > 0,
                state.watchers.allSatisfy({ $0.last == first })
            else { return false }
            state.readyRevision = first
            return true
        }
    }

    func everyWatcherHas(_ count: Int) -> Bool {
        state.withLock { $0.watchers.allSatisfy { $0.counted >= count } }
    }

    /// Fills in the per-watcher counts, the checks and the latency percentiles.
    func summarize(into report: inout Report, watchers: Int, connections: Int, expected: Int) {
        state.withLock { state in
            report.watchers = watchers
            report.connections = connections
            report.events = expected
            report.readyRevision = state.readyRevision ?? 0
            let counts = state.watchers.map(\.counted)
            report.deliveries = counts.reduce(0, +)
            report.eventsPerWatcherMin = counts.min() ?? 0
            report.eventsPerWatcherMax = counts.max() ?? 0
            report.completeWatchers = expected > 0 ? counts.count { $0 == expected } : 0
            report.lastRevisionMin = state.watchers.map(\.last).min() ?? 0
            report.lastRevisionMax = state.watchers.map(\.last).max() ?? 0
            report.missingRevisions = state.watchers.reduce(0) { $0 + $1.missing }
            report.duplicates = state.watchers.reduce(0) { $0 + $1.duplicates }
            report.cutOffs = state.watchers.reduce(0) { $0 + $1.cutOffs }
            report.unparsedTimes = state.unparsedTimes
            report.errors = state.errors
            report.firstError = state.firstError
            let latencies = Percentiles(state.latencies.map(Double.init))
            report.latencyP50Us = latencies.value(at: 0.50)
            report.latencyP99Us = latencies.value(at: 0.99)
            report.latencyMaxUs = latencies.value(at: 1.0)
        }
    }
}
