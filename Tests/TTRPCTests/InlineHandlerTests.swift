import Glibc
import NIOCore
import TestSupport
import Testing

import TTRPC

/// Inline handlers answer on the event loop when they can and defer to the
/// task-run handler when they return nil.
@Suite("Inline handlers")
struct InlineHandlerTests {
    /// Counts which handler answered each call: payload [1] is answered inline,
    /// anything else defers.
    private static func router(inlineCalls: Locked<Int>, taskCalls: Locked<Int>) -> Router {
        var router = Router()
        router.register(
            service: TestService.name, method: "Maybe",
            inline: { payload, context in
                guard Array(payload.readableBytesView) == [1] else { return nil }
                inlineCalls.withLock { $0 += 1 }
                return .success(ByteBuffer(bytes: [0x11, UInt8(truncatingIfNeeded: context.peer.uid)]))
            },
            handler: { payload, _ in
                taskCalls.withLock { $0 += 1 }
                return ByteBuffer(bytes: [0x22] + Array(payload.readableBytesView))
            })
        router.register(
            service: TestService.name, method: "Refuse",
            inline: { _, _ in .failure(RPCError(code: .notFound, message: "inline says no")) },
            handler: { _, _ in Issue.record("the task handler ran"); return ByteBuffer() })
        return router
    }

    @Test("an inline answer is used; nil falls through to the task handler")
    func inlineOrTask() async throws {
        let inlineCalls = Locked(0), taskCalls = Locked(0)
        try await withServerAndClient(router: Self.router(inlineCalls: inlineCalls, taskCalls: taskCalls)) { client, _ async throws in
            #expect(try await client.callTest("Maybe", [1]) == [0x11, UInt8(truncatingIfNeeded: getuid())])
            #expect(try await client.callTest("Maybe", [2]) == [0x22, 2])
            #expect(inlineCalls.value == 1)
            #expect(taskCalls.value == 1)
            let error = await rpcError { _ = try await client.callTest("Refuse") }
            #expect(error == RPCError(code: .notFound, message: "inline says no"))
        }
    }

    @Test("many inline and task calls in flight on one connection all get their own answers")
    func mixedConcurrentCalls() async throws {
        let inlineCalls = Locked(0), taskCalls = Locked(0)
        try await withServerAndClient(router: Self.router(inlineCalls: inlineCalls, taskCalls: taskCalls)) { client, _ async throws in
            try await withThrowingTaskGroup(of: (UInt8, [UInt8]).self) { group in
                for index in 0..<200 {
                    let payload: UInt8 = index % 2 == 0 ? 1 : UInt8(2 + index % 50)
                    group.addTask { (payload, try await client.callTest("Maybe", [payload])) }
                }
                for try await (payload, answer) in group {
                    if payload == 1 {
                        #expect(answer.first == 0x11)
                    } else {
                        #expect(answer == [0x22, payload])
                    }
                }
            }
            #expect(inlineCalls.value == 100)
            #expect(taskCalls.value == 100)
        }
    }
}
