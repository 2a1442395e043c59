import NIOCore
import TTRPC
import TestSupport
import Testing

extension StreamSuites {
    /// How streams end other than by their handler: deadlines, cancellation on
    /// either side, the connection closing, a graceful stop.
    @Suite("Streams: deadlines, cancellation, close, graceful stop", .timeLimit(.minutes(1)))
    struct StreamLifetimeTests {
        struct Record: Sendable {
            var started = 0
            var cancelled = 0
            var errors: [RPCError.Code] = []
        }

        /// `.streams` plus `Stall` (server streaming: sends one message, then
        /// waits for the gate, then sends one more) and `Wait` (bidirectional:
        /// reads until the client's messages fail), recording what happened.
        static func router(record: Locked<Record>, gate: Gate) -> Router {
            var router = Router.streams
            router.registerServerStreaming(service: StreamService.name, method: "Stall") { _, responses, _ in
                record.withLock { $0.started += 1 }
                try await responses.write(ByteBuffer(bytes: [1]))
                do {
                    try await gate.wait()
                } catch {
                    record.withLock { $0.cancelled += 1 }
                    throw error
                }
                try await responses.write(ByteBuffer(bytes: [2]))
            }
            router.registerBidirectionalStreaming(service: StreamService.name, method: "Wait") { requests, _, _ in
                record.withLock { $0.started += 1 }
                do {
                    for try await _ in requests {}
                } catch {
                    record.withLock { $0.errors.append((error as? RPCError)?.code ?? .unknown) }
                    throw error
                }
            }
            router.registerServerStreaming(service: StreamService.name, method: "Cancelled") { _, responses, _ in
                try await responses.write(ByteBuffer(bytes: [1]))
                throw CancellationError()
            }
            return router
        }

        @Test("timeout_nano bounds the whole stream: the server ends it with DEADLINE_EXCEEDED and cancels the handler")
        func serverDeadline() async throws {
            let record = Locked(Record()), gate = Gate()
            defer { gate.open() }
            try await withServer(router: Self.router(record: record, gate: gate)) { _, path async throws in
                try await withRawPeer(path) { peer in
                    try await peer.write(rawFrame(
                        streamID: 1, type: 1, flags: Frame.Flags.remoteClosed,
                        data: requestEnvelope(service: StreamService.name, method: "Stall", timeoutNanoseconds: 200_000_000)))
                    let message = try await peer.readFrame()
                    #expect(message.type == .data && message.data == ByteBuffer(bytes: [1]))
                    #expect(try await peer.readStatus(streamID: 1)?.code == .deadlineExceeded)
                    #expect(await eventually(timeout: .seconds(30)) { record.value.cancelled == 1 })
                    try await peer.expectEcho(streamID: 3)
                }
            }
        }

        @Test("a client timeout bounds the stream: the messages so far, then DEADLINE_EXCEEDED")
        func clientDeadline() async throws {
            let record = Locked(Record()), gate = Gate()
            defer { gate.open() }
            try await withServerAndClient(router: Self.router(record: record, gate: gate)) { client, _ async throws in
                let received = try await client.serverStreaming(
                    service: StreamService.name, method: "Stall", request: ByteBuffer(), timeout: .milliseconds(200), collect)
                // The first message, unless the machine was too slow to send it in 200 ms; never the second.
                #expect(received.messages == [[1]] || received.messages == [])
                #expect(received.error?.code == .deadlineExceeded)
                #expect(await eventually(timeout: .seconds(30)) { record.value.cancelled == 1 })
            }
        }

        @Test("a handler that ends by cancellation ends its stream with CANCELLED, after its messages")
        func handlerCancellation() async throws {
            let record = Locked(Record()), gate = Gate()
            try await withServerAndClient(router: Self.router(record: record, gate: gate)) { client, _ async throws in
                let received = try await client.serverStreaming(
                    service: StreamService.name, method: "Cancelled", request: ByteBuffer(), collect)
                #expect(received.messages == [[1]])
                #expect(received.error?.code == .cancelled)
            }
        }

        @Test("cancelling the task that reads a stream ends it for that task with CANCELLED; the connection goes on")
        func clientCancellation() async throws {
            let record = Locked(Record()), gate = Gate()
            defer { gate.open() }
            try await withServerAndClient(router: Self.router(record: record, gate: gate)) { client, _ async throws in
                let (firstMessage, signal) = AsyncStream<Void>.makeStream()
                let reader = Task {
                    try await client.serverStreaming(service: StreamService.name, method: "Stall", request: ByteBuffer()) { stream in
                        var messages: [[UInt8]] = []
                        do {
                            for try await message in stream {
                                messages.append(Array(message.readableBytesView))
                                signal.yield()
                            }
                            return (messages, RPCError?.none)
                        } catch {
                            return (messages, error as? RPCError)
                        }
                    }
                }
                for await _ in firstMessage { break }
                reader.cancel()
                let (messages, error) = try await reader.value
                #expect(messages == [[1]])
                #expect(error?.code == .cancelled)
                // The server's later message for the abandoned stream is dropped; calls go on.
                gate.open()
                #expect(try await client.callTest("Echo", [3]) == [3])
                let again = try await client.serverStreaming(
                    service: StreamService.name, method: "Count", request: StreamService.countRequest(2), collect)
                #expect(again.messages.count == 2 && again.error == nil)
            }
        }

        @Test("the connection closing ends every stream on both sides")
        func connectionClose() async throws {
            let record = Locked(Record()), gate = Gate()
            defer { gate.open() }
            try await withServer(router: Self.router(record: record, gate: gate)) { _, path async throws in
                let client = TTRPCClient(socketPath: path)
                let (firstMessage, signal) = AsyncStream<Void>.makeStream()
                async let stalled = client.serverStreaming(
                    service: StreamService.name, method: "Stall", request: ByteBuffer()
                ) { stream in
                    var received = Received()
                    do {
                        for try await message in stream {
                            received.messages.append(Array(message.readableBytesView))
                            signal.yield()
                        }
                    } catch {
                        received.error = error as? RPCError
                    }
                    signal.finish()
                    return received
                }
                // The client has the stream's first message; then it goes away.
                for await _ in firstMessage { break }
                await client.close()
                let result = try await stalled
                #expect(result.messages == [[1]])
                #expect(result.error?.code == .unavailable)
                // The server ends the stream: its handler, waiting at the gate, is cancelled.
                #expect(await eventually(timeout: .seconds(30)) { record.value.cancelled == 1 })
            }
        }

        @Test("the connection closing fails a server stream still waiting for the client's messages")
        func connectionCloseServerSide() async throws {
            let record = Locked(Record()), gate = Gate()
            defer { gate.open() }
            try await withServer(router: Self.router(record: record, gate: gate)) { _, path async throws in
                try await withRawPeer(path) { peer in
                    try await peer.write(streamRequestFrame(streamID: 1, method: "Wait", flags: Frame.Flags.remoteOpen))
                    try await peer.write(dataFrame(streamID: 1, [1]))
                    #expect(await eventually(timeout: .seconds(30)) { record.value.started == 1 })
                }
                #expect(await eventually(timeout: .seconds(30)) { record.value.errors == [.unavailable] })
            }
        }

        @Test("graceful stop: a stream that ends within the grace period ends cleanly; one still open after it gets UNAVAILABLE")
        func gracefulStop() async throws {
            let record = Locked(Record()), gate = Gate(), later = Gate()
            defer {
                gate.open()
                later.open()
            }
            var router = Self.router(record: record, gate: gate)
            router.registerServerStreaming(service: StreamService.name, method: "Later") { _, responses, _ in
                try await later.wait()
                try await responses.write(ByteBuffer(bytes: [3]))
            }
            try await withSocketPath { path async throws in
                var configuration = TTRPCServer.Configuration(socketPath: path)
                configuration.shutdownGracePeriod = .seconds(2)  // stream 3 ends well within it
                let handle = try await ServerHandle.start(configuration, router: router)
                do {
                    try await withRawPeer(path) { peer in
                        // Stream 1 stalls past the grace period; stream 3 finishes within it.
                        try await peer.write(streamRequestFrame(streamID: 1, method: "Stall", flags: Frame.Flags.remoteClosed))
                        try await peer.write(streamRequestFrame(streamID: 3, method: "Later", flags: Frame.Flags.remoteClosed))
                        let first = try await peer.readFrame()
                        #expect(first.streamID == 1 && first.type == .data)
                        handle.server.beginGracefulShutdown()
                        later.open()
                        // Stream 3: its message and its clean end; stream 1, after the grace period: UNAVAILABLE.
                        var frames: [UInt32: [Frame]] = [:]
                        while frames[1] == nil || (frames[3]?.count ?? 0) < 2 {
                            let frame = try await peer.readFrame()
                            frames[frame.streamID, default: []].append(frame)
                        }
                        let stream3 = frames[3] ?? []
                        #expect(stream3.first?.type == .data && stream3.first?.data == ByteBuffer(bytes: [3]))
                        #expect(stream3.last?.type == .data && stream3.last?.flags == Frame.Flags.remoteClosed | Frame.Flags.noData)
                        let stream1 = try #require(frames[1]?.first)
                        #expect(stream1.type == .response)
                        #expect(try status(of: stream1)?.code == .unavailable)
                    }
                    _ = await handle.result()
                } catch {
                    await handle.stop()
                    throw error
                }
                await handle.stop()
            }
        }
    }
}
