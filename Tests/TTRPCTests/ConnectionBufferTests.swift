import NIOCore
@testable import TTRPC
import Testing

/// The budget a connection's streams share for the messages waiting for
/// their consumers (`maximumBufferedBytesPerConnection`): a message past it
/// fails the stream it came for with RESOURCE_EXHAUSTED, the other streams go
/// on, and what a stream held is given back when its messages are taken or
/// dropped. Small budgets, so that a few small messages reach them; no clock.
@Suite("Connection buffer budget", .timeLimit(.minutes(1)))
struct ConnectionBufferTests {
    static let budget = 64 << 10
    static let message40KiB = [UInt8](repeating: 0x34, count: 40 << 10)
    static let message60KiB = [UInt8](repeating: 0x36, count: 60 << 10)

    /// `.streams` plus `Hold` (client streaming): waits for the gate its
    /// request's metadata names (`gate`: an index into `gates`), then reads the
    /// messages to the end and answers how many there were.
    static func router(gates: [Gate]) -> Router {
        var router = Router.streams
        router.registerClientStreaming(service: StreamService.name, method: "Hold") { requests, context in
            let index = context.metadata["gate"].first.flatMap { Int($0) } ?? 0
            try await gates[index].wait()
            var count: UInt32 = 0
            for try await _ in requests { count += 1 }
            return ByteBuffer(bytes: bytes(of: count))
        }
        return router
    }

    /// Opens `Hold` on `streamID`, parked on gate `gate`.
    static func openHold(_ peer: RawPeer, streamID: UInt32, gate: Int) async throws {
        try await peer.write(rawFrame(
            streamID: streamID, type: 1, flags: Frame.Flags.remoteOpen,
            data: requestEnvelope(service: StreamService.name, method: "Hold", metadata: ["gate": "\(gate)"])))
    }

    /// Closes the client's side of `streamID` and reads the `Hold` answer.
    static func closeAndReadCount(_ peer: RawPeer, streamID: UInt32, sourceLocation: SourceLocation = #_sourceLocation) async throws -> UInt32? {
        try await peer.write(dataFrame(streamID: streamID, flags: Frame.Flags.remoteClosed | Frame.Flags.noData, []))
        let frame = try await peer.readFrame()
        #expect(frame.streamID == streamID, sourceLocation: sourceLocation)
        #expect(frame.type == .response, sourceLocation: sourceLocation)
        return try ResponseEnvelope(decoding: frame.data).result.map { uint32(from: $0) }.get()
    }

    @Test("server: a message past the connection's budget fails its stream alone; the budget is given back as messages are taken")
    func serverStreamPastTheBudget() async throws {
        let gates = [Gate(), Gate(), Gate()]
        defer { for gate in gates { gate.open() } }
        try await withServer(router: Self.router(gates: gates), configure: { $0.maximumBufferedBytesPerConnection = Self.budget }) {
            _, path async throws in
            try await withRawPeer(path) { peer in
                // 40 KiB wait on stream 1: within both its own bound (1 MiB) and the connection's (64 KiB).
                try await Self.openHold(peer, streamID: 1, gate: 0)
                try await peer.write(dataFrame(streamID: 1, Self.message40KiB))
                // 40 KiB more on stream 3 would pass the connection's: stream 3 fails, however empty its own buffer.
                try await Self.openHold(peer, streamID: 3, gate: 1)
                try await peer.write(dataFrame(streamID: 3, Self.message40KiB))
                let error = try await peer.readStatus(streamID: 3)
                #expect(error?.code == .resourceExhausted)
                #expect(error?.message.hasPrefix("connection buffer full") == true, "\(String(describing: error))")
                // The connection and stream 1 go on.
                try await peer.expectEcho(streamID: 5)
                gates[0].open()
                #expect(try await Self.closeAndReadCount(peer, streamID: 1) == 1)

                // Stream 1's handler took its 40 KiB: 60 KiB now fit (they would not beside those 40).
                try await Self.openHold(peer, streamID: 7, gate: 2)
                try await peer.write(dataFrame(streamID: 7, Self.message60KiB))
                // Answered after the data frame before it reached its stream (the connection's task takes them in order).
                try await peer.expectEcho(streamID: 9)
                gates[2].open()
                #expect(try await Self.closeAndReadCount(peer, streamID: 7) == 1)
            }
        }
    }

    @Test("server: a streaming request whose input does not fit the connection's budget is refused; the connection goes on")
    func serverRequestPastTheBudget() async throws {
        let gates = [Gate()]
        defer { gates[0].open() }
        try await withServer(router: Self.router(gates: gates), configure: { $0.maximumBufferedBytesPerConnection = Self.budget }) {
            _, path async throws in
            try await withRawPeer(path) { peer in
                try await Self.openHold(peer, streamID: 1, gate: 0)
                try await peer.write(dataFrame(streamID: 1, Self.message40KiB))
                // A server-streaming request's input waits in its stream's buffer until the handler takes it.
                try await peer.write(streamRequestFrame(
                    streamID: 3, method: "Count", flags: Frame.Flags.remoteClosed,
                    payload: Array(StreamService.countRequest(1).readableBytesView) + [UInt8](repeating: 0, count: 30 << 10)))
                let error = try await peer.readStatus(streamID: 3)
                #expect(error?.code == .resourceExhausted)
                #expect(error?.message.hasPrefix("connection buffer full") == true, "\(String(describing: error))")
                try await peer.expectEcho(streamID: 5)
                gates[0].open()
                #expect(try await Self.closeAndReadCount(peer, streamID: 1) == 1)
            }
        }
    }

    @Test("client: a stream the application does not read fails at the connection's budget, which it then gives back")
    func clientStreamPastTheBudget() async throws {
        let (gate, sent) = (Gate(), Gate())
        defer { gate.open() }
        var router = Router.streams
        // Sends `count` messages of `size` bytes, opens `sent`, then waits for the gate.
        router.registerServerStreaming(service: StreamService.name, method: "Send") { request, responses, _ in
            let count = Int(uint32(from: request))
            let size = Int(request.getInteger(at: request.readerIndex + 4, as: UInt32.self) ?? 0)
            for _ in 0..<count { try await responses.write(ByteBuffer(repeating: 0x53, count: size)) }
            sent.open()
            try await gate.wait()
        }
        // Answers once `Send` has sent its messages: after them on the connection.
        router.register(service: StreamService.name, method: "AfterSend") { payload, _ in
            try await sent.wait()
            return payload
        }
        try await withServer(router: router) { _, path async throws in
            let client = TTRPCClient(socketPath: path, maximumBufferedBytesPerConnection: Self.budget)
            do {
                // Two messages of 40 KiB: within the stream's bound (1 MiB), past the connection's.
                let unread = try await client.serverStreaming(
                    service: StreamService.name, method: "Send", request: ByteBuffer(bytes: bytes(of: 2) + bytes(of: 40 << 10))
                ) { stream in
                    // Read only once both messages have reached the client.
                    _ = try await client.call(service: StreamService.name, method: "AfterSend", payload: ByteBuffer())
                    return await collect(stream)
                }
                #expect(unread.messages.isEmpty, "the failed stream's buffered message is dropped")
                #expect(unread.error?.code == .resourceExhausted)
                #expect(unread.error?.message.hasPrefix("connection buffer full") == true, "\(String(describing: unread.error))")
                // The failed stream gave back what it held.
                #expect(client.bufferedStreamBytes.used == 0)
                // The connection goes on (100 messages: within the budget even if none were read as they came).
                let received = try await client.serverStreaming(
                    service: StreamService.name, method: "Count", request: StreamService.countRequest(100)
                ) { stream in await collect(stream) }
                #expect(received.messages.count == 100)
                #expect(received.error == nil)
                #expect(try await client.callTest("Echo", [1]) == [1])
                #expect(client.bufferedStreamBytes.used == 0)
            } catch {
                await client.close()
                throw error
            }
            await client.close()
        }
    }

    @Test("inbox: what a stream holds is counted in the connection's budget and given back whichever way it ends")
    func inboxAccounting() async throws {
        let budget = UsageLimit(limit: 1000)
        let cost = 100 + StreamInbox.overheadPerMessage
        let drained = StreamInbox(maximumBytes: 1 << 20, connectionBudget: budget)
        #expect(drained.offer(ByteBuffer(repeating: 1, count: 100)) == .accepted)
        #expect(drained.offer(ByteBuffer(repeating: 2, count: 100)) == .accepted)
        #expect(budget.used == 2 * cost)
        drained.finish(.success(()))
        #expect(try await drained.next() != nil)
        #expect(budget.used == cost)
        #expect(try await drained.next() != nil)
        #expect(try await drained.next() == nil)
        #expect(budget.used == 0)

        let failed = StreamInbox(maximumBytes: 1 << 20, connectionBudget: budget)
        for _ in 0..<6 { #expect(failed.offer(ByteBuffer(repeating: 3, count: 100)) == .accepted) }
        // The seventh would pass the budget, even into another, empty, inbox.
        #expect(failed.offer(ByteBuffer(repeating: 3, count: 100)) == .connectionFull)
        let other = StreamInbox(maximumBytes: 1 << 20, connectionBudget: budget)
        #expect(other.offer(ByteBuffer(repeating: 4, count: 200)) == .connectionFull)
        failed.fail(RPCError(code: .cancelled, message: "gone"))
        #expect(budget.used == 0)
        #expect(other.offer(ByteBuffer(repeating: 4, count: 200)) == .accepted)

        // Dropped without being drained or failed.
        do {
            let dropped = StreamInbox(maximumBytes: 1 << 20, connectionBudget: budget)
            #expect(dropped.offer(ByteBuffer(repeating: 5, count: 100)) == .accepted)
        }
        #expect(budget.used == 200 + StreamInbox.overheadPerMessage)
        other.finish(.failure(RPCError(code: .aborted, message: "ended")))
        #expect(budget.used == 200 + StreamInbox.overheadPerMessage, "delivered before the end")
        #expect(try await other.next()?.readableBytes == 200)
        #expect(budget.used == 0)
    }
}
