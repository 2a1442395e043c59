import ArgumentParser
import ConnectorAPI
import ConnectorClient
import Foundation
import TTRPC

/// Options every subcommand takes, before the subcommand (as with ctr, docker
/// or kubectl) or after it: `connectorctl --socket PATH list` and
/// `connectorctl list --socket PATH` are the same.
struct GlobalOptions: ParsableArguments {
    static let defaultTimeout = 30.0

    @Option(
        name: .long,
        help: """
            connectord's socket (env CONNECTORD_SOCKET; default: your own daemon's socket, \
            then the system daemon's \(DefaultLocations.systemSocketPath)).
            """)
    var socket: String?

    @Option(name: .long, help: "Seconds to wait for an answer (default \(Int(GlobalOptions.defaultTimeout))).")
    var timeout: Double?

    @Flag(name: .long, help: "Print JSON on stdout instead of text.")
    var json = false

    func validate() throws {
        if let timeout, !(timeout > 0) { throw ValidationError("--timeout must be positive") }
    }

    /// These options where they were given, else `outer`'s (those given before the subcommand).
    func overriding(_ outer: GlobalOptions) -> GlobalOptions {
        var merged = self
        merged.socket = socket ?? outer.socket
        merged.timeout = timeout ?? outer.timeout
        merged.json = json || outer.json
        return merged
    }

    /// The sockets to try, in order: `--socket`; else `$CONNECTORD_SOCKET`;
    /// else the user's own daemon's, then the system daemon's.
    var socketPaths: [String] {
        if let socket { return [socket] }
        return DefaultLocations.clientSocketPaths(environment: ProcessInfo.processInfo.environment)
    }

    /// Runs `body` with a client connected to the first socket of `socketPaths`
    /// that accepts; turns failures into one line on stderr (and a JSON error
    /// on stdout with `--json`) and the documented exit code. When no socket
    /// accepts, the message names every one tried.
    func withClient(_ body: (ConnectorClient) async throws(RPCError) -> Void) async throws {
        let callTimeout = Duration.milliseconds(Int64((timeout ?? Self.defaultTimeout) * 1000))
        var unreachable: [String] = []
        for path in socketPaths {
            let client = ConnectorClient(socketPath: path, timeout: callTimeout)
            do {
                try await client.connect()
            } catch {
                unreachable.append(error.message)
                await client.close()
                continue
            }
            let failure: CLIFailure?
            do {
                try await body(client)
                failure = nil
            } catch {
                failure = CLIFailure(error)
            }
            await client.close()
            if let failure { try fail(failure) }
            return
        }
        try fail(
            CLIFailure(
                exitCode: 10, code: "UNAVAILABLE",
                message: "connectord is not running or not reachable (\(unreachable.joined(separator: "; ")))"))
    }

    /// Reports `failure` and exits with its code.
    private func fail(_ failure: CLIFailure) throws -> Never {
        failure.report(json: json)
        throw ExitCode(failure.exitCode)
    }
}

/// A subcommand that talks to connectord. Its global options are its own
/// (after the subcommand) over the root command's (before it).
protocol DaemonCommand: AsyncParsableCommand {
    /// The global options given after the subcommand.
    var ownOptions: GlobalOptions { get }
    /// The root command, with the global options given before the subcommand.
    var root: ConnectorCtl { get }
}

extension DaemonCommand {
    /// The global options in effect.
    var options: GlobalOptions { ownOptions.overriding(root.globalOptions) }
}

/// A failed command: its exit code, status name and message.
struct CLIFailure: Error {
    var exitCode: Int32
    var code: String
    var message: String

    init(exitCode: Int32, code: String, message: String) {
        self.exitCode = exitCode
        self.code = code
        self.message = message
    }

    init(_ error: RPCError) {
        let exitCode: Int32 =
            switch error.code {
            case .invalidArgument, .outOfRange: 2
            case .notFound: 3
            case .alreadyExists: 4
            case .permissionDenied, .unauthenticated: 5
            case .failedPrecondition: 6
            case .unavailable: 7
            case .deadlineExceeded: 8
            case .aborted: 9
            default: 1
            }
        self.init(exitCode: exitCode, code: error.code.name, message: error.message)
    }

    func report(json: Bool) {
        if json {
            print(JSONWriter.text([("status", .string("error")), ("code", .string(code)), ("detail", .string(message))]))
        }
        Terminal.standardError("Error: \(message)")
    }
}
