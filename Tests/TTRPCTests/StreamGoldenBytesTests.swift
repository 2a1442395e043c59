import NIOCore
import NIOPosix
import TTRPC
import Testing

extension StreamSuites {
    /// The frames the reference Go implementation (ttrpc v1.2.7) exchanged for a
    /// unary call and two server streams, as recorded in
    /// shared/design/TTRPC-STREAMS.md: the server answers the reference client's
    /// bytes with the reference server's bytes, and the client sends the
    /// reference client's bytes and reads the reference server's as meant.
    @Suite("Streams: golden bytes of the reference", .timeLimit(.minutes(1)))
    struct StreamGoldenBytesTests {
        static let service = "feasdemo.watch.v1.Watcher"

        /// Hex to bytes, spaces ignored; `"text"` parts are taken as UTF-8.
        static func hex(_ parts: String...) -> [UInt8] {
            var out: [UInt8] = []
            for part in parts {
                if part.hasPrefix("\"") {
                    out += Array(part.dropFirst().dropLast().utf8)
                    continue
                }
                let digits = Array(part.filter { !$0.isWhitespace })
                for index in stride(from: 0, to: digits.count, by: 2) {
                    out.append(UInt8(String(digits[index...index + 1]), radix: 16)!)
                }
            }
            return out
        }

        // The reference's frames.
        static let unaryRequest = hex(
            "0000002c 00000001 01 00 0a19", "\"feasdemo.watch.v1.Watcher\"", "1204", "\"Ping\"", "1a03 0a0174 20dfa5a5a025")
        static let unaryResponse = hex("0000000b 00000001 02 00 12090a01741a04706f6e67")
        static let watchRequest = hex(
            "0000002c 00000003 01 01 0a19", "\"feasdemo.watch.v1.Watcher\"", "1205", "\"Watch\"", "1a08 0a046a6f62731002")
        static let event1 = hex("00000019 00000003 03 00 0a046a6f627310011a0f6576656e742031206f66206a6f6273")
        static let event2 = hex("00000019 00000003 03 00 0a046a6f627310021a0f6576656e742032206f66206a6f6273")
        static let watchEnd = hex("00000000 00000003 03 05")
        static let failingWatchRequest = hex(
            "0000002e 00000005 01 01 0a19", "\"feasdemo.watch.v1.Watcher\"", "1205", "\"Watch\"", "1a0a 0a046a6f627310021801")
        static let failingEvent1 = hex("00000019 00000005 03 00 0a046a6f627310011a0f6576656e742031206f66206a6f6273")
        static let failingEvent2 = hex("00000019 00000005 03 00 0a046a6f627310021a0f6576656e742032206f66206a6f6273")
        static let failure = hex("00000024 00000005 02 00 0a220809121e", "\"watch \"jobs\" failed on purpose\"")

        /// `WatchRequest { string name = 1; uint32 count = 2; bool fail = 3; }`,
        /// read by hand (short fields only).
        static func parseWatchRequest(_ buffer: ByteBuffer) -> (name: String, count: Int, fail: Bool) {
            var bytes = Array(buffer.readableBytesView)[...]
            var name = "", count = 0, fail = false
            while let key = bytes.popFirst() {
                switch key {
                case 0x0A:
                    let length = Int(bytes.popFirst()!)
                    name = String(decoding: bytes.prefix(length), as: UTF8.self)
                    bytes = bytes.dropFirst(length)
                case 0x10: count = Int(bytes.popFirst()!)
                case 0x18: fail = bytes.popFirst()! != 0
                default: return (name, count, fail)
                }
            }
            return (name, count, fail)
        }

        /// `Event { string name = 1; uint32 seq = 2; string text = 3; }`
        static func event(_ name: String, _ seq: Int) -> ByteBuffer {
            let text = "event \(seq) of \(name)"
            return ByteBuffer(bytes: [0x0A, UInt8(name.utf8.count)] + Array(name.utf8) + [0x10, UInt8(seq), 0x1A, UInt8(text.utf8.count)] + Array(text.utf8))
        }

        /// The demo service: `Ping` answers `{1: t, 3: "pong"}`; `Watch` sends
        /// `count` events, then fails if asked.
        static var router: Router {
            var router = Router()
            router.register(service: service, method: "Ping") { payload, _ in
                var answer = payload
                answer.writeBytes(hex("1a04", "\"pong\""))
                return answer
            }
            router.registerServerStreaming(service: service, method: "Watch") { request, responses, _ in
                let watch = parseWatchRequest(request)
                for seq in 1...max(1, watch.count) { try await responses.write(event(watch.name, seq)) }
                if watch.fail { throw RPCError(code: .failedPrecondition, message: "watch \"\(watch.name)\" failed on purpose") }
            }
            return router
        }

        static func bytes(of frame: Frame) -> [UInt8] {
            rawFrame(streamID: frame.streamID, type: frame.type.rawValue, flags: frame.flags, data: Array(frame.data.readableBytesView))
        }

        @Test("the reference client's frames decode as it meant them")
        func referenceRequestsDecode() throws {
            let processor = NIOSingleStepByteToMessageProcessor(FrameDecoder())
            var frames: [Frame] = []
            try processor.process(buffer: ByteBuffer(bytes: Self.unaryRequest + Self.watchRequest + Self.failingWatchRequest)) { event in
                if case .frame(let frame) = event { frames.append(frame) }
            }
            try #require(frames.count == 3)
            #expect(frames.map(\.streamID) == [1, 3, 5])
            #expect(frames.map(\.type) == [.request, .request, .request])
            #expect(frames.map(\.flags) == [0, Frame.Flags.remoteClosed, Frame.Flags.remoteClosed])
            let ping = try RequestEnvelope(decoding: frames[0].data)
            #expect(ping.service == Self.service && ping.method == "Ping")
            #expect(ping.payload == ByteBuffer(bytes: [0x0A, 0x01, 0x74]))
            #expect(ping.timeoutNanoseconds > 0)
            let watch = try RequestEnvelope(decoding: frames[1].data)
            #expect(watch.method == "Watch" && watch.timeoutNanoseconds == 0 && watch.metadata.isEmpty)
            #expect(Self.parseWatchRequest(watch.payload) == ("jobs", 2, false))
            #expect(Self.parseWatchRequest(try RequestEnvelope(decoding: frames[2].data).payload) == ("jobs", 2, true))
            #expect(MethodKind.serverStreaming.requestFlags == frames[1].flags)
        }

        @Test("the server answers the reference client's frames with the reference server's bytes")
        func serverBytes() async throws {
            try await withServer(router: Self.router) { _, path async throws in
                try await withRawPeer(path) { peer in
                    try await peer.write(Self.unaryRequest)
                    #expect(Self.bytes(of: try await peer.readFrame()) == Self.unaryResponse)
                    try await peer.write(Self.watchRequest)
                    for expected in [Self.event1, Self.event2, Self.watchEnd] {
                        #expect(Self.bytes(of: try await peer.readFrame()) == expected)
                    }
                    try await peer.write(Self.failingWatchRequest)
                    for expected in [Self.failingEvent1, Self.failingEvent2, Self.failure] {
                        #expect(Self.bytes(of: try await peer.readFrame()) == expected)
                    }
                }
            }
        }

        @Test("the client sends the reference client's stream request and reads the reference server's frames as meant")
        func clientBytes() async throws {
            try await withSocketPath { path async throws in
                let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .bind(unixDomainSocketPath: path) { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                            return try NIOAsyncChannel<FrameDecoder.Event, ByteBuffer>(wrappingChannelSynchronously: channel)
                        }
                    }
                try await listener.executeThenClose { connections in
                    let client = TTRPCClient(socketPath: path)
                    do {
                        try await withThrowingTaskGroup(of: Void.self) { group in
                            group.addTask { try await Self.runClient(client) }
                            var accepted = connections.makeAsyncIterator()
                            let connection = try #require(try await accepted.next())
                            try await connection.executeThenClose { inbound, outbound in
                                var frames = inbound.makeAsyncIterator()
                                func next() async throws -> [UInt8] {
                                    guard case .frame(let frame)? = try await frames.next() else { throw HarnessError("no frame") }
                                    return Self.bytes(of: frame)
                                }
                                // The unary call: ours carries no timeout; answered with the reference's bytes.
                                let ping = try await next()
                                #expect(ping[4..<10] == [0, 0, 0, 1, 1, 0])
                                try await outbound.write(ByteBuffer(bytes: Self.unaryResponse))
                                #expect(try await next() == Self.watchRequest)
                                try await outbound.write(ByteBuffer(bytes: Self.event1 + Self.event2 + Self.watchEnd))
                                #expect(try await next() == Self.failingWatchRequest)
                                try await outbound.write(ByteBuffer(bytes: Self.failingEvent1 + Self.failingEvent2 + Self.failure))
                            }
                            try await group.waitForAll()
                        }
                    } catch {
                        await client.close()
                        throw error
                    }
                    await client.close()
                }
            }
        }

        static func runClient(_ client: TTRPCClient) async throws {
            let pong = try await client.call(service: service, method: "Ping", payload: ByteBuffer(bytes: [0x0A, 0x01, 0x74]))
            #expect(pong == ByteBuffer(bytes: hex("0a0174 1a04706f6e67")))
            let watch = try await client.serverStreaming(
                service: service, method: "Watch", request: ByteBuffer(bytes: hex("0a046a6f62731002")), collect)
            #expect(watch.messages == [Array(event("jobs", 1).readableBytesView), Array(event("jobs", 2).readableBytesView)])
            #expect(watch.error == nil)
            let failing = try await client.serverStreaming(
                service: service, method: "Watch", request: ByteBuffer(bytes: hex("0a046a6f627310021801")), collect)
            #expect(failing.messages.count == 2)
            #expect(failing.error == RPCError(code: .failedPrecondition, message: "watch \"jobs\" failed on purpose"))
        }
    }
}
