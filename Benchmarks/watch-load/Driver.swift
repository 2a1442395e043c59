import ConnectorClient
import Foundation

/// Makes the registrations the watchers receive, on a connection of its own.
struct Driver {
    let writer: ConnectorClient
    let progress: Progress
    let namePrefix: String
    let timeout: Duration

    /// Registers a probe connector, and another every 250 ms, until every
    /// watcher has seen the same latest revision: then every watch is open and
    /// the events counted from here on are the ones after it.
    func waitUntilEveryWatchIsOpen() async throws {
        guard progress.watcherCount > 0 else { return }
        let deadline = ContinuousClock.now + timeout
        var probe = 0
        while ContinuousClock.now < deadline {
            _ = try await writer.register(name: "\(namePrefix)-probe-\(probe)", description: "watch-load probe")
            probe += 1
            let next = min(deadline, ContinuousClock.now + .milliseconds(250))
            while ContinuousClock.now < next {
                if progress.markReadyIfEveryWatcherAgrees() { return }
                try await Task.sleep(for: .milliseconds(2))
            }
        }
        throw WatchLoadError("not every watch received the probes within \(timeout): \(progress.openCount) of \(progress.watcherCount)")
    }

    /// Registers `count` connectors at `perSecond` (paced from the start, not
    /// from each answer), then waits until every watcher has received them all.
    /// The server's CPU time is taken over that whole window.
    func register(_ count: Int, perSecond: Double, serverPID: Int32?) async throws -> Report {
        let cpu = serverPID.map(ServerCPU.init(pid:))
        let clock = ContinuousClock()
        let start = clock.now
        var answers: [Double] = []
        answers.reserveCapacity(count)
        for index in 0..<count {
            let due = start + .seconds(Double(index) / perSecond)
            if due > clock.now { try await Task.sleep(until: due, clock: clock) }
            let sent = clock.now
            _ = try await writer.register(name: "\(namePrefix)-\(index)", description: "A connector registered by watch-load")
            answers.append(sent.duration(to: clock.now).inMicroseconds)
        }
        let written = start.duration(to: clock.now)
        let deadline = clock.now + timeout
        while !progress.everyWatcherHas(count), clock.now < deadline {
            try await Task.sleep(for: .milliseconds(1))
        }
        var report = Report(window: start.duration(to: clock.now))
        report.writeSeconds = written.inSeconds
        report.registerP50Us = Percentiles(answers).value(at: 0.5)
        if let cpu {
            report.serverCPUMs = Double(cpu.elapsedNanoseconds()) / 1e6
        }
        return report
    }
}

struct WatchLoadError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension Duration {
    var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
    var inMicroseconds: Double { inSeconds * 1e6 }
}
