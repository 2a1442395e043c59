import ConnectorAPI
import ConnectorClient
import ConnectorRegistry
import ConnectorServer
import Foundation
import Glibc
import SampleConnectorKit
import TTRPC
import Testing

/// Start-up: what `ConnectorDaemon.init` and `run()` refuse, each with a
/// one-line `DaemonError`, and a restart on the same data directory.
@Suite(.timeLimit(.minutes(5)))
struct DaemonStartupTests {
    /// The error `ConnectorDaemon.withDaemon` throws before it runs its body,
    /// or nil (recording an issue) if it runs it.
    static func initError(
        _ configuration: DaemonConfiguration, sourceLocation: SourceLocation = #_sourceLocation
    ) async -> DaemonError? {
        do {
            try await ConnectorDaemon.withDaemon(configuration: configuration, logger: .quiet) { _ in
                Issue.record("expected ConnectorDaemon.withDaemon to fail", sourceLocation: sourceLocation)
            }
            return nil
        } catch let error as DaemonError {
            #expect(!error.description.contains("\n"), "one line: \(error.description)", sourceLocation: sourceLocation)
            #expect(!error.description.isEmpty, sourceLocation: sourceLocation)
            return error
        } catch {
            Issue.record("expected a DaemonError, got \(type(of: error)): \(error)", sourceLocation: sourceLocation)
            return nil
        }
    }

    /// Writes `bytes` to `path` with `mode`.
    static func write(_ bytes: [UInt8], to path: String, mode: mode_t) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw HarnessError("open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard Glibc.write(fd, bytes, bytes.count) == bytes.count else { throw HarnessError("write \(path)") }
        guard fchmod(fd, mode) == 0 else { throw HarnessError("fchmod \(path)") }
    }

    @Test func dataDirectoryFilesAreCreatedPrivately() async throws {
        try await withDaemon { running, _ in
            let configuration = running.configuration
            #expect(permissions(configuration.dataDirectory) == 0o700)
            #expect(permissions(configuration.keyFilePath) == 0o600)
            #expect(fileExists(configuration.databasePath))
            let lock = try String(contentsOfFile: configuration.lockPath, encoding: .utf8)
            #expect(lock == "\(getpid())\n", "the lock file names the daemon's pid")
        }
    }

    @Test func secondDaemonOnTheSameDataDirectoryIsRefused() async throws {
        try await withDaemon { running, directory in
            _ = try await running.client.register(name: "first", description: "d")
            var second = running.configuration
            second.socketPath = directory("other.sock")
            let error = await Self.initError(second)
            #expect(error?.description.contains("already using data directory") == true, "\(error?.description ?? "")")
            #expect(error?.description.contains(running.configuration.dataDirectory) == true)
            #expect(error?.description.contains("pid \(getpid())") == true, "\(error?.description ?? "")")
            #expect(!fileExists(directory("other.sock")), "nothing listens for the refused daemon")
            // The first daemon is unharmed.
            #expect(try await running.client.list().connectors.map(\.name) == ["first"])
        }
    }

    @Test func keyFileReadableByOthersIsRefused() async throws {
        try await withTempDirectory { directory in
            let configuration = testConfiguration(in: directory)
            #expect(mkdir(configuration.dataDirectory, 0o700) == 0)
            let key = (0..<32).map { _ in UInt8.random(in: 0...255) }
            try Self.write(key, to: configuration.keyFilePath, mode: 0o644)
            let error = await Self.initError(configuration)
            let message = error?.description ?? ""
            #expect(message.contains(configuration.keyFilePath), "\(message)")
            #expect(message.contains("mode 644") || message.contains("permission"), "\(message)")
            #expect(message.contains("chmod 600"), "\(message)")

            // Group-readable only is refused too.
            #expect(chmod(configuration.keyFilePath, 0o640) == 0)
            #expect(await Self.initError(configuration)?.description.contains("mode 640") == true)

            // Fixed: the failed starts released the lock, and the key is used as is.
            #expect(chmod(configuration.keyFilePath, 0o600) == 0)
            try await withDaemon(configuration) { running in
                let registered = try await running.client.register(name: "k", description: "d", secret: "x")
                #expect(registered.connector.hasSecret)
            }
            let after = try #require(FileManager.default.contents(atPath: configuration.keyFilePath))
            #expect([UInt8](after) == key, "the key file is not replaced")
        }
    }

    @Test func keyFileOfTheWrongSizeIsRefused() async throws {
        try await withTempDirectory { directory in
            let configuration = testConfiguration(in: directory)
            #expect(mkdir(configuration.dataDirectory, 0o700) == 0)
            try Self.write(Array(repeating: 7, count: 31), to: configuration.keyFilePath, mode: 0o600)
            let error = await Self.initError(configuration)
            #expect(error?.description.contains(configuration.keyFilePath) == true, "\(error?.description ?? "")")
        }
    }

    @Test func dataDirectoryThatIsARegularFileIsRefused() async throws {
        try await withTempDirectory { directory in
            var configuration = testConfiguration(in: directory)
            try Self.write(Array("not a directory".utf8), to: configuration.dataDirectory, mode: 0o600)
            let error = await Self.initError(configuration)
            #expect(error?.description.contains(configuration.dataDirectory) == true, "\(error?.description ?? "")")
            #expect(error?.description.contains("not a directory") == true, "\(error?.description ?? "")")
            #expect(try String(contentsOfFile: configuration.dataDirectory, encoding: .utf8) == "not a directory", "left alone")

            // Below a regular file: cannot be created.
            configuration.dataDirectory = directory("data/below")
            let below = await Self.initError(configuration)
            #expect(below?.description.contains("cannot create data directory") == true, "\(below?.description ?? "")")
        }
    }

    @Test(.enabled(if: getuid() != 0, "root may write anywhere"))
    func dataDirectoryNotWritableIsRefused() async throws {
        try await withTempDirectory { directory in
            let configuration = testConfiguration(in: directory)
            #expect(mkdir(configuration.dataDirectory, 0o500) == 0)
            defer { chmod(configuration.dataDirectory, 0o700) }
            let error = await Self.initError(configuration)
            #expect(error?.description.contains("not writable") == true, "\(error?.description ?? "")")
        }
    }

    @Test func secondDaemonOnALiveSocketFailsToRun() async throws {
        try await withDaemon { running, directory in
            _ = try await running.client.register(name: "first", description: "d")
            var second = running.configuration
            second.dataDirectory = directory("data2")
            do {
                try await ConnectorDaemon.withDaemon(configuration: second, logger: .quiet) { daemon in
                    try await daemon.run(onListening: { Issue.record("the second daemon must not listen") })
                }
                Issue.record("expected run() to fail")
            } catch let error as DaemonError {
                #expect(error.description.contains("another server is already listening"), "\(error.description)")
                #expect(error.description.contains(running.socketPath), "\(error.description)")
                #expect(!error.description.contains("\n"))
            } catch {
                Issue.record("expected a DaemonError, got \(type(of: error)): \(error)")
            }
            // The first daemon's socket is untouched and it still serves, on a new connection too.
            #expect(fileExists(running.socketPath))
            #expect(try await running.client.list().connectors.map(\.name) == ["first"])
            let fresh = ConnectorClient(socketPath: running.socketPath)
            #expect(try await fresh.get(id: 1).name == "first")
            await fresh.close()
        }
    }

    @Test func socketPathThatIsARegularFileIsRefusedAndLeftAlone() async throws {
        try await withTempDirectory { directory in
            let configuration = testConfiguration(in: directory)
            try Self.write(Array("precious".utf8), to: configuration.socketPath, mode: 0o600)
            do {
                try await ConnectorDaemon.withDaemon(configuration: configuration, logger: .quiet) { daemon in
                    try await daemon.run(onListening: { Issue.record("must not listen") })
                }
                Issue.record("expected run() to fail")
            } catch let error as DaemonError {
                #expect(error.description.contains("not a socket"), "\(error.description)")
            } catch {
                Issue.record("expected a DaemonError, got \(error)")
            }
            #expect(try String(contentsOfFile: configuration.socketPath, encoding: .utf8) == "precious")
        }
    }

    @Test func socketPathTooLongForAUnixSocketIsAOneLineError() async throws {
        try await withTempDirectory { directory in
            var configuration = testConfiguration(in: directory)
            configuration.socketPath = directory(String(repeating: "s", count: 120) + ".sock")
            do {
                try await ConnectorDaemon.withDaemon(configuration: configuration, logger: .quiet) { daemon in
                    try await daemon.run(onListening: {
                        // No client can connect to a path longer than sun_path: stop at once.
                        Issue.record("the daemon says it listens on a socket path no client can connect to")
                        daemon.stop()
                    })
                }
                Issue.record("expected run() to fail with a DaemonError about the socket path's length")
            } catch let error as DaemonError {
                #expect(error.description.contains(configuration.socketPath), "\(error.description)")
                #expect(!error.description.contains("\n"), "\(error.description)")
            } catch {
                Issue.record("expected a DaemonError, got \(type(of: error)): \(error)")
            }
            #expect(!fileExists(configuration.socketPath))
        }
    }

    @Test func staleSocketFileIsReplaced() async throws {
        try await withTempDirectory { directory in
            let configuration = testConfiguration(in: directory)
            // A socket file nobody listens on, as a killed daemon leaves behind.
            let stale = try DatagramReceiver(address: configuration.socketPath)
            #expect(fileExists(configuration.socketPath))
            try await withDaemon(configuration) { running in
                let list = try await running.client.list()
                #expect(list.connectors.isEmpty)
            }
            _ = stale
        }
    }

    @Test func restartOnTheSameDataDirectoryServesTheSameConnectors() async throws {
        try await withTempDirectory { directory in
            let configuration = testConfiguration(in: directory)
            let secret = "restart-\(UUID().uuidString)"
            let (before, beforeLogo) = try await FixtureHTTPServer.with(routes: SampleConnector.routes) { server in
                try await withDaemon(configuration) { running in
                    let client = running.client
                    let first = try await client.register(name: "persisted", description: "d", secret: secret).connector.id
                    _ = try await client.register(name: "still_deactive", description: "d")
                    _ = try await client.activate(id: first, url: server.url("/connector.json"))
                    _ = try await client.setMode(id: first, mode: .sync)
                    return (try await client.list().connectors, try await client.logo(id: first))
                }
            }
            #expect(before.count == 2)
            #expect(!fileExists(configuration.socketPath))

            // A new daemon on the same data directory (the first one is gone).
            try await withDaemon(configuration) { running in
                let client = running.client
                let after = try await client.list().connectors
                #expect(after == before)
                #expect(try await client.logo(id: before[0].id) == beforeLogo)
                #expect(try await running.daemon.registry.secret(id: Int64(before[0].id)) == secret, "the key file was reused")
                // New ids continue after the old ones; names stay taken.
                let next = try await client.register(name: "after_restart", description: "d").connector.id
                #expect(next > before.map(\.id).max()!)
                await expectRPCError(.alreadyExists, "Connector with name 'persisted' already exists") {
                    try await client.register(name: "persisted", description: "again")
                }
            }
        }
    }

    /// A daemon that has stopped, while its object is still referenced, should
    /// not keep other daemons off its data directory.
    @Test func stoppedDaemonReleasesTheDataDirectory() async throws {
        try await withTempDirectory { directory in
            let configuration = testConfiguration(in: directory)
            let first = try await ConnectorDaemon.withDaemon(configuration: configuration, logger: .quiet) { daemon in
                try await serve(daemon) { running in
                    _ = try await running.client.register(name: "kept", description: "d")
                }
                return daemon
            }
            // `first` is still alive here: its scope has ended.
            try await withDaemon(configuration) { running in
                let list = try await running.client.list()
                #expect(list.connectors.map(\.name) == ["kept"])
            }
            withExtendedLifetime(first) {}
        }
    }
}
