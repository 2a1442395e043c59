import NIOCore
import TTRPC
import TestSupport
import Testing

/// Tests that speak the wire by hand over a raw Unix socket.
@Suite("Raw wire protocol", .timeLimit(.minutes(5)))
struct RawProtocolTests {
    /// A router with `Echo`.
    static var router: Router { .echo }

    /// Sends an echo request on `streamID` and checks the answer.
    static func expectEcho(_ socket: RawSocket, streamID: UInt32, _ payload: [UInt8] = [42]) async throws {
        try await socket.write(requestFrame(streamID: streamID, method: "Echo", payload: payload))
        let frame = try await socket.readFrame()
        #expect(frame.streamID == streamID)
        #expect(frame.type == 2)
        #expect(frame.flags == 0)
        #expect(try frame.responsePayload() == payload)
    }

    @Test("a hand-made request is answered on its stream")
    func handMadeRequest() async throws {
        try await withServer(router: Self.router) { _, path async throws in
            let socket = try RawSocket.connect(path)
            try await Self.expectEcho(socket, streamID: 1, Array("abc".utf8))
            // An OK response with an empty output is a zero-length response frame.
            try await socket.write(requestFrame(streamID: 3, method: "Echo", payload: []))
            let frame = try await socket.readFrame()
            #expect(frame == RawFrame(length: 0, streamID: 3, type: 2, flags: 0, data: []))
        }
    }

    @Test("a request written in small pieces, with pauses, is reassembled")
    func splitWrites() async throws {
        try await withServer(router: Self.router) { _, path async throws in
            let socket = try RawSocket.connect(path)
            let payload = [UInt8](repeating: 0x5A, count: 300)
            let frame = requestFrame(streamID: 1, method: "Echo", payload: payload) + requestFrame(streamID: 3, method: "Echo", payload: [7])
            // Cut inside the first header, inside the first data, and across the boundary.
            let cuts = [0, 3, 9, 10, 40, 200, frame.count - 20, frame.count - 5, frame.count]
            for (start, end) in zip(cuts, cuts.dropFirst()) {
                try await socket.write(Array(frame[start..<end]))
                try await Task.sleep(for: .milliseconds(20))
            }
            var answers: [UInt32: [UInt8]] = [:]
            for _ in 0..<2 {
                let response = try await socket.readFrame()
                answers[response.streamID] = try response.responsePayload()
            }
            #expect(answers == [1: payload, 3: [7]])
        }
    }

    @Test("an oversized frame (5 MiB, actually sent) gets RESOURCE_EXHAUSTED on its stream; the connection stays usable")
    func oversizedFrame() async throws {
        try await withServer(router: Self.router) { _, path async throws in
            let socket = try RawSocket.connect(path)
            let length = 5 << 20
            try await socket.write(rawFrame(streamID: 1, data: [UInt8](repeating: 0xAB, count: length)))
            let frame = try await socket.readFrame()
            #expect(frame.streamID == 1)
            #expect(frame.type == 2)
            #expect(
                try frame.responseError()
                    == RPCError(code: .resourceExhausted, message: "message length 5242880 exceed maximum message size of 4194304"))
            try await Self.expectEcho(socket, streamID: 3)
        }
    }

    @Test("a frame just over a configured limit is refused, one at the limit is served")
    func configuredLimit() async throws {
        try await withServer(router: Self.router, configure: { $0.maximumFrameSize = 1000 }) { _, path async throws in
            let socket = try RawSocket.connect(path)
            // Data of exactly 1000 bytes: an envelope around a payload.
            var payloadSize = 900
            var envelope = requestEnvelope(method: "Echo", payload: [UInt8](repeating: 1, count: payloadSize))
            while envelope.count != 1000 {
                payloadSize += 1000 - envelope.count
                envelope = requestEnvelope(method: "Echo", payload: [UInt8](repeating: 1, count: payloadSize))
            }
            try #require(envelope.count == 1000)
            try await socket.write(rawFrame(streamID: 1, data: envelope))
            #expect(try await socket.readFrame().responsePayload()?.count == payloadSize)

            try await socket.write(rawFrame(streamID: 3, data: envelope + [0]))
            let refused = try await socket.readFrame()
            #expect(refused.streamID == 3)
            #expect(
                try refused.responseError()
                    == RPCError(code: .resourceExhausted, message: "message length 1001 exceed maximum message size of 1000"))
            try await Self.expectEcho(socket, streamID: 5)
        }
    }

    @Test("a garbage envelope gets INVALID_ARGUMENT; the connection stays usable")
    func garbageEnvelope() async throws {
        // Random bytes that protobuf-c rejects (checked here, deterministic seed).
        var random = SeededGenerator(seed: 2024)
        var garbage: [[UInt8]] = []
        while garbage.count < 5 {
            let candidate = random.bytes(count: Int.random(in: 8...64, using: &random))
            if (try? RequestEnvelope(decoding: ByteBuffer(bytes: candidate))) == nil { garbage.append(candidate) }
        }
        try await withServer(router: Self.router) { _, path async throws in
            let socket = try RawSocket.connect(path)
            var streamID: UInt32 = 1
            for bytes in garbage {
                try await socket.write(rawFrame(streamID: streamID, data: bytes))
                let frame = try await socket.readFrame()
                #expect(frame.streamID == streamID)
                let error = try frame.responseError()
                #expect(error?.code == .invalidArgument)
                #expect(error?.message.hasPrefix("unmarshal request error: ") == true)
                try await Self.expectEcho(socket, streamID: streamID + 2)
                streamID += 4
            }
        }
    }

    @Test("an envelope whose service name is not UTF-8 gets INVALID_ARGUMENT")
    func invalidUTF8Envelope() async throws {
        try await withServer(router: Self.router) { _, path async throws in
            let socket = try RawSocket.connect(path)
            // Request { service: "\xff\xfe", method: "Echo" }
            let envelope: [UInt8] = [0x0A, 0x02, 0xFF, 0xFE, 0x12, 0x04] + Array("Echo".utf8)
            try await socket.write(rawFrame(streamID: 1, data: envelope))
            let error = try await socket.readFrame().responseError()
            #expect(error?.code == .invalidArgument)
            // Metadata { key: "k", value: "\xc3\x28" } (an invalid two-byte sequence)
            let pair: [UInt8] = [0x0A, 0x01, 0x6B, 0x12, 0x02, 0xC3, 0x28]
            var good = requestEnvelope(method: "Echo", payload: [1])
            good += [0x2A, UInt8(pair.count)] + pair
            try await socket.write(rawFrame(streamID: 3, data: good))
            #expect(try await socket.readFrame().responseError()?.code == .invalidArgument)
            try await Self.expectEcho(socket, streamID: 5)
        }
    }

    @Test("an even stream id gets INVALID_ARGUMENT 'StreamID must be odd for client initiated streams'")
    func evenStreamID() async throws {
        try await withServer(router: Self.router) { _, path async throws in
            let socket = try RawSocket.connect(path)
            try await socket.write(requestFrame(streamID: 2, method: "Echo", payload: [1]))
            let frame = try await socket.readFrame()
            #expect(frame.streamID == 2)
            #expect(try frame.responseError() == RPCError(code: .invalidArgument, message: "StreamID must be odd for client initiated streams"))
            try await Self.expectEcho(socket, streamID: 3)
        }
    }

    @Test("a stream id that does not increase gets INVALID_ARGUMENT")
    func nonIncreasingStreamID() async throws {
        try await withServer(router: Self.router) { _, path async throws in
            let socket = try RawSocket.connect(path)
            try await Self.expectEcho(socket, streamID: 5)
            for reused: UInt32 in [5, 3] {
                try await socket.write(requestFrame(streamID: reused, method: "Echo", payload: [1]))
                let frame = try await socket.readFrame()
                #expect(frame.streamID == reused)
                #expect(try frame.responseError()?.code == .invalidArgument)
            }
            try await Self.expectEcho(socket, streamID: 7)
        }
    }

    @Test("response frames and frames of unknown types from a client are ignored; data for no stream is answered")
    func strayFrames() async throws {
        try await withServer(router: Self.router) { _, path async throws in
            let socket = try RawSocket.connect(path)
            try await socket.write(rawFrame(streamID: 1, type: 2, data: [1, 2, 3]))
            try await socket.write(rawFrame(streamID: 1, type: 9, data: []))
            // Since streams (protocol 1.2), data for a stream not open is a protocol error.
            try await socket.write(rawFrame(streamID: 1, type: 3, flags: 1, data: [4]))
            let frame = try await socket.readFrame()
            #expect(frame.streamID == 1)
            #expect(try frame.responseError() == RPCError(code: .invalidArgument, message: "StreamID is no longer active"))
            try await Self.expectEcho(socket, streamID: 3)
        }
    }

    @Test("many requests in flight on one connection are answered out of order, every stream once")
    func outOfOrder() async throws {
        // Each call waits at its own gate; the gates open last call first, each
        // once the previous answer is in, so the order does not hang on timing.
        let count = 8
        let gates = (0..<count).map { _ in Gate() }
        let started = Locked(0)
        var router = Router()
        router.test("Wait") { payload, _ in
            started.withLock { $0 += 1 }
            try await gates[Int(uint32(from: payload))].wait()
            return payload
        }
        try await withServer(router: router) { _, path async throws in
            let socket = try RawSocket.connect(path)
            var sent: [UInt32] = []
            var request: [UInt8] = []
            for index in 0..<count {
                let streamID = UInt32(2 * index + 1)
                sent.append(streamID)
                request += requestFrame(streamID: streamID, method: "Wait", payload: bytes(of: UInt32(index)))
            }
            try await socket.write(request)
            #expect(await eventually { started.value == count })
            var received: [UInt32] = []
            for index in (0..<count).reversed() {
                gates[index].open()
                let frame = try await socket.readFrame()
                #expect(try frame.responsePayload() == bytes(of: UInt32(index)))
                received.append(frame.streamID)
            }
            #expect(received == sent.reversed())
        }
    }
}
