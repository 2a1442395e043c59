import Foundation

/// watch-load's output: one JSON object.
struct Report: Encodable {
    var watchers = 0
    var connections = 0
    /// Registrations made and waited for (0: listened until a signal).
    var events = 0
    var readySeconds = 0.0
    /// From the first registration to the last delivery (or the listening time).
    var windowSeconds = 0.0
    var writeSeconds = 0.0
    var registerP50Us = 0.0
    /// connectord's CPU time over the window (with --server-pid).
    var serverCPUMs: Double?
    var readyRevision: UInt64 = 0
    /// Events received after the ready revision, over all watchers.
    var deliveries = 0
    var eventsPerWatcherMin = 0
    var eventsPerWatcherMax = 0
    /// Watchers that received exactly `events` events (with --events).
    var completeWatchers = 0
    var lastRevisionMin: UInt64 = 0
    var lastRevisionMax: UInt64 = 0
    /// Revisions skipped, and revisions received twice, summed over the watchers.
    var missingRevisions: UInt64 = 0
    var duplicates = 0
    /// Watches ended with RESOURCE_EXHAUSTED (and resumed).
    var cutOffs = 0
    var unparsedTimes = 0
    /// Watches that ended with another error (not resumed), and the first such error.
    var errors = 0
    var firstError: String?
    var latencyP50Us = 0.0
    var latencyP99Us = 0.0
    var latencyMaxUs = 0.0

    init(window: Duration = .zero) {
        windowSeconds = window.inSeconds
    }

    enum CodingKeys: String, CodingKey {
        case watchers, connections, events, deliveries, duplicates, errors
        case firstError = "first_error"
        case readySeconds = "ready_s", windowSeconds = "window_s", writeSeconds = "write_s"
        case registerP50Us = "register_p50_us", serverCPUMs = "server_cpu_ms", readyRevision = "ready_revision"
        case eventsPerWatcherMin = "events_per_watcher_min", eventsPerWatcherMax = "events_per_watcher_max"
        case completeWatchers = "complete_watchers", lastRevisionMin = "last_revision_min"
        case lastRevisionMax = "last_revision_max", missingRevisions = "missing_revisions", cutOffs = "cut_offs"
        case unparsedTimes = "unparsed_times", latencyP50Us = "latency_p50_us", latencyP99Us = "latency_p99_us"
        case latencyMaxUs = "latency_max_us"
    }

    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}

/// Nearest-rank percentiles of a sample.
struct Percentiles {
    private let sorted: [Double]

    init(_ values: [Double]) { sorted = values.sorted() }

    /// The value at fraction `q` (0...1); 0 for an empty sample.
    func value(at q: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let rank = Int((q * Double(sorted.count)).rounded(.up))
        return sorted[min(sorted.count, max(1, rank)) - 1]
    }
}
