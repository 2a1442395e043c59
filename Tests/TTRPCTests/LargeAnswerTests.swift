import NIOCore
import Testing

#if DEBUG
@testable import TTRPC
#else
import TTRPC
#endif

/// Large answers are written after their frame's header rather than copied
/// into the frame: the bytes on the wire must be the same, and concurrent
/// answers on one connection must not interleave.
@Suite("Large answers", .timeLimit(.minutes(5)))
struct LargeAnswerTests {
    /// `count` bytes that differ from one answer to the next (one value per
    /// answer: cheap to make and compare in a debug build, and an answer
    /// mixed with another would not be all of one value).
    static func bytes(_ count: Int, seed: Int) -> [UInt8] {
        [UInt8](repeating: UInt8(truncatingIfNeeded: seed), count: count)
    }

    static let sizes = [0, 1, (64 << 10) - 1, 64 << 10, 100_000, 1 << 20, 3 << 20]

    /// `Sized` answers with the size and seed in its 8-byte request, from a
    /// task (`Sized`) or inline (`SizedInline`).
    static var router: Router {
        var router = Router()
        let answer: @Sendable (ByteBuffer) -> ByteBuffer = { payload in
            let size = Int(payload.getInteger(at: payload.readerIndex, as: UInt32.self) ?? 0)
            let seed = Int(payload.getInteger(at: payload.readerIndex + 4, as: UInt32.self) ?? 0)
            return ByteBuffer(bytes: bytes(size, seed: seed))
        }
        router.test("Sized") { payload, _ in answer(payload) }
        router.register(service: TestService.name, method: "SizedInline", inline: { payload, _ in .success(answer(payload)) }) {
            payload, _ in answer(payload)
        }
        return router
    }

    static func request(size: Int, seed: Int) -> [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(size))
        buffer.writeInteger(UInt32(seed))
        return Array(buffer.readableBytesView)
    }

    @Test("answers of every size arrive whole, concurrently on one connection, from tasks and inline")
    func concurrentLargeAnswers() async throws {
        try await withServerAndClient(router: Self.router) { client, _ async throws in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, size) in Self.sizes.enumerated() {
                    for method in ["Sized", "SizedInline"] {
                        for repeatIndex in 0..<2 {
                            let seed = index * 10 + repeatIndex + (method == "Sized" ? 0 : 100)
                            group.addTask {
                                let answer = try await client.callTest(method, Self.request(size: size, seed: seed))
                                #expect(answer.count == size, "\(method) \(size)")
                                #expect(answer == Self.bytes(size, seed: seed), "\(method) \(size): the bytes of another answer")
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    @Test("a large answer over the frame limit is RESOURCE_EXHAUSTED, the connection stays usable")
    func largeAnswerOverTheLimit() async throws {
        try await withServerAndClient(router: Self.router, configure: { $0.maximumFrameSize = 100_000 }) { client, _ async throws in
            for method in ["Sized", "SizedInline"] {
                #expect(await rpcError { _ = try await client.callTest(method, Self.request(size: 200_000, seed: 1)) }?.code == .resourceExhausted)
                #expect(try await client.callTest(method, Self.request(size: 90_000, seed: 2)) == Self.bytes(90_000, seed: 2))
            }
        }
    }

    #if DEBUG
    @Test("the parts of a response frame are the frame protobuf-c packs")
    func partsAreThePackedFrame() {
        let allocator = ByteBufferAllocator()
        for size in Self.sizes {
            let payload = ByteBuffer(bytes: Self.bytes(size, seed: size))
            var packed = ByteBuffer()
            packed.writeFrame(streamID: 7, type: .response) { ResponseEnvelope(.success(payload)).encode(into: &$0) }
            let parts = ResponseFrame.encode(streamID: 7, result: .success(payload), allocator: allocator, maximumFrameSize: Frame.maximumDataSize)
            #expect(parts.count == (size >= ResponseFrame.gatheredPayloadSize ? 2 : 1), "\(size)")
            var joined = ByteBuffer()
            for var part in parts { joined.writeBuffer(&part) }
            #expect(joined == packed, "\(size)")
        }
    }
    #endif
}
