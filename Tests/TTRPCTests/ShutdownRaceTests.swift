import Glibc
import NIOCore
import TTRPC
import TestSupport
import Testing

/// Clients that connect while the server stops. A connection accepted after
/// the accept loop stopped reading is dropped by NIO with its NIOAsyncChannel
/// never run (apple/swift-nio#2813); if that wrapper's writer was never
/// finished, NIOAsyncWriter's deinit traps and the whole process dies with
/// "Deinited NIOAsyncWriter without calling finish()". These tests crashed the
/// test process every time before TTRPCServer closed such connections itself.
@Suite("Shutdown races", .timeLimit(.minutes(5)))
struct ShutdownRaceTests {
    /// Connects in a loop (keeping the sockets open, counting them in
    /// `connected`) until told to stop.
    static func connectStorm(_ path: String, until stop: Locked<Bool>, connected: Locked<Int>) -> Task<Int, Never> {
        Task {
            var sockets: [RawSocket] = []
            while !stop.value {
                if let socket = try? RawSocket.connect(path) {
                    sockets.append(socket)
                    connected.withLock { $0 += 1 }
                }
                await Task.yield()
            }
            return sockets.count
        }
    }

    @Test(
        "clients connecting during a graceful shutdown do not crash the server",
        .bug("https://github.com/apple/swift-nio/issues/2813"))
    func connectDuringGracefulShutdown() async throws {
        for round in 0..<20 {
            try await withSocketPath { path async throws in
                let handle = try await ServerHandle.start(.init(socketPath: path), router: .echo)
                let stop = Locked(false)
                let connected = Locked(0)
                let storm = Self.connectStorm(path, until: stop, connected: connected)
                // The storm is under way (a fixed pause was not enough on a loaded machine).
                #expect(await eventually { connected.value > 0 })
                handle.server.beginGracefulShutdown()
                #expect(await eventually { handle.hasReturned }, "round \(round)")
                stop.withLock { $0 = true }
                #expect(await storm.value > 0)
                await handle.stop()
                #expect(!fileExists(path))
            }
        }
    }

    @Test(
        "clients connecting while run() is cancelled do not crash the server",
        .bug("https://github.com/apple/swift-nio/issues/2813"))
    func connectDuringCancellation() async throws {
        for _ in 0..<20 {
            try await withSocketPath { path async throws in
                let handle = try await ServerHandle.start(.init(socketPath: path), router: .echo)
                let stop = Locked(false)
                let connected = Locked(0)
                let storm = Self.connectStorm(path, until: stop, connected: connected)
                #expect(await eventually { connected.value > 0 })
                await handle.stop()
                stop.withLock { $0 = true }
                #expect(await storm.value > 0)
                #expect(!fileExists(path))
            }
        }
    }
}
