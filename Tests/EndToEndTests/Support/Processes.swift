import Foundation
import Glibc
import TestSupport
import Testing

/// Where the built executables are: `$CONNECTORD_BIN_DIR`, the directory of
/// the test bundle, or `.build/debug` of this package.
enum Binaries {
    static let directory: URL = {
        if let explicit = ProcessInfo.processInfo.environment["CONNECTORD_BIN_DIR"] {
            return URL(fileURLWithPath: explicit)
        }
        var candidate = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            if FileManager.default.isExecutableFile(atPath: candidate.appendingPathComponent("connectord").path) {
                return candidate
            }
            candidate = candidate.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/debug")
    }()

    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
}

/// Runs a command to completion, feeding `input` on stdin; `prefix` (e.g.
/// setpriv) execs it.
func runCommand(
    _ executable: String, _ arguments: [String], environment: [String: String] = [:], input: String? = nil,
    prefix: [String] = []
) async throws -> CommandResult {
    let launch = prefix + [executable] + arguments
    var env = environment
    env["NO_COLOR"] = "1"
    return try await ChildProcess.run(launch[0], Array(launch.dropFirst()), environment: env, input: input)
}

/// Waits until `path` is a socket that accepts connections, or fails after `timeout`.
func waitForSocket(_ path: String, timeout: Duration = .seconds(120)) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        var info = stat()
        if stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFSOCK { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("socket \(path) did not appear within \(timeout)")
    throw CancellationError()
}

/// A fresh directory with a short path (Unix socket paths are limited to 107 bytes).
func makeShortTemporaryDirectory() throws -> URL {
    var template = Array("/tmp/e2e.XXXXXX".utf8CString)
    guard let path = mkdtemp(&template) else { throw CocoaError(.fileWriteUnknown) }
    return URL(fileURLWithPath: String(cString: path))
}
