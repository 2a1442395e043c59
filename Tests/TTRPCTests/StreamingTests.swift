import NIOCore
import TTRPC
import TestSupport
import Testing

extension StreamSuites {
    /// The three streaming kinds end to end, `TTRPCClient` against `TTRPCServer`
    /// over a real socket: order, clean end, error end, empty messages, long
    /// streams, many streams at once on one connection.
    @Suite("Streams over a socket", .timeLimit(.minutes(2)))
    struct StreamingTests {
        // MARK: Server streaming

        @Test("server streaming: messages in order, then a clean end", arguments: [0, 1, 3, 100])
        func serverStreamInOrder(count: Int) async throws {
            try await withServerAndClient(router: .streams) { client, _ async throws in
                let received = try await client.serverStreaming(
                    service: StreamService.name, method: "Count", request: StreamService.countRequest(count), collect)
                #expect(received.error == nil)
                #expect(received.messages == (0..<count).map { bytes(of: UInt32($0)) })
            }
        }

        @Test("server streaming: the messages sent, then the handler's status")
        func serverStreamErrorEnd() async throws {
            try await withServerAndClient(router: .streams) { client, _ async throws in
                let received = try await client.serverStreaming(
                    service: StreamService.name, method: "Count", request: StreamService.countRequest(10, failAfter: 4), collect)
                #expect(received.messages == (0..<4).map { bytes(of: UInt32($0)) })
                #expect(received.error == StreamService.failure(after: 4))
            }
        }

        @Test("server streaming: empty messages are messages")
        func serverStreamEmptyMessages() async throws {
            try await withServerAndClient(router: .streams) { client, _ async throws in
                let received = try await client.serverStreaming(
                    service: StreamService.name, method: "Count", request: StreamService.countRequest(5, empty: true), collect)
                #expect(received.error == nil)
                #expect(received.messages == Array(repeating: [], count: 5))
            }
        }

        @Test("server streaming: 10,000 messages in one stream")
        func serverStreamLong() async throws {
            try await withServerAndClient(router: .streams) { client, _ async throws in
                let count = 10_000
                let last = try await client.serverStreaming(
                    service: StreamService.name, method: "Count", request: StreamService.countRequest(count)
                ) { stream in
                    var expected: UInt32 = 0
                    for try await message in stream {
                        #expect(uint32(from: message) == expected)
                        expected += 1
                    }
                    return expected
                }
                #expect(last == UInt32(count))
            }
        }

        // MARK: Client streaming

        /// The answer of `Collect`: count, in order, empty.
        static func collected(_ answer: ByteBuffer) -> (count: UInt32, inOrder: Bool, empty: UInt32) {
            (uint32(from: answer), answer.getInteger(at: answer.readerIndex + 4, as: UInt8.self) == 1,
             answer.getInteger(at: answer.readerIndex + 5, as: UInt32.self) ?? .max)
        }

        @Test("client streaming: the server gets every message in order, and its answer comes back", arguments: [0, 1, 3, 100])
        func clientStreamInOrder(count: Int) async throws {
            try await withServerAndClient(router: .streams) { client, _ async throws in
                let answer = try await client.clientStreaming(service: StreamService.name, method: "Collect") { writer in
                    for index in 0..<count { try await writer.write(ByteBuffer(bytes: bytes(of: UInt32(index)))) }
                }
                let result = Self.collected(answer)
                #expect(result.count == UInt32(count))
                #expect(result.inOrder)
                #expect(result.empty == 0)
            }
        }

        @Test("client streaming: the handler's status after N messages")
        func clientStreamErrorEnd() async throws {
            try await withServerAndClient(router: .streams) { client, _ async throws in
                let error = await rpcError {
                    _ = try await client.clientStreaming(service: StreamService.name, method: "Collect") { writer in
                        for index in 0..<3 { try await writer.write(ByteBuffer(bytes: bytes(of: UInt32(index)))) }
                        try await writer.write(ByteBuffer(bytes: StreamService.failMessage))
                    }
                }
                #expect(error == StreamService.failure(after: 3))
                // The connection goes on.
                #expect(try await client.callTest("Echo", [1]) == [1])
            }
        }

        @Test("client streaming: empty messages are messages")
        func clientStreamEmptyMessages() async throws {
            try await withServerAndClient(router: .streams) { client, _ async throws in
                let answer = try await client.clientStreaming(service: StreamService.name, method: "Collect") { writer in
                    for _ in 0..<4 { try await writer.write(ByteBuffer()) }
                }
                #expect(Self.collected(answer).count == 4)
                #expect(Self.collected(answer).empty == 4)
            }
        }

        @Test("client streaming: 10,000 messages in one stream")
        func clientStreamLong() async throws {
            try await withServerAndClient(router: .streams) { client, _ async throws in
                let answer = try await client.clientStreaming(service: StreamService.name, method: "Collect") { writer in
                    for index in 0..<10_000 { try await writer.write(ByteBuffer(bytes: bytes(of: UInt32(index)))) }
                }
                #expect(Self.collected(answer).count == 10_000)
                #expect(Self.collected(answer).inOrder)
            }
        }

        @Test("client streaming: a server that answers before the client is done sending: the answer, not an error")
        func clientStreamEarlyAnswer() async throws {
            try await withServerAndClient(router: .streams) { client, _ async throws in
                let answer = try await client.clientStreaming(service: StreamService.name, method: "TakeTwo") { writer in
                    for index in 0..<1_000 { try await writer.write(ByteBuffer(bytes: bytes(of: UInt32(index)))) }
                }
                #expect(answer == ByteBuffer(bytes: [2]))
            }
        }

        @Test("client streaming: a server that answers while the producer waits: the answer, the producer cancelled")
        func clientStreamAnswerWhileProducerWaits() async throws {
            let gate = Gate()
            defer { gate.open() }
            try await withServerAndClient(router: .streams) { client, _ async throws in
                let producer = Locked<(any Error)?>(nil)
                let answer = try await client.clientStreaming(service: StreamService.name, method: "TakeTwo") { writer in
                    try await writer.write(ByteBuffer(bytes: [0]))
                    try await writer.write(ByteBuffer(bytes: [1]))
                    do {
                        try await gate.wait()  // opened only when the test ends
                    } catch {
                        producer.withLock { $0 = error }
                        throw error
                    }
                }
                #expect(answer == ByteBuffer(bytes: [2]))
                #expect(producer.value is CancellationError)
            }
        }

        /// The reference server 1.2.7 ends the stream at `timeout_nano`; the
        /// call must return then, whatever its producer awaits.
        @Test("client streaming: the deadline passes while the producer waits: DEADLINE_EXCEEDED, the producer cancelled")
        func clientStreamDeadlineWhileProducerWaits() async throws {
            let gate = Gate()
            defer { gate.open() }
            var router = Router.streams
            router.registerClientStreaming(service: StreamService.name, method: "Drain") { requests, _ in
                for try await _ in requests {}
                return ByteBuffer()
            }
            try await withServerAndClient(router: router) { client, _ async throws in
                let error = await rpcError {
                    _ = try await client.clientStreaming(service: StreamService.name, method: "Drain", timeout: .milliseconds(100)) { writer in
                        try await writer.write(ByteBuffer(bytes: [0]))
                        try await gate.wait()  // opened only when the test ends
                    }
                }
                #expect(error?.code == .deadlineExceeded)
                #expect(try await client.callTest("Echo", [1]) == [1])
            }
        }

        // MARK: Bidirectional

        @Test("bidirectional: a server that ends cleanly while the client still sends: its messages, then the clean end")
        func bidirectionalEarlyEnd() async throws {
            try await withServerAndClient(router: .streams) { client, _ async throws in
                let received = try await client.bidirectionalStreaming(
                    service: StreamService.name, method: "First",
                    requests: { writer in
                        for index in 0..<1_000 { try await writer.write(ByteBuffer(bytes: bytes(of: UInt32(index)))) }
                    },
                    responses: collect)
                #expect(received.messages == [bytes(of: 0)])
                #expect(received.error == nil)
            }
        }

        @Test("bidirectional: every message echoed in order, then a clean end", arguments: [0, 1, 3, 100])
        func bidirectionalInOrder(count: Int) async throws {
            try await withServerAndClient(router: .streams) { client, _ async throws in
                let received = try await client.bidirectionalStreaming(
                    service: StreamService.name, method: "Echo",
                    requests: { writer in
                        for index in 0..<count { try await writer.write(ByteBuffer(bytes: bytes(of: UInt32(index)))) }
                    },
                    responses: collect)
                #expect(received.error == nil)
                #expect(received.messages == (0..<count).map { bytes(of: UInt32($0)) })
            }
        }

        @Test("bidirectional: the echoes sent, then the handler's status")
        func bidirectionalErrorEnd() async throws {
            try await withServerAndClient(router: .streams) { client, _ async throws in
                let received = try await client.bidirectionalStreaming(
                    service: StreamService.name, method: "Echo",
                    requests: { writer in
                        for index in 0..<5 { try await writer.write(ByteBuffer(bytes: bytes(of: UInt32(index)))) }
                        try await writer.write(ByteBuffer(bytes: StreamService.failMessage))
                    },
                    responses: collect)
                #expect(received.messages == (0..<5).map { bytes(of: UInt32($0)) })
                #expect(received.error == StreamService.failure(after: 5))
            }
        }

        @Test("bidirectional: empty messages are echoed as empty messages")
        func bidirectionalEmptyMessages() async throws {
            try await withServerAndClient(router: .streams) { client, _ async throws in
                let received = try await client.bidirectionalStreaming(
                    service: StreamService.name, method: "Echo",
                    requests: { writer in for _ in 0..<3 { try await writer.write(ByteBuffer()) } },
                    responses: collect)
                #expect(received.error == nil)
                #expect(received.messages == [[], [], []])
            }
        }

        @Test("bidirectional: 10,000 messages each way in one stream")
        func bidirectionalLong() async throws {
            try await withServerAndClient(router: .streams) { client, _ async throws in
                let count = 10_000
                let received = try await client.bidirectionalStreaming(
                    service: StreamService.name, method: "Echo",
                    requests: { writer in
                        for index in 0..<count { try await writer.write(ByteBuffer(bytes: bytes(of: UInt32(index)))) }
                    },
                    responses: { stream in
                        var expected: UInt32 = 0
                        for try await message in stream {
                            guard uint32(from: message) == expected else { break }
                            expected += 1
                        }
                        return expected
                    })
                #expect(received == UInt32(count))
            }
        }

        // MARK: Many at once

        @Test("100 streams at once on one connection, of the three streaming kinds, with unary calls among them")
        func concurrentStreams() async throws {
            try await withServerAndClient(router: .streams, configure: { $0.maximumConcurrentRequestsPerConnection = 200 }) {
                client, _ async throws in
                try await withThrowingTaskGroup(of: Bool.self) { group in
                    for stream in 0..<100 {
                        let count = 20 + stream % 7
                        let expected = (0..<count).map { bytes(of: UInt32($0)) }
                        switch stream % 3 {
                        case 0:
                            group.addTask {
                                let received = try await client.serverStreaming(
                                    service: StreamService.name, method: "Count", request: StreamService.countRequest(count), collect)
                                return received.error == nil && received.messages == expected
                            }
                        case 1:
                            group.addTask {
                                let answer = try await client.clientStreaming(service: StreamService.name, method: "Collect") { writer in
                                    for message in expected { try await writer.write(ByteBuffer(bytes: message)) }
                                }
                                return Self.collected(answer).count == UInt32(count) && Self.collected(answer).inOrder
                            }
                        default:
                            group.addTask {
                                let received = try await client.bidirectionalStreaming(
                                    service: StreamService.name, method: "Echo",
                                    requests: { writer in for message in expected { try await writer.write(ByteBuffer(bytes: message)) } },
                                    responses: collect)
                                return received.error == nil && received.messages == expected
                            }
                        }
                        if stream % 5 == 0 {
                            group.addTask { try await client.callTest("Echo", bytes(of: UInt32(stream))) == bytes(of: UInt32(stream)) }
                        }
                    }
                    var good = 0
                    for try await ok in group where ok { good += 1 }
                    #expect(good == 120)
                }
            }
        }
    }
}
