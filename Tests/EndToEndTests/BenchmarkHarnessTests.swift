import Foundation
import Glibc
import TestSupport
import Testing

/// The benchmark harness (`Benchmarks/run.py`, see BENCHMARKS.md) runs from
/// end to end on a tiny workload: it builds the Go load generator, the Go
/// ttrpc echo server and the C floor, starts every server itself against the
/// built `connectord`, `sample-connector` and `watch-load`, and prints its table. The
/// figures themselves are not checked: the benchmark is too long and too
/// noisy for a test.
@Suite(
    .enabled(if: BenchmarkHarness.toolsAreInstalled, "needs go, gcc and python3 on PATH"),
    .timeLimit(.minutes(5)))
struct BenchmarkHarnessTests {
    @Test func quickRunPrintsTheTable() async throws {
        let result = try await BenchmarkHarness.runQuick(timeout: .seconds(240))
        #expect(result.status == 0, "run.py --quick exited \(result.status):\n\(result.stderr.suffix(4000))")
        let table = result.stdout
        for row in BenchmarkHarness.expectedRows {
            #expect(table.contains(row), "no row \"\(row)\" in:\n\(table)")
        }
        // Every target row carries a verdict.
        let targets = table.split(separator: "\n").filter { $0.hasPrefix("| T |") }
        #expect(targets.count >= 14, "target rows: \(targets.count)")
        for line in targets {
            #expect(line.contains("PASS") || line.contains("MISS"), "no verdict: \(line)")
        }
    }
}

enum BenchmarkHarness {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let toolsAreInstalled: Bool = ["go", "gcc", "python3"].allSatisfy(isOnPath)

    static let expectedRows = [
        "| 1 | connectord Get, 1 client sequential: calls/s |",
        "| 1 | connectord Get, 1 conn x 16 in flight: calls/s |",
        "| 1 | connectord Get, 8 conns x 4 in flight: calls/s |",
        "| 1 | connectord Get, 8 conns x 4 in flight: server CPU per call (us) |",
        "| 2 | Go ttrpc echo, 1 client sequential: calls/s |",
        "| 2 | C floor (raw AF_UNIX), 1 client sequential: round trips/s |",
        "| T | Get sequential p50 / Go echo p50 (target ≤ 1.0) |",
        "| 3 | List of 100 connectors: p50 / p99 (us) |",
        "| 3 | raw socket moving the same bytes: p50 / p99 (us) |",
        "| 4 | Register, 32 clients: calls/s (p50 us) |",
        "| 5 | Activate, 16 at once, local schema server: activations/s (p50 us) |",
        "| 6 | resident memory idle (MB): connectord / Go echo |",
        "| 6 | start to first answered Get, 1,000 connectors stored (ms); RSS then (MB) |",
        "| 7 | Watch: change to delivery at every watcher, p50 / p99 / max (us); the Register's own p50 |",
        "| T | Watch: every one of 20 watchers receives every event, in order (target: all) |",
        "| T | Register 32 clients with 20 watchers / with none (target ≥ 0.8) |",
    ]

    static func isOnPath(_ tool: String) -> Bool {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        return path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)") }
    }

    /// Runs `Benchmarks/run.py --quick` on the binaries under test, killing it after `timeout`.
    static func runQuick(timeout: Duration) async throws -> CommandResult {
        try await ChildProcess.run(
            "/usr/bin/env",
            [
                "python3", root.appendingPathComponent("Benchmarks/run.py").path, "--quick",
                "--bin-dir", Binaries.directory.path, "--verbose", "--exit-with-parent",
            ],
            workingDirectory: root.path, timeout: timeout)
    }
}
