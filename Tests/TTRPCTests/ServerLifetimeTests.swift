import Foundation
import Glibc
import NIOCore
import TTRPC
import TestSupport
import Testing

@Suite("Server lifetime", .timeLimit(.minutes(5)))
struct ServerLifetimeTests {
    static func mode(of path: String) -> (isSocket: Bool, permissions: UInt32)? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return (info.st_mode & S_IFMT == S_IFSOCK, UInt32(info.st_mode & 0o7777))
    }

    @Test("the socket file is created with mode 0660 by default")
    func defaultMode() async throws {
        try await withServer(router: .echo) { server, path async throws in
            #expect(server.configuration.socketMode == 0o660)
            let mode = try #require(Self.mode(of: path))
            #expect(mode.isSocket)
            #expect(mode.permissions == 0o660)
        }
    }

    @Test("the socket file is created with the configured mode", arguments: [0o600, 0o666] as [UInt32])
    func configuredMode(permissions: UInt32) async throws {
        try await withServer(router: .echo, configure: { $0.socketMode = permissions }) { _, path async throws in
            let mode = try #require(Self.mode(of: path))
            #expect(mode.isSocket)
            #expect(mode.permissions == permissions)
            // Nothing else (such as a staging name) is left in the directory.
            let directory = String(path[..<path.lastIndex(of: "/")!])
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["t.sock"])
        }
    }

    @Test("a second server on a path where one is listening refuses to start; the first keeps serving")
    func secondServerRefused() async throws {
        try await withServer(router: .echo) { _, path async throws in
            let second = TTRPCServer(configuration: .init(socketPath: path), router: .echo)
            await #expect(throws: TTRPCServerError.self) { try await second.run() }
            #expect(Self.mode(of: path)?.isSocket == true)
            let client = TTRPCClient(socketPath: path)
            #expect(try await client.callTest("Echo", [1]) == [1])
            await client.close()
        }
    }

    @Test("a stale socket file (no listener) is replaced")
    func staleSocketReplaced() async throws {
        try await withSocketPath { path async throws in
            try makeStaleSocket(at: path)
            #expect(Self.mode(of: path)?.isSocket == true)
            #expect(throws: SocketError.self) { _ = try RawSocket.connect(path) }
            try await withServer(.init(socketPath: path), router: .echo) { _ async throws in
                let client = TTRPCClient(socketPath: path)
                #expect(try await client.callTest("Echo", [7]) == [7])
                await client.close()
            }
        }
    }

    @Test("a regular file at the path is refused and left intact")
    func regularFileRefused() async throws {
        try await withSocketPath { path async throws in
            let contents = Array("keep me\n".utf8)
            #expect(FileManager.default.createFile(atPath: path, contents: Data(contents)))
            let server = TTRPCServer(configuration: .init(socketPath: path), router: .echo)
            await #expect(throws: TTRPCServerError.self) { try await server.run() }
            #expect(FileManager.default.contents(atPath: path).map(Array.init) == contents)
        }
    }

    @Test("a directory or a symbolic link at the path is refused and left intact")
    func otherFilesRefused() async throws {
        try await withSocketDirectory { directory async throws in
            let target = "\(directory)/target"
            #expect(FileManager.default.createFile(atPath: target, contents: Data("x".utf8)))
            let link = "\(directory)/link.sock"
            #expect(symlink(target, link) == 0)
            let sub = "\(directory)/sub.sock"
            #expect(mkdir(sub, 0o700) == 0)
            for path in [link, sub] {
                let server = TTRPCServer(configuration: .init(socketPath: path), router: .echo)
                await #expect(throws: TTRPCServerError.self) { try await server.run() }
                #expect(fileExists(path))
            }
            #expect(FileManager.default.contents(atPath: target) == Data("x".utf8))
        }
    }

    @Test("a socket path too long for sockaddr_un is refused")
    func pathTooLong() async throws {
        try await withSocketDirectory { directory async throws in
            let path = "\(directory)/" + String(repeating: "s", count: 120 - directory.utf8.count) + ".sock"
            let server = TTRPCServer(configuration: .init(socketPath: path), router: .echo)
            await #expect(throws: TTRPCServerError.self) { try await server.run() }
            #expect(!fileExists(path))
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
        }
    }

    @Test("graceful shutdown: the call in flight completes, new connections are refused, run() returns, the file is removed")
    func gracefulShutdown() async throws {
        let record = Locked(SlowRecord())
        let gate = Gate()
        try await withSocketPath { path async throws in
            let handle = try await ServerHandle.start(.init(socketPath: path), router: slowRouter(record, gate: gate))
            let client = TTRPCClient(socketPath: path)
            let inFlight = Task { try await client.callTest("Gated", [1, 2, 3]) }
            #expect(await eventually { record.value.started == 1 })

            let directory = String(path[..<path.lastIndex(of: "/")!])
            #expect(hasListeningSocket(inDirectory: directory))

            handle.server.beginGracefulShutdown()

            // New connections are refused: the listener closes at once (the
            // file stays until run() returns). Connecting only once it is gone
            // keeps clear of the crash in ShutdownRaceTests.
            #expect(await eventually { !hasListeningSocket(inDirectory: directory) })
            #expect(fileExists(path))
            do {
                _ = try RawSocket.connect(path)
                Issue.record("a new connection was accepted during shutdown")
            } catch {
                #expect((error as? SocketError)?.errnoCode == ECONNREFUSED)
            }
            try await Task.sleep(for: .milliseconds(200))
            #expect(!handle.hasReturned, "run() returned with a call still in flight")

            gate.open()
            #expect(try await inFlight.value == [1, 2, 3])
            #expect(await eventually { handle.hasReturned })
            if case .failure(let error) = await handle.result() { Issue.record("run() threw \(error)") }
            #expect(!fileExists(path))
            await client.close()
        }
    }

    /// With an hour's grace period: returning at all shows it did not wait for it.
    @Test("graceful shutdown of an idle server does not wait for the grace period, and removes the file")
    func gracefulShutdownIdle() async throws {
        try await withSocketPath { path async throws in
            var configuration = TTRPCServer.Configuration(socketPath: path)
            configuration.shutdownGracePeriod = .seconds(3600)
            let handle = try await ServerHandle.start(configuration, router: .echo)
            // An idle connection does not hold the server up.
            let client = TTRPCClient(socketPath: path)
            #expect(try await client.callTest("Echo", [1]) == [1])
            handle.server.beginGracefulShutdown()
            #expect(await eventually { handle.hasReturned })
            #expect(!fileExists(path))
            // The idle connection was closed: the next call cannot reconnect.
            #expect(await rpcError { _ = try await client.callTest("Echo", [1]) }?.code == .unavailable)
            await client.close()
        }
    }

    @Test("a call that outlives the grace period is ended, and run() returns")
    func gracePeriodBound() async throws {
        let record = Locked(SlowRecord())
        try await withSocketPath { path async throws in
            var configuration = TTRPCServer.Configuration(socketPath: path)
            configuration.shutdownGracePeriod = .milliseconds(300)
            let handle = try await ServerHandle.start(configuration, router: slowRouter(record))
            let client = TTRPCClient(socketPath: path)
            let inFlight = Task { await rpcError { _ = try await client.callTest("Slow", [1]) } }
            #expect(await eventually { record.value.started == 1 })
            let clock = ContinuousClock()
            let start = clock.now
            handle.server.beginGracefulShutdown()
            #expect(await eventually { handle.hasReturned })
            #expect(clock.now - start >= .milliseconds(250))
            let error = await inFlight.value
            #expect(error?.code == .cancelled || error?.code == .unavailable, "got \(String(describing: error))")
            #expect(record.value.cancelled == 1)
            #expect(!fileExists(path))
            await client.close()
        }
    }

    @Test("a server shut down before it runs returns")
    func shutdownBeforeRun() async throws {
        try await withSocketPath { path async throws in
            var configuration = TTRPCServer.Configuration(socketPath: path)
            configuration.shutdownGracePeriod = .seconds(3600)
            let server = TTRPCServer(configuration: configuration, router: .echo)
            server.beginGracefulShutdown()
            try await server.run()
            #expect(!fileExists(path))
        }
    }

    @Test("cancelling run() stops the server and removes the file")
    func cancellation() async throws {
        try await withSocketPath { path async throws in
            let handle = try await ServerHandle.start(.init(socketPath: path), router: .echo)
            #expect(fileExists(path))
            await handle.stop()
            #expect(!fileExists(path))
        }
    }
}

@Suite("Reconnection", .timeLimit(.minutes(5)))
struct ReconnectTests {
    @Test("a dropped connection fails every pending call with UNAVAILABLE; the next call reconnects to a new server")
    func dropThenReconnect() async throws {
        try await withSocketPath { path async throws in
            let listener = try RawListener(path: path)
            let client = TTRPCClient(socketPath: path)
            let pending = (0..<3).map { index in
                Task { await rpcError { _ = try await client.callTest("Echo", [UInt8(index)]) } }
            }
            let connection = try await listener.accept()
            for _ in 0..<3 { _ = try await connection.readFrame() }
            // The peer goes away with three calls unanswered.
            connection.close()
            listener.close()
            for call in pending {
                #expect(await call.value?.code == .unavailable)
            }

            // A real server takes over the (now stale) socket path.
            try await withServer(.init(socketPath: path), router: .echo) { _ async throws in
                #expect(try await client.callTest("Echo", [9]) == [9])
            }
            await client.close()
        }
    }

    @Test("a server stopped while a call is pending: the call fails; a new server on the same path serves the next call")
    func serverRestart() async throws {
        let record = Locked(SlowRecord())
        try await withSocketPath { path async throws in
            let first = try await ServerHandle.start(.init(socketPath: path), router: slowRouter(record))
            let client = TTRPCClient(socketPath: path)
            #expect(try await client.callTest("Echo", [1]) == [1])
            let pending = Task { await rpcError { _ = try await client.callTest("Slow", [2]) } }
            #expect(await eventually { record.value.started == 1 })
            await first.stop()
            let error = await pending.value
            // Stopped by cancellation, the server may answer CANCELLED before it
            // closes; otherwise the drop is UNAVAILABLE.
            #expect(error?.code == .unavailable || error?.code == .cancelled, "got \(String(describing: error))")
            #expect(!fileExists(path))

            // Meanwhile calls fail with UNAVAILABLE.
            #expect(await rpcError { _ = try await client.callTest("Echo", [3]) }?.code == .unavailable)

            let second = try await ServerHandle.start(.init(socketPath: path), router: slowRouter(record))
            #expect(try await client.callTest("Echo", [4]) == [4])
            await second.stop()
            await client.close()
        }
    }

    @Test("a client started before its server connects on a later call")
    func serverStartsLater() async throws {
        try await withSocketPath { path async throws in
            let client = TTRPCClient(socketPath: path)
            #expect(await rpcError { _ = try await client.callTest("Echo", [1]) }?.code == .unavailable)
            try await withServer(.init(socketPath: path), router: .echo) { _ async throws in
                #expect(try await client.callTest("Echo", [2]) == [2])
            }
            await client.close()
        }
    }
}
