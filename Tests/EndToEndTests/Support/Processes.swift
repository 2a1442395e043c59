import Foundation
import Glibc
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

/// The outcome of a finished command.
struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String

    /// stdout parsed as a JSON object.
    func json() throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(stdout.utf8))
        return try #require(object as? [String: Any], "not a JSON object: \(stdout)")
    }
}

/// Runs a command to completion (at most `timeout`), feeding `input` on stdin.
func runCommand(
    _ executable: String, _ arguments: [String], environment: [String: String] = [:], input: String? = nil,
    prefix: [String] = [], timeout: Duration = .seconds(60)
) throws -> CommandResult {
    let process = Process()
    let launch = prefix.isEmpty ? [executable] + arguments : prefix + [executable] + arguments
    process.executableURL = URL(fileURLWithPath: launch[0])
    process.arguments = Array(launch.dropFirst())
    var env = ProcessInfo.processInfo.environment
    env["NO_COLOR"] = "1"
    for (key, value) in environment { env[key] = value }
    process.environment = env
    let stdout = Pipe(), stderr = Pipe(), stdin = Pipe()
    process.standardOutput = stdout
    process.standardError = stderr
    process.standardInput = stdin
    try process.run()
    if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
    try stdin.fileHandleForWriting.close()
    // Read both pipes to the end before waiting, so a full pipe never blocks the child.
    let outData = stdout.fileHandleForReading.readDataToEndOfFile()
    let errData = stderr.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return CommandResult(
        status: process.terminationStatus,
        stdout: String(decoding: outData, as: UTF8.self),
        stderr: String(decoding: errData, as: UTF8.self))
}

/// A long-running child process (the daemon, the sample connector), killed at the end.
final class Background {
    let process = Process()
    private let output = Pipe()
    private let errors = Pipe()
    private let errorLog: URL

    init(_ executable: String, _ arguments: [String], environment: [String: String] = [:], errorLog: URL) throws {
        self.errorLog = errorLog
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        FileManager.default.createFile(atPath: errorLog.path, contents: nil)
        process.standardOutput = output
        process.standardError = try FileHandle(forWritingTo: errorLog)
        try process.run()
    }

    /// The first line the process prints on stdout.
    func firstLine() -> String {
        var bytes: [UInt8] = []
        let handle = output.fileHandleForReading
        while let byte = try? handle.read(upToCount: 1), let first = byte.first, first != UInt8(ascii: "\n") {
            bytes.append(first)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// What the process wrote on stderr so far.
    var stderrText: String { (try? String(contentsOf: errorLog, encoding: .utf8)) ?? "" }

    /// Sends `signal` and waits for the exit status.
    @discardableResult
    func stop(_ signal: Int32 = SIGTERM) -> Int32 {
        if process.isRunning { kill(process.processIdentifier, signal) }
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
}

/// Waits until `path` is a socket that accepts connections, or fails after `timeout`.
func waitForSocket(_ path: String, timeout: Duration = .seconds(20)) async throws {
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
