import NIOCore
import TTRPC
import TestSupport
import Testing

extension StreamSuites {
    /// No head-of-line blocking: a stream nobody reads fails alone, within its
    /// bound, while another stream on the same connection keeps flowing.
    @Suite("Streams: slow readers and bounds", .timeLimit(.minutes(2)))
    struct StreamFlowTests {
        struct Flood: Sendable {
            var sent = 0
            var finished = false
            var error: RPCError?
        }

        /// `.streams` plus `Flood` (server streaming: sends the requested number
        /// of 1 KiB messages, recording how it went) and `Ignore` (bidirectional:
        /// never reads, waits for the gate).
        static func router(flood: Locked<Flood>, gate: Gate) -> Router {
            var router = Router.streams
            router.registerServerStreaming(service: StreamService.name, method: "Flood") { request, responses, _ in
                let message = ByteBuffer(repeating: 0x46, count: 1024)
                do {
                    for _ in 0..<Int(uint32(from: request)) {
                        try await responses.write(message)
                        flood.withLock { $0.sent += 1 }
                    }
                    flood.withLock { $0.finished = true }
                } catch {
                    flood.withLock {
                        $0.finished = true
                        $0.error = error as? RPCError
                    }
                    throw error
                }
            }
            router.registerBidirectionalStreaming(service: StreamService.name, method: "Ignore") { _, _, _ in
                try await gate.wait()
            }
            return router
        }

        @Test("client: a stream the application never reads fails alone at its bound; another stream on the connection flows")
        func clientSlowReader() async throws {
            let flood = Locked(Flood())
            let gate = Gate()
            defer { gate.open() }
            try await withServer(router: Self.router(flood: flood, gate: gate)) { _, path async throws in
                let client = TTRPCClient(socketPath: path)
                do {
                    let unread = try await client.serverStreaming(
                        service: StreamService.name, method: "Flood", request: ByteBuffer(bytes: bytes(of: 2_000))
                    ) { unread in
                        // While `unread` is not read, another stream gets all of its 10,000 messages.
                        let count = try await client.serverStreaming(
                            service: StreamService.name, method: "Count", request: StreamService.countRequest(10_000)
                        ) { stream in
                            var count: UInt32 = 0
                            for try await message in stream where uint32(from: message) == count { count += 1 }
                            return count
                        }
                        #expect(count == 10_000)
                        // The server sent all 2,000: the client kept reading the socket.
                        #expect(await eventually(timeout: .seconds(60)) { flood.value.finished })
                        #expect(flood.value.error == nil)
                        return await collect(unread)
                    }
                    // At most the bound was held (1 MiB: 963 messages of 1 KiB with their overhead), then the stream failed.
                    #expect(unread.messages.count <= (1 << 20) / (1024 + 64))
                    #expect(unread.error?.code == .resourceExhausted)
                    #expect(try await client.callTest("Echo", [1]) == [1])
                } catch {
                    await client.close()
                    throw error
                }
                await client.close()
            }
        }

        @Test("server: a stream whose handler never reads fails alone at its bound; another stream on the connection flows")
        func serverSlowReader() async throws {
            let flood = Locked(Flood())
            let gate = Gate()
            defer { gate.open() }
            try await withServerAndClient(
                router: Self.router(flood: flood, gate: gate),
                configure: {
                    // The echo stream's 1,000 messages fit (68 bytes each, counted), the ignored stream's 400 KiB do not.
                    $0.maximumBufferedBytesPerStream = 256 << 10
                }
            ) { client, _ async throws in
                let ignored = try await client.bidirectionalStreaming(
                    service: StreamService.name, method: "Ignore",
                    requests: { writer in
                        // Fails once the server has ended the stream.
                        for _ in 0..<400 { try await writer.write(ByteBuffer(repeating: 0x49, count: 1024)) }
                    },
                    responses: { ignored in
                        let echoed = try await client.bidirectionalStreaming(
                            service: StreamService.name, method: "Echo",
                            requests: { writer in
                                for index in 0..<1_000 { try await writer.write(ByteBuffer(bytes: bytes(of: UInt32(index)))) }
                            },
                            responses: collect)
                        #expect(echoed.error == nil)
                        #expect(echoed.messages.count == 1_000)
                        return await collect(ignored)
                    })
                #expect(ignored.messages.isEmpty)
                #expect(ignored.error?.code == .resourceExhausted)
            }
        }

        @Test("server: a stream that cannot send (the client reads nothing) ends with RESOURCE_EXHAUSTED")
        func serverSendStall() async throws {
            let flood = Locked(Flood())
            let gate = Gate()
            defer { gate.open() }
            try await withServer(
                router: Self.router(flood: flood, gate: gate),
                configure: {
                    $0.streamSendTimeout = .milliseconds(200)
                    $0.maximumBufferedOutputBytes = 64 << 10
                }
            ) { _, path async throws in
                try await withRawPeer(path) { peer in
                    // A large flood, never read: the socket and the buffers fill.
                    try await peer.write(streamRequestFrame(
                        streamID: 1, method: "Flood", flags: Frame.Flags.remoteClosed, payload: bytes(of: 1 << 20)))
                    #expect(await eventually(timeout: .seconds(60)) { flood.value.finished })
                    #expect(flood.value.error?.code == .resourceExhausted)
                    #expect(flood.value.sent < 1 << 20)
                }
            }
        }

        @Test("the in-flight bound counts the calls running: with a stream open, calls past it are refused, calls served before are not counted")
        func inFlightBoundWithStreams() async throws {
            let flood = Locked(Flood())
            let gate = Gate()
            defer { gate.open() }
            let gated = Locked(0)
            var router = Self.router(flood: flood, gate: gate)
            router.test("Gated") { payload, _ in
                gated.withLock { $0 += 1 }
                try await gate.wait()
                return payload
            }
            try await withServerAndClient(router: router, configure: { $0.maximumConcurrentRequestsPerConnection = 4 }) {
                client, _ async throws in
                try await client.bidirectionalStreaming(
                    service: StreamService.name, method: "Ignore", requests: { _ in try await gate.wait() },
                    responses: { _ in
                        // Many more calls than the bound, one after the other, while the stream is open.
                        for index in 0..<20 { #expect(try await client.callTest("Echo", [UInt8(index)]) == [UInt8(index)]) }
                        // The stream and three calls fill the bound; the next call is refused at once.
                        try await withThrowingTaskGroup(of: Void.self) { group in
                            for _ in 0..<3 { group.addTask { _ = try await client.callTest("Gated", [1]) } }
                            #expect(await eventually(timeout: .seconds(30)) { gated.value == 3 })
                            let refused = await rpcError { _ = try await client.callTest("Echo", [2]) }
                            #expect(refused?.code == .resourceExhausted)
                            gate.open()
                            try await group.waitForAll()
                        }
                    })
            }
        }
    }
}
