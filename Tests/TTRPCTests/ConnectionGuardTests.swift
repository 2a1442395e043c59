import NIOCore
import TTRPC
import TestSupport
import Testing

/// Connections that stall the server: a frame begun and never finished, and
/// output the client never reads (Configuration.partialFrameTimeout and
/// writeStallTimeout, shortened here).
@Suite("Stalled connections", .timeLimit(.minutes(5)))
struct ConnectionGuardTests {
    @Test("a frame left unfinished closes its connection after partialFrameTimeout; others are unaffected")
    func unfinishedFrame() async throws {
        try await withServer(router: .echo, configure: { $0.partialFrameTimeout = .milliseconds(300) }) { server, path async throws in
            let stalled = try RawSocket.connect(path)
            // A header announcing 100 bytes, then 10 of them, then silence.
            try await stalled.write(rawFrame(streamID: 1, length: 100, data: [UInt8](repeating: 1, count: 10)))
            let clock = ContinuousClock()
            let start = clock.now
            #expect(try await stalled.waitForEndOfStream(timeout: .seconds(120)))
            #expect(clock.now - start >= .milliseconds(250))

            let other = try RawSocket.connect(path)
            try await other.write(requestFrame(streamID: 1, method: "Echo", payload: [1]))
            #expect(try await other.readFrame().responsePayload() == [1])
            // The stalled connection's end reaches the client before the server
            // has let go of it (seen under load): wait for that, not a moment.
            #expect(await eventually { server.connectionCount == 1 })
        }
    }

    @Test("a connection idle between frames is kept past partialFrameTimeout")
    func idleBetweenFrames() async throws {
        try await withServer(router: .echo, configure: { $0.partialFrameTimeout = .milliseconds(200) }) { _, path async throws in
            let socket = try RawSocket.connect(path)
            try await socket.write(requestFrame(streamID: 1, method: "Echo", payload: [1]))
            #expect(try await socket.readFrame().responsePayload() == [1])
            try await Task.sleep(for: .milliseconds(800))
            try await socket.write(requestFrame(streamID: 3, method: "Echo", payload: [2]))
            #expect(try await socket.readFrame().responsePayload() == [2])
            // Idle before any frame at all is fine too.
            let fresh = try RawSocket.connect(path)
            try await Task.sleep(for: .milliseconds(800))
            try await fresh.write(requestFrame(streamID: 1, method: "Echo", payload: [3]))
            #expect(try await fresh.readFrame().responsePayload() == [3])
        }
    }

    @Test("a frame sent slowly but steadily within partialFrameTimeout per piece is served")
    func slowButSteady() async throws {
        try await withServer(router: .echo, configure: { $0.partialFrameTimeout = .seconds(120) }) { _, path async throws in
            let socket = try RawSocket.connect(path)
            let frame = requestFrame(streamID: 1, method: "Echo", payload: [7, 7, 7])
            for index in stride(from: 0, to: frame.count, by: 8) {
                try await socket.write(Array(frame[index..<min(index + 8, frame.count)]))
                try await Task.sleep(for: .milliseconds(30))
            }
            #expect(try await socket.readFrame().responsePayload() == [7, 7, 7])
        }
    }

    @Test("a frame trickled a byte at a time is cut off once partialFrameTimeout has passed since it began")
    func trickledFrame() async throws {
        try await withServer(router: .echo, configure: { $0.partialFrameTimeout = .milliseconds(400) }) { _, path async throws in
            let socket = try RawSocket.connect(path)
            // 10 + 14 bytes, one every 150 ms: 3.6 s for a frame whose
            // deadline is 400 ms after its first byte.
            let frame = rawFrame(streamID: 1, data: [UInt8](repeating: 0, count: 14))
            let clock = ContinuousClock()
            let start = clock.now
            var closedAt: Duration?
            for byte in frame {
                do {
                    try await socket.write([byte])
                } catch {
                    closedAt = clock.now - start
                    break
                }
                try await Task.sleep(for: .milliseconds(150))
                if try await socket.waitForEndOfStream(timeout: .zero) {
                    closedAt = clock.now - start
                    break
                }
            }
            _ = try #require(closedAt, "the connection survived a frame trickled over \(clock.now - start)")
        }
    }

    @Test("a client that never reads is disconnected after writeStallTimeout, freeing its handlers")
    func writeStall() async throws {
        let invocations = Locked(0)
        var router = Router.echo
        router.test("Big") { payload, _ in
            invocations.withLock { $0 += 1 }
            return ByteBuffer(repeating: 0x42, count: Int(uint32(from: payload)))
        }
        try await withServer(
            router: router,
            configure: {
                $0.maximumConcurrentRequestsPerConnection = 4
                $0.writeStallTimeout = .milliseconds(500)
            }
        ) { server, path async throws in
            let greedy = try RawSocket.connect(path)
            var requests: [UInt8] = []
            for index in 0..<100 {
                requests += requestFrame(streamID: UInt32(2 * index + 1), method: "Big", payload: bytes(of: 256 << 10))
            }
            try await greedy.write(requests)
            #expect(await eventually { server.connectionCount == 1 })
            // Not reading, the client is cut off once output has been blocked for 500 ms.
            #expect(await eventually { server.connectionCount == 0 })
            #expect(invocations.value < 100)
            // What was sent before the close can still be read, then the stream ends.
            #expect(try await greedy.waitForEndOfStream(timeout: .seconds(120)))

            let client = TTRPCClient(socketPath: path)
            #expect(try await client.callTest("Echo", [1]) == [1])
            await client.close()
        }
    }
}
