import NIOCore
import Synchronization

/// A wait for a call's deadline on an event loop's timer.
///
/// `Task.sleep` keeps a cancelled sleep's timer and task allocated until the
/// deadline passes (swiftlang/swift#60441). Calls are nearly always answered
/// long before their deadline, so with `Task.sleep` every call left about
/// 450 bytes behind for its whole timeout: 18,000 Registers a second with
/// Go ttrpc's usual 30 s timeout held 240 MB. An event loop's scheduled
/// callback is removed as soon as it is cancelled.
final class DeadlineTimer: NIOScheduledCallbackHandler, Sendable {
    private struct State {
        var waiter: CheckedContinuation<Void, Never>?
        var scheduled: NIOScheduledCallback?
        var cancelled = false
    }

    private let state = Mutex(State())

    private init() {}

    /// Returns at `deadline`, or as soon as the task is cancelled; the timer
    /// is released either way.
    static func wait(until deadline: ContinuousClock.Instant, on eventLoop: any EventLoop) async {
        await DeadlineTimer().wait(until: deadline, on: eventLoop)
    }

    private func wait(until deadline: ContinuousClock.Instant, on eventLoop: any EventLoop) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
                let cancelled = state.withLock { state in
                    if !state.cancelled { state.waiter = waiter }
                    return state.cancelled
                }
                if cancelled { return waiter.resume() }
                let delay = TimeAmount(max(.zero, ContinuousClock.now.duration(to: deadline)))
                guard let scheduled = try? eventLoop.scheduleCallback(in: delay, handler: self) else {
                    // The loop is shutting down: nothing will time the call out; let it run.
                    return
                }
                let cancelledMeanwhile = state.withLock { state in
                    if !state.cancelled { state.scheduled = scheduled }
                    return state.cancelled
                }
                if cancelledMeanwhile { scheduled.cancel() }
            }
        } onCancel: {
            let (waiter, scheduled) = state.withLock { state in
                state.cancelled = true
                return (state.waiter.take(), state.scheduled.take())
            }
            scheduled?.cancel()
            waiter?.resume()
        }
    }

    func handleScheduledCallback(eventLoop: some EventLoop) {
        state.withLock { $0.waiter.take() }?.resume()
    }
}
