import NIOCore
import NIOPosix
import TestSupport
import Testing

@testable import TTRPC

/// The times the transport promises, measured: a deadline answered soon
/// after it passes, a past deadline noticed without waiting, a stalled frame
/// closed after its timeout. In the timing step (`scripts/test.sh`), after the
/// other suites, so that they do not load the machine meanwhile; the upper
/// bounds are generous all the same. Elsewhere tests wait for events only.
@Suite(.timeLimit(.minutes(5)))
struct TransportTimingTests {
    @Test func timeoutNanoIsAnsweredSoonAfterTheDeadline() async throws {
        let record = Locked(SlowRecord())
        try await withServer(router: slowRouter(record)) { _, path async throws in
            let socket = try RawSocket.connect(path)
            let start = ContinuousClock.now
            try await socket.write(requestFrame(streamID: 1, method: "Slow", payload: [1], timeoutNanoseconds: 200_000_000))
            let frame = try await socket.readFrame()
            let elapsed = ContinuousClock.now - start
            #expect(try frame.responseError()?.code == .deadlineExceeded)
            #expect(elapsed >= .milliseconds(150), "answered before the deadline: \(elapsed)")
            #expect(elapsed < .seconds(5), "answered long after the deadline: \(elapsed)")
        }
    }

    @Test func aDeadlineTimerReturnsSoonAfterItsDeadline() async {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let start = ContinuousClock.now
        await DeadlineTimer.wait(until: start + .milliseconds(200), on: loop)
        let waited = ContinuousClock.now - start
        #expect(waited >= .milliseconds(200) && waited < .seconds(5), "waited \(waited)")
    }

    @Test func aPastDeadlineReturnsAtOnce() async {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let start = ContinuousClock.now
        await DeadlineTimer.wait(until: start - .seconds(1), on: loop)
        #expect(ContinuousClock.now - start < .seconds(1))
    }

    @Test func anUnfinishedFrameIsClosedSoonAfterPartialFrameTimeout() async throws {
        try await withServer(router: .echo, configure: { $0.partialFrameTimeout = .milliseconds(300) }) { _, path async throws in
            let stalled = try RawSocket.connect(path)
            try await stalled.write(rawFrame(streamID: 1, length: 100, data: [UInt8](repeating: 1, count: 10)))
            let start = ContinuousClock.now
            #expect(try await stalled.waitForEndOfStream(timeout: .seconds(60)))
            let elapsed = ContinuousClock.now - start
            #expect(elapsed >= .milliseconds(250) && elapsed < .seconds(5), "closed after \(elapsed)")
        }
    }
}
