import NIOCore
import TTRPC
import TestSupport
import Testing

/// What the slow handler observed.
struct SlowRecord: Sendable {
    var started = 0
    var cancelled = 0
    var finished = 0
    /// The deadlines the handler was given.
    var deadlines: [ContinuousClock.Instant] = []
}

/// A router whose `Slow` method sleeps 10 s (recording whether it was
/// cancelled): a deadline shorter than that which is honoured ends it first,
/// on a machine of any speed. `Gated` waits for `gate`, and `Echo` echoes.
func slowRouter(_ record: Locked<SlowRecord>, gate: Gate = Gate()) -> Router {
    var router = Router.echo
    router.test("Slow") { payload, context in
        record.withLock {
            $0.started += 1
            if let deadline = context.deadline { $0.deadlines.append(deadline) }
        }
        do {
            try await Task.sleep(for: .seconds(10))
        } catch {
            record.withLock { $0.cancelled += 1 }
            throw error
        }
        record.withLock { $0.finished += 1 }
        return payload
    }
    router.test("Gated") { payload, _ in
        record.withLock { $0.started += 1 }
        try await gate.wait()
        return payload
    }
    return router
}

@Suite("Deadlines and cancellation", .timeLimit(.minutes(5)))
struct DeadlineTests {
    @Test("timeout_nano is honoured: DEADLINE_EXCEEDED, not before it, and the handler is cancelled")
    func serverHonoursTimeout() async throws {
        let record = Locked(SlowRecord())
        try await withServer(router: slowRouter(record)) { _, path async throws in
            let socket = try RawSocket.connect(path)
            let clock = ContinuousClock()
            let start = clock.now
            try await socket.write(requestFrame(streamID: 1, method: "Slow", payload: [1], timeoutNanoseconds: 200_000_000))
            let frame = try await socket.readFrame()
            let elapsed = clock.now - start
            #expect(frame.streamID == 1)
            #expect(try frame.responseError()?.code == .deadlineExceeded)
            #expect(elapsed >= .milliseconds(150))
            #expect(await eventually { record.value.cancelled == 1 })
            #expect(record.value.finished == 0)
            // The handler saw the deadline: 200 ms after the server received the call, which
            // was between the send and the answer (not a bound on scheduling delays).
            let deadlines = record.value.deadlines
            #expect(deadlines.count == 1)
            if let deadline = deadlines.first {
                #expect(deadline >= start + .milliseconds(200) && deadline <= start + elapsed + .milliseconds(200))
            }
            // The connection is still usable.
            try await socket.write(requestFrame(streamID: 3, method: "Echo", payload: [5]))
            #expect(try await socket.readFrame().responsePayload() == [5])
        }
    }

    @Test("TTRPCClient sends timeout_nano and gets DEADLINE_EXCEEDED")
    func clientTimeoutAgainstServer() async throws {
        let record = Locked(SlowRecord())
        try await withServerAndClient(router: slowRouter(record)) { client, _ async throws in
            let clock = ContinuousClock()
            let start = clock.now
            let error = await rpcError { _ = try await client.callTest("Slow", [1], timeout: .milliseconds(200)) }
            #expect(error?.code == .deadlineExceeded)
            #expect(clock.now - start >= .milliseconds(150))
            #expect(await eventually { record.value.cancelled == 1 })
            #expect(record.value.deadlines.count == 1)
            #expect(try await client.callTest("Echo", [1]) == [1])
        }
    }

    @Test("the client gives up at its own deadline when the server never answers")
    func clientDeadlineWithSilentServer() async throws {
        try await withSocketPath { path async throws in
            let listener = try RawListener(path: path)
            let client = TTRPCClient(socketPath: path)
            async let accepted = listener.accept()
            let clock = ContinuousClock()
            let start = clock.now
            let error = await rpcError { _ = try await client.callTest("Echo", [1], timeout: .milliseconds(300)) }
            let elapsed = clock.now - start
            #expect(error?.code == .deadlineExceeded)
            #expect(elapsed >= .milliseconds(250))

            // The request carried timeout_nano of (at most) 300 ms.
            let connection = try await accepted
            let frame = try await connection.readFrame()
            #expect(frame.type == 1)
            #expect(frame.streamID == 1)
            let request = try RequestEnvelope(decoding: ByteBuffer(bytes: frame.data))
            #expect(request.timeoutNanoseconds > 0 && request.timeoutNanoseconds <= 300_000_000)
            #expect(request.service == TestService.name && request.method == "Echo")

            // A late answer for the abandoned stream is ignored; the next call works.
            try await connection.write(rawFrame(streamID: 1, type: 2, data: []))
            async let second = rpcError { _ = try await client.callTest("Echo", [2], timeout: .seconds(120)) }
            let next = try await connection.readFrame()
            #expect(next.streamID == 3)
            var answer = ByteBuffer()
            ResponseEnvelope(.success(ByteBuffer(bytes: [2]))).encode(into: &answer)
            try await connection.write(rawFrame(streamID: 3, type: 2, data: Array(answer.readableBytesView)))
            #expect(await second == nil)
            await client.close()
            connection.close()
            listener.close()
        }
    }

    @Test("client stream ids are odd and increasing")
    func clientStreamIDs() async throws {
        try await withSocketPath { path async throws in
            let listener = try RawListener(path: path)
            let client = TTRPCClient(socketPath: path)
            let calls = Task {
                for index in 0..<5 {
                    _ = await rpcError { _ = try await client.callTest("Echo", [UInt8(index)], timeout: .seconds(120)) }
                }
            }
            let connection = try await listener.accept()
            var seen: [UInt32] = []
            for _ in 0..<5 {
                let frame = try await connection.readFrame()
                seen.append(frame.streamID)
                let payload = try RequestEnvelope(decoding: ByteBuffer(bytes: frame.data)).payload
                var answer = ByteBuffer()
                ResponseEnvelope(.success(payload)).encode(into: &answer)
                try await connection.write(rawFrame(streamID: frame.streamID, type: 2, data: Array(answer.readableBytesView)))
            }
            await calls.value
            #expect(seen == [1, 3, 5, 7, 9])
            await client.close()
            connection.close()
            listener.close()
        }
    }

    @Test("deadline, cancellation and success side by side on one client")
    func callsOnOneClientAreIndependent() async throws {
        let record = Locked(SlowRecord())
        let gate = Gate()
        try await withServerAndClient(router: slowRouter(record, gate: gate)) { client, _ async throws in
            // C: waits for the gate, no timeout.
            let gated = Task { try await client.callTest("Gated", [3]) }
            // B: cancelled by its caller while the handler runs.
            let cancelled = Task { await rpcError { _ = try await client.callTest("Gated", [2]) } }
            #expect(await eventually { record.value.started == 2 })
            cancelled.cancel()
            #expect(await cancelled.value?.code == .cancelled)

            // A: a call with a deadline fails on its own.
            let timedOut = await rpcError { _ = try await client.callTest("Slow", [1], timeout: .milliseconds(200)) }
            #expect(timedOut?.code == .deadlineExceeded)

            // D: meanwhile an ordinary call succeeds.
            #expect(try await client.callTest("Echo", [4]) == [4])

            gate.open()
            #expect(try await gated.value == [3])
            #expect(try await client.callTest("Echo", [5]) == [5])
        }
    }

    /// Not DEADLINE_EXCEEDED at its 4 s deadline: CANCELLED, before the handler
    /// (held at the gate until the end) could answer.
    @Test("a call whose task is already cancelled fails with CANCELLED")
    func callFromCancelledTask() async throws {
        let record = Locked(SlowRecord())
        let gate = Gate()
        try await withServerAndClient(router: slowRouter(record, gate: gate)) { client, _ async throws in
            // Connect first, so the only await left in call() is the response.
            #expect(try await client.callTest("Echo", [1]) == [1])
            let task = Task {
                // Sleep until cancelled, then call with the task already cancelled.
                try? await Task.sleep(for: .seconds(3600))
                return await rpcError { _ = try await client.callTest("Gated", [1], timeout: .seconds(4)) }
            }
            task.cancel()
            let error = await task.value
            gate.open()
            #expect(error?.code == .cancelled, "got \(String(describing: error))")
        }
    }
}
