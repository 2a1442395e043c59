import Foundation
import Glibc
import TestSupport
import Testing

/// Which socket the built `connectorctl` talks to: global options before or
/// after the subcommand, and the sockets it tries without `--socket`.
@Suite(.serialized)
struct ConnectorctlSocketTests {
    /// Runs the built `connectord` on a socket `name` in a fresh directory
    /// (mode 0755), waits until it listens, runs `body`, then stops the daemon
    /// (SIGTERM) and removes the directory, on every path.
    func withDaemonProcess<R>(
        socket name: String = "d.sock", mode: String = "0660", _ body: (_ socket: String, _ directory: URL) async throws -> R
    ) async throws -> R {
        let directory = try makeShortTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        chmod(directory.path, 0o755)
        let socket = directory.appendingPathComponent(name).path
        let daemon = try await ChildProcess.start(
            Binaries.path("connectord"),
            ["--socket", socket, "--data-dir", directory.appendingPathComponent("data").path, "--socket-mode", mode])
        let result: Result<R, any Error>
        do {
            try await waitForSocket(socket)
            result = .success(try await body(socket, directory))
        } catch {
            result = .failure(error)
        }
        #expect(await daemon.stop() == 0, "graceful stop: \(daemon.standardError)")
        return try result.get()
    }

    /// How to run connectorctl as an ordinary user: itself when the tests do
    /// not run as root; else a copy nobody may run, under setpriv as nobody.
    func ordinaryUsersConnectorctl(in directory: URL) throws -> (binary: String, prefix: [String]) {
        guard getuid() == 0 else { return (Binaries.path("connectorctl"), []) }
        let binary = directory.appendingPathComponent("connectorctl").path
        try FileManager.default.copyItem(atPath: Binaries.path("connectorctl"), toPath: binary)
        chmod(binary, 0o755)
        return (binary, ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"])
    }

    static let canRunAsOrdinaryUser = getuid() != 0 || FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")
    static let systemSocketAbsent = !FileManager.default.fileExists(atPath: "/run/connectord/connectord.sock")

    /// connectorctl with `arguments` and no CONNECTORD_SOCKET (unless `environment` sets it).
    func ctl(_ arguments: [String], environment: [String: String] = [:]) async throws -> CommandResult {
        try await runCommand(Binaries.path("connectorctl"), arguments, environment: ["CONNECTORD_SOCKET": ""].merging(environment) { $1 })
    }

    @Test func globalOptionsWorkBeforeAndAfterTheSubcommand() async throws {
        try await withDaemonProcess { socket, directory in
            let registered = try await ctl(["--socket", socket, "--json", "register", "early_bird", "--description", "d"])
            #expect(registered.status == 0, "\(registered.stderr)")
            let id = try #require(try registered.json()["connector_id"] as? Int)

            let invocations: [[String]] = [
                ["--socket", socket, "list", "--json"],
                ["list", "--socket", socket, "--json"],
                ["--socket=\(socket)", "--json", "list"],
                ["--json", "--timeout", "5", "--socket", socket, "list"],
                ["list", "--json", "--timeout", "5", "--socket", socket],
                ["--timeout", "5", "list", "--mode", "deactive", "--socket", socket, "--json"],
            ]
            for arguments in invocations {
                let result = try await ctl(arguments)
                #expect(result.status == 0, "\(arguments): \(result.stderr)")
                let connectors = try #require(try result.json()["connectors"] as? [[String: Any]], "\(arguments)")
                #expect(connectors.map { $0["name"] as? String } == ["early_bird"], "\(arguments)")
            }
            // Without --json before or after: the table.
            let table = try await ctl(["--socket", socket, "list"])
            #expect(table.status == 0, "\(table.stderr)")
            #expect(table.stdout.contains("early_bird") && !table.stdout.hasPrefix("{"))

            // Subcommands with their own arguments and options.
            let got = try await ctl(["--socket", socket, "--json", "get", String(id)])
            #expect(got.status == 0, "\(got.stderr)")
            #expect(try got.json()["name"] as? String == "early_bird")
            let moded = try await ctl(["--socket", socket, "set-mode", String(id), "deactive", "--json"])
            #expect(moded.status == 0, "\(moded.stderr)")

            // --socket before the subcommand wins over the environment.
            let gone = directory.appendingPathComponent("gone.sock").path
            let overEnvironment = try await ctl(["--socket", socket, "list", "--json"], environment: ["CONNECTORD_SOCKET": gone])
            #expect(overEnvironment.status == 0, "\(overEnvironment.stderr)")
            // The environment alone is used, and only it is tried.
            let fromEnvironment = try await ctl(["list", "--json"], environment: ["CONNECTORD_SOCKET": socket])
            #expect(fromEnvironment.status == 0, "\(fromEnvironment.stderr)")
            let badEnvironment = try await ctl(["list"], environment: ["CONNECTORD_SOCKET": gone])
            #expect(badEnvironment.status == 10)
            #expect(badEnvironment.stderr.contains(gone), "\(badEnvironment.stderr)")
            #expect(!badEnvironment.stderr.contains("/run/connectord/connectord.sock"), "\(badEnvironment.stderr)")

            // Usage errors are still usage errors, wherever the option is.
            for arguments in [["--timeout", "0", "list", "--socket", socket], ["list", "--timeout", "0", "--socket", socket]] {
                let invalid = try await ctl(arguments)
                #expect(invalid.status == 64, "\(arguments): \(invalid.stderr)")
                #expect(invalid.stderr.contains("--timeout must be positive"), "\(invalid.stderr)")
            }
            let unknown = try await ctl(["--sockets", socket, "list"])
            #expect(unknown.status == 64, "\(unknown.stderr)")
        }
    }

    /// With neither --socket nor CONNECTORD_SOCKET, an ordinary user's
    /// connectorctl tries that user's own daemon's socket, then the system
    /// daemon's, and the error names both. (As root both are the system
    /// socket, so the test runs connectorctl as nobody when it runs as root.)
    @Test(
        .enabled(if: canRunAsOrdinaryUser, "needs setpriv to run as nobody"),
        .enabled(if: systemSocketAbsent, "a system daemon's socket exists here"))
    func withoutASocketTheErrorNamesEveryPathTried() async throws {
        let directory = try makeShortTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        chmod(directory.path, 0o755)
        let runtime = directory.appendingPathComponent("run").path
        try FileManager.default.createDirectory(atPath: runtime, withIntermediateDirectories: true)
        let (binary, prefix) = try ordinaryUsersConnectorctl(in: directory)
        let environment = ["CONNECTORD_SOCKET": "", "XDG_RUNTIME_DIR": runtime, "HOME": directory.path]
        for arguments in [["list"], ["--json", "list"], ["list", "--json"]] {
            let result = try await runCommand(binary, arguments, environment: environment, prefix: prefix)
            #expect(result.status == 10, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains(runtime + "/connectord.sock"), "names the user's own socket: \(result.stderr)")
            #expect(result.stderr.contains("/run/connectord/connectord.sock"), "names the system socket: \(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1, "one line: \(result.stderr)")
            if arguments.contains("--json") {
                #expect(try result.json()["code"] as? String == "UNAVAILABLE")
            }
        }
    }

    /// The user's own socket is tried first and used when a daemon listens on it.
    @Test(.enabled(if: canRunAsOrdinaryUser, "needs setpriv to run as nobody"))
    func theUsersOwnDaemonIsTriedFirst() async throws {
        try await withDaemonProcess(socket: "connectord.sock", mode: "0666") { socket, directory in
            let registered = try await ctl(["register", "own_daemon", "--description", "d", "--socket", socket])
            #expect(registered.status == 0, "\(registered.stderr)")
            // The daemon's directory is this user's XDG_RUNTIME_DIR: its socket is the user's own.
            let (binary, prefix) = try ordinaryUsersConnectorctl(in: directory)
            let environment = ["CONNECTORD_SOCKET": "", "XDG_RUNTIME_DIR": directory.path, "HOME": directory.path]
            let result = try await runCommand(binary, ["list", "--json"], environment: environment, prefix: prefix)
            #expect(result.status == 0, "\(result.stderr)")
            let connectors = try #require(try result.json()["connectors"] as? [[String: Any]])
            #expect(connectors.map { $0["name"] as? String } == ["own_daemon"])
        }
    }
}
