import NIOCore
import TTRPC
import Testing

extension StreamSuites {
    /// Every protocol error a client can make with streams is answered with a
    /// status, and the connection keeps serving: a unary call on a new stream id
    /// is answered afterwards on the same connection.
    @Suite("Streams: protocol errors", .timeLimit(.minutes(1)))
    struct StreamProtocolErrorTests {
        /// `.streams` plus `Hold` (bidirectional: reads to the end, then waits
        /// for the gate) and `Slow` (unary: waits for the gate).
        static func router(gate: Gate) -> Router {
            var router = Router.streams
            router.registerBidirectionalStreaming(service: StreamService.name, method: "Hold") { requests, _, _ in
                for try await _ in requests {}
                try await gate.wait()
            }
            router.register(service: StreamService.name, method: "Slow") { payload, _ in
                try await gate.wait()
                return payload
            }
            return router
        }

        /// Runs `body` with a raw peer on a server with `router(gate:)`.
        static func withPeer(_ body: (RawPeer) async throws -> Void) async throws {
            let gate = Gate()
            defer { gate.open() }
            try await withServer(router: router(gate: gate)) { _, path async throws in
                try await withRawPeer(path, body)
            }
        }

        let remoteOpen = Frame.Flags.remoteOpen
        let remoteClosed = Frame.Flags.remoteClosed
        let noData = Frame.Flags.noData

        @Test("data on a unary stream: INVALID_ARGUMENT on that stream, and the call's own answer is not sent after it")
        func dataOnUnaryStream() async throws {
            try await Self.withPeer { peer in
                try await peer.write(requestFrame(streamID: 1, service: StreamService.name, method: "Slow", payload: [1]))
                try await peer.write(dataFrame(streamID: 1, [9]))
                #expect(try await peer.readStatus(streamID: 1)?.code == .invalidArgument)
                try await peer.expectEcho(streamID: 3)
            }
        }

        @Test("data after the client's remote closed: INVALID_ARGUMENT ends the stream")
        func dataAfterRemoteClosed() async throws {
            try await Self.withPeer { peer in
                try await peer.write(streamRequestFrame(streamID: 1, method: "Hold", flags: remoteOpen))
                try await peer.write(dataFrame(streamID: 1, [1]))
                try await peer.write(dataFrame(streamID: 1, flags: remoteClosed | noData, []))
                try await peer.write(dataFrame(streamID: 1, [2]))
                let error = try await peer.readStatus(streamID: 1)
                #expect(error?.code == .invalidArgument)
                #expect(error?.message == "data handling error: ttrpc: stream closed")
                try await peer.expectEcho(streamID: 3)
            }
        }

        @Test("a remote closed data frame that carries data: INVALID_ARGUMENT with the reference's words")
        func closeWithData() async throws {
            try await Self.withPeer { peer in
                try await peer.write(streamRequestFrame(streamID: 1, method: "Hold", flags: remoteOpen))
                try await peer.write(dataFrame(streamID: 1, flags: remoteClosed, [7]))
                #expect(try await peer.readStatus(streamID: 1) == RPCError(code: .invalidArgument, message: "data close message cannot include data"))
                try await peer.expectEcho(streamID: 3)
            }
        }

        /// The server may end a stream while the client still sends: what the
        /// client sent before it saw the end is dropped, not answered (the
        /// reference client 1.2.7 keeps a stream that ended with an error open,
        /// and an answer to each such frame stalled its whole connection).
        @Test("data for a stream that has ended (its handler failed, or its request was refused): dropped, nothing answered")
        func dataForEndedStream() async throws {
            try await Self.withPeer { peer in
                try await peer.write(streamRequestFrame(streamID: 1, method: "Collect", flags: remoteOpen))
                try await peer.write(dataFrame(streamID: 1, StreamService.failMessage))
                #expect(try await peer.readStatus(streamID: 1) == StreamService.failure(after: 0))
                // A request refused (its flags do not match the method), then its data.
                try await peer.write(streamRequestFrame(streamID: 3, method: "Echo", flags: remoteOpen, service: TestService.name))
                #expect(try await peer.readStatus(streamID: 3)?.code == .invalidArgument)
                for streamID: UInt32 in [1, 3] {
                    try await peer.write(dataFrame(streamID: streamID, [1]))
                    try await peer.write(dataFrame(streamID: streamID, [2]))
                    try await peer.write(dataFrame(streamID: streamID, flags: remoteClosed | noData, []))
                }
                // The next frame is the echo's answer: nothing was answered to those.
                try await peer.expectEcho(streamID: 5)
            }
        }

        @Test("data for a stream never opened: INVALID_ARGUMENT with the reference's words")
        func dataForUnknownStream() async throws {
            try await Self.withPeer { peer in
                try await peer.write(dataFrame(streamID: 41, [1]))
                #expect(try await peer.readStatus(streamID: 41) == RPCError(code: .invalidArgument, message: "StreamID is no longer active"))
                try await peer.expectEcho(streamID: 43)
            }
        }

        @Test("data for a stream that has finished cleanly: dropped, nothing answered")
        func dataForFinishedStream() async throws {
            try await Self.withPeer { peer in
                // `First` sends the first message back and ends the stream, the client's side still open.
                try await peer.write(streamRequestFrame(streamID: 1, method: "First", flags: remoteOpen))
                try await peer.write(dataFrame(streamID: 1, [7]))
                #expect(try await peer.readFrame().flags == 0)  // the one message
                let end = try await peer.readFrame()
                #expect(end.type == .data && end.flags == remoteClosed | noData)
                try await peer.write(dataFrame(streamID: 1, [1]))
                try await peer.write(dataFrame(streamID: 1, flags: remoteClosed | noData, []))
                // The next frame is the echo's answer.
                try await peer.expectEcho(streamID: 3)
            }
        }

        @Test("data on a server stream (opened remote closed): INVALID_ARGUMENT ends it")
        func dataOnServerStream() async throws {
            try await Self.withPeer { peer in
                // A stream of 2^31 messages: it runs until the error ends it.
                try await peer.write(streamRequestFrame(
                    streamID: 1, method: "Count", flags: remoteClosed, payload: Array(StreamService.countRequest(1 << 31).readableBytesView)))
                try await peer.write(dataFrame(streamID: 1, [1]))
                var frame = try await peer.readFrame()
                while frame.type == .data { frame = try await peer.readFrame() }
                #expect(frame.streamID == 1)
                #expect(try status(of: frame)?.code == .invalidArgument)
                try await peer.expectEcho(streamID: 3)
            }
        }

        @Test("a streaming method called as unary, and a unary method called as a stream: INVALID_ARGUMENT",
              arguments: [("Count", 0), ("Collect", 0), ("Echo", 0), ("Collect", 1), ("Count", 2), ("Echo", 3)] as [(String, UInt8)])
        func kindMismatch(method: String, flags: UInt8) async throws {
            try await Self.withPeer { peer in
                try await peer.write(streamRequestFrame(streamID: 1, method: method, flags: flags))
                let error = try await peer.readStatus(streamID: 1)
                #expect(error?.code == .invalidArgument)
                let called = [
                    0: "called as unary", 1: "called as server streaming (remote closed)",
                    2: "called as client streaming (remote open)", 3: "called with request flags 0x3",
                ][flags]!
                #expect(error?.message.hasPrefix("method \(method) is ") == true, "\(String(describing: error))")
                #expect(error?.message.hasSuffix(", \(called)") == true, "\(String(describing: error))")
                // The unary Echo of the test service, opened as a stream.
                try await peer.write(streamRequestFrame(streamID: 3, method: "Echo", flags: remoteClosed, service: TestService.name))
                #expect(try await peer.readStatus(streamID: 3)?.code == .invalidArgument)
                try await peer.expectEcho(streamID: 5)
            }
        }

        @Test("an oversized data frame on an open stream: RESOURCE_EXHAUSTED ends that stream")
        func oversizedData() async throws {
            try await Self.withPeer { peer in
                try await peer.write(streamRequestFrame(streamID: 1, method: "Hold", flags: remoteOpen))
                try await peer.write(rawFrame(streamID: 1, type: 3, length: UInt32(Frame.maximumDataSize + 1), data: []))
                try await peer.write([UInt8](repeating: 0, count: Frame.maximumDataSize + 1))
                #expect(try await peer.readStatus(streamID: 1)?.code == .resourceExhausted)
                try await peer.expectEcho(streamID: 3)
            }
        }

        @Test("data on an even stream id: INVALID_ARGUMENT, as for requests")
        func dataOnEvenStream() async throws {
            try await Self.withPeer { peer in
                try await peer.write(dataFrame(streamID: 2, [1]))
                #expect(try await peer.readStatus(streamID: 2)?.code == .invalidArgument)
                try await peer.expectEcho(streamID: 1)
            }
        }

        @Test("a stream's protocol error leaves another stream open on the same connection untouched")
        func otherStreamsGoOn() async throws {
            try await Self.withPeer { peer in
                try await peer.write(streamRequestFrame(streamID: 1, method: "Echo", flags: remoteOpen))
                try await peer.write(streamRequestFrame(streamID: 3, method: "Hold", flags: remoteOpen))
                try await peer.write(dataFrame(streamID: 3, flags: remoteClosed, [7]))
                #expect(try await peer.readStatus(streamID: 3)?.code == .invalidArgument)
                try await peer.write(dataFrame(streamID: 1, [5]))
                let echo = try await peer.readFrame()
                #expect(echo.streamID == 1 && echo.type == .data && echo.data == ByteBuffer(bytes: [5]))
                try await peer.write(dataFrame(streamID: 1, flags: remoteClosed | noData, []))
                let end = try await peer.readFrame()
                #expect(end.streamID == 1 && end.type == .data && end.flags == remoteClosed | noData && end.data.readableBytes == 0)
            }
        }
    }
}
