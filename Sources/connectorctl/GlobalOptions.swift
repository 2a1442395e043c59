import ArgumentParser
import ConnectorAPI
import ConnectorClient
import Foundation
import TTRPC

/// Options every subcommand takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "connectord's socket (env CONNECTORD_SOCKET; default as the daemon resolves it).")
    var socket: String?

    @Option(name: .long, help: "Seconds to wait for an answer.")
    var timeout: Double = 30

    @Flag(name: .long, help: "Print JSON on stdout instead of text.")
    var json = false

    func validate() throws {
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
    }

    var socketPath: String {
        socket ?? DefaultLocations.socketPath(environment: ProcessInfo.processInfo.environment)
    }

    /// Runs `body` with a connected client; turns failures into one line on
    /// stderr (and a JSON error on stdout with `--json`) and the documented exit code.
    func withClient(_ body: (ConnectorClient) async throws(RPCError) -> Void) async throws {
        let client = ConnectorClient(socketPath: socketPath, timeout: .milliseconds(Int64(timeout * 1000)))
        let failure: CLIFailure?
        do {
            try await client.connect()
            do {
                try await body(client)
                failure = nil
            } catch {
                failure = CLIFailure(error)
            }
        } catch {
            failure = CLIFailure(
                exitCode: 10, code: "UNAVAILABLE", message: "connectord is not running or not reachable (\(error.message))")
        }
        await client.close()
        if let failure {
            failure.report(json: json)
            throw ExitCode(failure.exitCode)
        }
    }
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
