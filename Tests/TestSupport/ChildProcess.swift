public import Foundation
import Glibc
import NIOPosix
import Synchronization

/// A program a test runs: the daemon, the CLI, the sample connector, a Go peer.
///
/// - It dies with the test process, even when that crashes or is killed: it is
///   started under `setpriv --pdeathsig KILL` from one thread that lives as
///   long as the process (the kernel signals a child when the *thread* that
///   started it ends, so not from a pool thread that may retire).
/// - Its exit is awaited, never waited for on a thread of Swift's cooperative
///   pool (two threads on a two-core machine: one blocked thread halves it).
/// - Its stdout and stderr go to files, so a full pipe never stalls it and
///   nothing has to be read while it runs.
public final class ChildProcess: Sendable {
    /// The process id (that of the program: setpriv execs it).
    public let pid: Int32
    private let outputDirectory: String
    private let exit: Exit

    /// The exit, as Foundation reports it, and who waits for it.
    private final class Exit: Sendable {
        struct State {
            /// Kept until the program ends (Foundation reports the exit through it).
            var process: Process?
            var status: Int32?
            var waiters: [CheckedContinuation<Int32, Never>] = []
        }

        let state = Mutex(State())

        func ended(with status: Int32) {
            let waiters = state.withLock { state in
                state.status = status
                state.process = nil
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume(returning: status) }
        }
    }

    private init(pid: Int32, outputDirectory: String, exit: Exit) {
        self.pid = pid
        self.outputDirectory = outputDirectory
        self.exit = exit
    }

    deinit {
        if exit.state.withLock({ $0.status == nil }) { kill(pid, SIGKILL) }
        try? FileManager.default.removeItem(atPath: outputDirectory)
    }

    /// Starts `executable` with `arguments`.
    /// - Parameters:
    ///   - environment: added to (or replacing entries of) this process's environment.
    ///   - input: what the program reads on stdin (nothing if nil).
    ///   - workingDirectory: where it runs (this process's if nil).
    public static func start(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], input: String? = nil,
        workingDirectory: String? = nil
    ) async throws -> ChildProcess {
        let directory = try makeOutputDirectory()
        let env = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let inputPath = directory + "/stdin"
        FileManager.default.createFile(atPath: inputPath, contents: Data((input ?? "").utf8))
        FileManager.default.createFile(atPath: directory + "/stdout", contents: nil)
        FileManager.default.createFile(atPath: directory + "/stderr", contents: nil)

        let exit = Exit()
        let launch = deathSignalPrefix + [executable] + arguments
        let pid = try await spawner.runIfActive { () throws -> Int32 in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: launch[0])
            process.arguments = Array(launch.dropFirst())
            process.environment = env
            if let workingDirectory { process.currentDirectoryURL = URL(fileURLWithPath: workingDirectory) }
            process.standardInput = FileHandle(forReadingAtPath: inputPath)
            process.standardOutput = FileHandle(forWritingAtPath: directory + "/stdout")
            process.standardError = FileHandle(forWritingAtPath: directory + "/stderr")
            process.terminationHandler = { process in
                exit.ended(with: process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus)
            }
            try process.run()
            exit.state.withLock { state in
                if state.status == nil { state.process = process }
            }
            return process.processIdentifier
        }
        return ChildProcess(pid: pid, outputDirectory: directory, exit: exit)
    }

    /// Runs a program to completion; kills it (SIGKILL) if it runs longer than
    /// `timeout`, a guard against a hang, not a measure of speed.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], input: String? = nil,
        workingDirectory: String? = nil, timeout: Duration = .seconds(300)
    ) async throws -> CommandResult {
        let child = try await start(executable, arguments, environment: environment, input: input, workingDirectory: workingDirectory)
        let status = await child.wait(killingAfter: timeout)
        return CommandResult(status: status, stdout: child.standardOutput, stderr: child.standardError)
    }

    /// The exit status once the program has ended: its exit code, or 128 plus
    /// the signal that ended it.
    public func wait() async -> Int32 {
        if let status = exitStatus { return status }
        return await withCheckedContinuation { continuation in
            let status: Int32? = exit.state.withLock { state in
                if state.status == nil { state.waiters.append(continuation) }
                return state.status
            }
            if let status { continuation.resume(returning: status) }
        }
    }

    /// `wait()`, sending SIGKILL if the program has not ended after `timeout`.
    public func wait(killingAfter timeout: Duration) async -> Int32 {
        await withTaskGroup(of: Int32?.self) { group in
            group.addTask { await self.wait() }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            while let next = await group.next() {
                if let status = next {
                    group.cancelAll()
                    return status
                }
                signal(SIGKILL)
            }
            return await wait()
        }
    }

    /// The exit status, or nil while the program runs.
    public var exitStatus: Int32? { exit.state.withLock { $0.status } }

    /// Whether the program still runs.
    public var isRunning: Bool { exitStatus == nil }

    /// Sends `signal` if the program still runs.
    public func signal(_ signal: Int32) {
        if isRunning { kill(pid, signal) }
    }

    /// Sends `signal` and waits for the exit status (SIGKILL after `timeout`).
    @discardableResult
    public func stop(_ signal: Int32 = SIGTERM, timeout: Duration = .seconds(60)) async -> Int32 {
        self.signal(signal)
        return await wait(killingAfter: timeout)
    }

    /// Everything the program wrote on stdout so far.
    public var standardOutput: String { contents(of: "stdout") }

    /// Everything the program wrote on stderr so far.
    public var standardError: String { contents(of: "stderr") }

    /// Waits until the program has written a whole line on stdout that
    /// satisfies `matches`, and returns it.
    /// - Throws: `ChildProcessError` if the program ends first, or nothing
    ///   matched within `timeout` (a guard against a hang).
    public func line(
        timeout: Duration = .seconds(120), where matches: (Substring) -> Bool = { _ in true }
    ) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while true {
            let finished = !isRunning
            let lines = standardOutput.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
            if let line = lines.first(where: matches) { return String(line) }
            if finished {
                throw ChildProcessError("the program ended (status \(exitStatus ?? -1)) before printing the line; stderr: \(standardError)")
            }
            guard ContinuousClock.now < deadline else { throw ChildProcessError("no such line within \(timeout)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    private func contents(of name: String) -> String {
        (try? String(contentsOfFile: outputDirectory + "/" + name, encoding: .utf8)) ?? ""
    }

    // MARK: Internals

    /// The one thread every child is started from; it lives as long as the test process.
    private static let spawner: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        return pool
    }()

    /// `setpriv --pdeathsig KILL --` where util-linux has it.
    private static let deathSignalPrefix: [String] =
        FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") ? ["/usr/bin/setpriv", "--pdeathsig", "KILL", "--"] : []

    private static func makeOutputDirectory() throws -> String {
        var template = Array("/tmp/child.XXXXXX".utf8CString)
        return try template.withUnsafeMutableBufferPointer { buffer in
            guard let path = mkdtemp(buffer.baseAddress!) else { throw ChildProcessError("mkdtemp: \(String(cString: strerror(errno)))") }
            return String(cString: path)
        }
    }
}

/// A child process that did not do what the test waited for.
public struct ChildProcessError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// What a program run to completion did.
public struct CommandResult: Sendable {
    /// The exit code, or 128 plus the signal that ended the program.
    public var status: Int32
    public var stdout: String
    public var stderr: String

    public init(status: Int32, stdout: String, stderr: String) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }

    /// stdout parsed as a JSON object.
    public func json() throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(stdout.utf8))
        guard let dictionary = object as? [String: Any] else { throw ChildProcessError("not a JSON object: \(stdout)") }
        return dictionary
    }
}
