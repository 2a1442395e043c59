import Foundation
import Glibc
import TestSupport
import Testing

/// The product as a user meets it: the built `connectord`, `connectorctl` and
/// `sample-connector` run as processes, driven through the seed's flow.
@Suite(.serialized)
struct SeedFlowTests {
    /// A daemon and a sample connector in a temporary directory.
    final class Deployment {
        let directory: URL
        let socket: String
        let dataDirectory: String
        var daemon: ChildProcess
        let connector: ChildProcess
        let schemaURL: String

        init(socketMode: String = "0660") async throws {
            directory = try makeShortTemporaryDirectory()
            chmod(directory.path, 0o755)
            socket = directory.appendingPathComponent("d.sock").path
            dataDirectory = directory.appendingPathComponent("data").path
            daemon = try await Self.startDaemon(socket: socket, dataDirectory: dataDirectory, mode: socketMode)
            connector = try await ChildProcess.start(Binaries.path("sample-connector"), ["--port", "0"])
            let line = try await connector.line()
            schemaURL = String(line.split(separator: " ").last ?? "")
            try await waitForSocket(socket)
        }

        static func startDaemon(socket: String, dataDirectory: String, mode: String) async throws -> ChildProcess {
            try await ChildProcess.start(
                Binaries.path("connectord"), ["--socket", socket, "--data-dir", dataDirectory, "--socket-mode", mode])
        }

        /// Runs connectorctl against this daemon.
        func ctl(_ arguments: String..., input: String? = nil, prefix: [String] = [], binary: String? = nil) async throws -> CommandResult {
            try await runCommand(
                binary ?? Binaries.path("connectorctl"), arguments + ["--socket", socket], input: input, prefix: prefix)
        }

        /// Stops the daemon gracefully and starts it again on the same data directory.
        func restartDaemon() async throws {
            #expect(await daemon.stop() == 0, "graceful stop exits 0")
            daemon = try await Self.startDaemon(socket: socket, dataDirectory: dataDirectory, mode: "0660")
            try await waitForSocket(socket)
        }

        /// The daemon and the sample connector are killed with their `ChildProcess`.
        deinit {
            try? FileManager.default.removeItem(at: directory)
        }
    }

    @Test func theSeedFlowThroughConnectorctl() async throws {
        let deployment = try await Deployment()
        #expect(deployment.schemaURL.hasPrefix("http://127.0.0.1:"))
        #expect(deployment.daemon.standardError.contains("listening on \(deployment.socket)"))

        // Step 1: register, secret from stdin.
        let register = try await deployment.ctl(
            "register", "postgres_connector", "--description", "PostgreSQL database connector", "--secret-stdin", "--json",
            input: "my_secure_secret_123\n")
        #expect(register.status == 0, "\(register.stderr)")
        let registered = try register.json()
        #expect(registered["status"] as? String == "registered")
        #expect(registered["message"] as? String == "Connector 'postgres_connector' registered successfully")
        let id = try #require(registered["connector_id"] as? Int)
        #expect(registered["name"] as? String == "postgres_connector")
        #expect(registered["mode"] as? String == "deactive")
        #expect(registered["description"] as? String == "PostgreSQL database connector")
        #expect((registered["created_at"] as? String)?.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z/) != nil)
        #expect((registered["next_step"] as? String)?.contains("connector URL") == true)
        #expect(Set(registered.keys) == ["status", "message", "connector_id", "name", "mode", "description", "created_at", "next_step"])
        #expect(!register.stdout.contains("my_secure_secret_123"))

        // The list shows it deactive.
        let listed = try await deployment.ctl("list", "--json").json()
        let connectors = try #require(listed["connectors"] as? [[String: Any]])
        #expect(connectors.count == 1)
        #expect(connectors.first?["mode"] as? String == "deactive")
        #expect(connectors.first?["has_secret"] as? Bool == true)
        let table = try await deployment.ctl("list")
        #expect(table.stdout.contains("Not Activated") && !table.stdout.contains("\u{1B}["), "no colour when piped")

        // Step 2: activate from the sample connector.
        let activate = try await deployment.ctl("activate", String(id), deployment.schemaURL, "--json")
        #expect(activate.status == 0, "\(activate.stderr)")
        let activated = try activate.json()
        #expect(activated["status"] as? String == "activated")
        #expect(activated["message"] as? String == "Connector 'postgres_connector' activated successfully")
        #expect(activated["connector_id"] as? Int == id)
        #expect(activated["name"] as? String == "postgres_connector")
        #expect(activated["url"] as? String == deployment.schemaURL)
        #expect(activated["mode"] as? String == "active")
        #expect(activated["version"] as? String == "1.2.0")
        #expect(activated["tools_count"] as? Int == 3)
        #expect(activated["templates_count"] as? Int == 2)
        #expect(activated["created_at"] as? String == registered["created_at"] as? String)
        #expect((activated["updated_at"] as? String ?? "") > (activated["created_at"] as? String ?? ""))

        // The list shows it active with its counts.
        let active = try #require(try await deployment.ctl("list", "--mode", "active", "--json").json()["connectors"] as? [[String: Any]])
        #expect(active.count == 1)
        #expect(active.first?["mode"] as? String == "active")
        #expect(active.first?["tools_count"] as? Int == 3)
        #expect(active.first?["templates_count"] as? Int == 2)
        #expect(try await deployment.ctl("list").stdout.contains("Active"))

        // get: the whole record, with the schema's tools.
        let got = try await deployment.ctl("get", String(id), "--json").json()
        let tools = try #require(got["tools"] as? [[String: Any]])
        #expect(tools.map { $0["name"] as? String } == ["run_query", "list_tables", "describe_table"])
        #expect((got["config"] as? [String: Any])?["params"] != nil)
        #expect(got["has_logo"] as? Bool == true)
        #expect(try await deployment.ctl("get", String(id)).stdout.contains("run_query"))

        // logo: written to a file.
        let logoPath = deployment.directory.appendingPathComponent("logo.svg").path
        let logo = try await deployment.ctl("logo", String(id), "--output", logoPath)
        #expect(logo.status == 0)
        #expect((try? String(contentsOfFile: logoPath, encoding: .utf8))?.contains("<svg") == true)

        // set-mode: sync, then deactive, then back to active.
        for mode in ["sync", "deactive", "active"] {
            let changed = try await deployment.ctl("set-mode", String(id), mode, "--json")
            #expect(changed.status == 0, "\(changed.stderr)")
            #expect(try changed.json()["mode"] as? String == mode)
        }

        // The daemon restarted on the same data directory serves the same connector.
        try await deployment.restartDaemon()
        let afterRestart = try await deployment.ctl("get", String(id), "--json").json()
        #expect(afterRestart["name"] as? String == "postgres_connector")
        #expect(afterRestart["mode"] as? String == "active")
        #expect(afterRestart["tools_count"] as? Int == 3)

        // delete.
        let delete = try await deployment.ctl("delete", String(id), "--json")
        #expect(delete.status == 0)
        #expect(try delete.json()["message"] as? String == "Connector 'postgres_connector' deleted successfully")
        #expect(try await deployment.ctl("get", String(id)).status == 3)
    }

    @Test func theSeedsErrorCasesHaveTheirMessagesAndExitCodes() async throws {
        let deployment = try await Deployment()
        let first = try await deployment.ctl("register", "my_connector", "--description", "x", "--json")
        let id = try #require(try first.json()["connector_id"] as? Int)

        // Duplicate name.
        let duplicate = try await deployment.ctl("register", "my_connector", "--description", "again")
        #expect(duplicate.status == 4)
        #expect(duplicate.stderr == "Error: Connector with name 'my_connector' already exists\n")

        // Connector URL not reachable: a port nothing listens on.
        let refused = try await deployment.ctl("activate", String(id), "http://127.0.0.1:1/connector.json")
        #expect(refused.status == 7)
        #expect(refused.stderr == "Error: Failed to connect to connector URL: Connection refused\n")

        // Schema answered 404.
        let missing = deployment.schemaURL.replacingOccurrences(of: "connector.json", with: "missing.json")
        let notFoundSchema = try await deployment.ctl("activate", String(id), missing, "--json")
        #expect(notFoundSchema.status == 6)
        #expect(notFoundSchema.stderr == "Error: Failed to fetch connector schema from URL. Status: 404\n")
        #expect(try notFoundSchema.json()["code"] as? String == "FAILED_PRECONDITION")

        // Unknown connector.
        let unknown = try await deployment.ctl("activate", "99", deployment.schemaURL)
        #expect(unknown.status == 3)
        #expect(unknown.stderr == "Error: Connector with ID 99 not found\n")

        // Malformed input.
        let badName = try await deployment.ctl("register", "-bad name", "--description", "x")
        #expect(badName.status == 2 || badName.status == 64)
        let badURL = try await deployment.ctl("activate", String(id), "ftp://127.0.0.1/connector.json")
        #expect(badURL.status == 2)
        #expect(badURL.stderr.hasPrefix("Error: Invalid connector URL"))
        let neverActivated = try await deployment.ctl("set-mode", String(id), "sync")
        #expect(neverActivated.status == 6)
        #expect(neverActivated.stderr.contains("activate it first"))

        // The deprecated create says so, and works.
        let create = try await deployment.ctl("create", deployment.schemaURL, "--json")
        #expect(create.status == 0, "\(create.stderr)")
        #expect(create.stderr.contains("deprecated"))
        #expect(try create.json()["name"] as? String == "sample_postgres")

        // A plain --secret warns.
        let plain = try await deployment.ctl("register", "with_secret", "--description", "x", "--secret", "hunter2")
        #expect(plain.status == 0)
        #expect(plain.stderr.contains("warning"))

        // Daemon not running: says so and names the socket tried.
        let gone = deployment.directory.appendingPathComponent("gone.sock").path
        let down = try await runCommand(Binaries.path("connectorctl"), ["list", "--socket", gone])
        #expect(down.status == 10)
        #expect(down.stderr.contains("not running") && down.stderr.contains(gone))
    }

    @Test(.enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")))
    func anUnprivilegedUserMayReadButNotChange() async throws {
        let deployment = try await Deployment(socketMode: "0666")
        let registered = try await deployment.ctl("register", "owned_by_root", "--description", "x", "--json")
        let id = try #require(try registered.json()["connector_id"] as? Int)

        // The client binary must be reachable by the unprivileged user.
        let binary = deployment.directory.appendingPathComponent("connectorctl").path
        try FileManager.default.copyItem(atPath: Binaries.path("connectorctl"), toPath: binary)
        chmod(binary, 0o755)
        let nobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]

        let list = try await deployment.ctl("list", "--json", prefix: nobody, binary: binary)
        #expect(list.status == 0, "\(list.stderr)")
        #expect((try list.json()["connectors"] as? [[String: Any]])?.count == 1)
        #expect(try await deployment.ctl("get", String(id), prefix: nobody, binary: binary).status == 0)

        let denied = "Error: Access denied. Superuser role required.\n"
        let attempts: [[String]] = [
            ["register", "sneaky", "--description", "x"],
            ["activate", String(id), deployment.schemaURL],
            ["set-mode", String(id), "deactive"],
            ["delete", String(id)],
            ["create", deployment.schemaURL],
        ]
        for attempt in attempts {
            let result = try await runCommand(binary, attempt + ["--socket", deployment.socket], prefix: nobody)
            #expect(result.status == 5, "\(attempt): \(result.stderr)")
            #expect(result.stderr.hasSuffix(denied), "\(attempt): \(result.stderr)")
        }
        // Nothing changed.
        let after = try await deployment.ctl("list", "--json").json()["connectors"] as? [[String: Any]]
        #expect(after?.count == 1)
        #expect(after?.first?["mode"] as? String == "deactive")
    }

    @Test func aBadConfigurationIsOneLineAndANonZeroExit() async throws {
        let directory = try makeShortTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let data = directory.appendingPathComponent("data").path
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)

        // A key file readable by others.
        let key = data + "/secret.key"
        FileManager.default.createFile(atPath: key, contents: Data(repeating: 7, count: 32))
        chmod(key, 0o644)
        let loose = try await runCommand(Binaries.path("connectord"), ["--data-dir", data, "--socket", directory.path + "/a.sock"])
        #expect(loose.status == 78)
        #expect(loose.stderr.contains("key file") && loose.stderr.contains("644"))
        #expect(loose.stderr.split(separator: "\n").count == 1, "one line: \(loose.stderr)")
        chmod(key, 0o600)

        // A data directory that is a file.
        let file = directory.appendingPathComponent("plain-file").path
        FileManager.default.createFile(atPath: file, contents: Data())
        let notDirectory = try await runCommand(Binaries.path("connectord"), ["--data-dir", file, "--socket", directory.path + "/b.sock"])
        #expect(notDirectory.status == 78)
        #expect(notDirectory.stderr.contains(file))

        // A socket in use by a live daemon.
        let socket = directory.path + "/c.sock"
        let live = try await ChildProcess.start(Binaries.path("connectord"), ["--data-dir", data, "--socket", socket])
        try await waitForSocket(socket)
        let other = directory.appendingPathComponent("other").path
        let inUse = try await runCommand(Binaries.path("connectord"), ["--data-dir", other, "--socket", socket])
        #expect(inUse.status == 78)
        #expect(inUse.stderr.contains("already listening"))
        // And the same data directory is locked.
        let locked = try await runCommand(Binaries.path("connectord"), ["--data-dir", data, "--socket", directory.path + "/d.sock"])
        #expect(locked.status == 78)
        #expect(locked.stderr.contains("already using data directory"))
        #expect(await live.stop() == 0)
    }
}
