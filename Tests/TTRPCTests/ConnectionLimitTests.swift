import Glibc
import NIOCore
import Testing

@testable import TTRPC

/// `maximumConnections`: past it the server accepts nothing, so new clients
/// wait in the listen backlog (costing the server no file descriptor) and are
/// served as soon as a connection closes.
@Suite(.timeLimit(.minutes(5)))
struct ConnectionLimitTests {
    @Test("past the limit a new connection waits unserved, and is served once another closes")
    func connectionsPastTheLimitWait() async throws {
        try await withServer(router: .echo, configure: { $0.maximumConnections = 2 }) { server, path async throws in
            #expect(server.maximumConnections == 2)
            let held = try [RawSocket.connect(path), RawSocket.connect(path)]
            for (index, socket) in held.enumerated() {
                try await socket.write(requestFrame(streamID: 1, method: "Echo", payload: [UInt8(index)]))
                #expect(try await socket.readFrame().responsePayload() == [UInt8(index)])
            }

            // The kernel completes the connect (backlog); the server does not serve it.
            let waiting = try RawSocket.connect(path)
            try await waiting.write(requestFrame(streamID: 1, method: "Echo", payload: [7]))
            #expect(try await !waiting.hasData(within: .milliseconds(500)), "served past the limit")
            #expect(server.connectionCount == 2)

            held[0].close()
            #expect(try await waiting.readFrame().responsePayload() == [7])
            #expect(server.connectionCount == 2)
            // The one still held is still served.
            try await held[1].write(requestFrame(streamID: 3, method: "Echo", payload: [8]))
            #expect(try await held[1].readFrame().responsePayload() == [8])
        }
    }

    @Test("the limit is kept below the open-file limit")
    func limitFitsTheOpenFileLimit() async throws {
        var files = rlimit()
        try #require(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &files) == 0)
        try await withSocketPath { path async throws in
            var configuration = TTRPCServer.Configuration(socketPath: path)
            configuration.maximumConnections = 1 << 40
            let server = TTRPCServer(configuration: configuration, router: .echo)
            if files.rlim_cur == rlim_t.max {
                #expect(server.maximumConnections == 1 << 40)
            } else {
                let available = Int(files.rlim_cur)
                #expect(server.maximumConnections == available - max(64, available / 8))
            }
            configuration.maximumConnections = 10
            #expect(TTRPCServer(configuration: configuration, router: .echo).maximumConnections == 10)
        }
    }
}
