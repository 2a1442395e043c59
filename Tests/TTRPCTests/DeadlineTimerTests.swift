import NIOCore
import NIOPosix
import Testing

@testable import TTRPC

/// `DeadlineTimer`: returns at the deadline, or when its task is cancelled,
/// whichever comes first. The deadlines not meant to pass are an hour away, so
/// a wait that missed its cancellation would hang past the time limit; how
/// soon a wait returns is measured in `TransportTimingTests`.
@Suite("Deadline timer", .timeLimit(.minutes(5)))
struct DeadlineTimerTests {
    let loop = MultiThreadedEventLoopGroup.singleton.next()

    @Test func returnsAtTheDeadline() async {
        let start = ContinuousClock.now
        await DeadlineTimer.wait(until: start + .milliseconds(200), on: loop)
        let waited = ContinuousClock.now - start
        #expect(waited >= .milliseconds(200), "waited \(waited)")
    }

    @Test func cancellingTheTaskEndsTheWait() async {
        let start = ContinuousClock.now
        let loop = loop
        let waiting = Task { await DeadlineTimer.wait(until: start + .seconds(3600), on: loop) }
        try? await Task.sleep(for: .milliseconds(50))
        waiting.cancel()
        await waiting.value
        #expect(ContinuousClock.now < start + .seconds(3600))
    }

    @Test func aTaskCancelledBeforeWaitingDoesNotWait() async {
        let start = ContinuousClock.now
        let loop = loop
        await withTaskGroup(of: Void.self) { group in
            group.cancelAll()
            group.addTask { await DeadlineTimer.wait(until: start + .seconds(3600), on: loop) }
        }
        #expect(ContinuousClock.now < start + .seconds(3600))
    }

    @Test func manyWaitsCancelledOrNotAllReturn() async {
        // Races between cancellation and scheduling: every wait returns, none twice (a
        // continuation resumed twice would trap), the cancelled ones before their hour.
        let loop = loop
        let returned = await withTaskGroup(of: Int.self) { group in
            for index in 0..<2_000 {
                group.addTask {
                    let deadline = ContinuousClock.now + (index % 3 == 0 ? .milliseconds(index % 7) : .seconds(3600))
                    await DeadlineTimer.wait(until: deadline, on: loop)
                    return 1
                }
            }
            try? await Task.sleep(for: .milliseconds(20))
            group.cancelAll()
            return await group.reduce(0, +)
        }
        #expect(returned == 2_000)
    }
}
