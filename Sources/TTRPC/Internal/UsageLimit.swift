import Synchronization

/// A count of something in use (connections, bytes) against a limit, that one
/// task at a time can wait on until the count is below the limit, or that
/// refuses what would pass the limit (`reserve`).
final class UsageLimit: Sendable {
    private struct State {
        var used = 0
        var closed = false
        /// The task waiting for room; there is at most one.
        var waiter: CheckedContinuation<Void, any Error>?
    }

    let limit: Int
    private let state = Mutex(State())

    init(limit: Int) {
        self.limit = limit
    }

    /// Returns once less than `limit` is in use, or at once after `close()`.
    /// - Throws: `CancellationError` if the task is cancelled while waiting.
    func waitForRoom() async throws {
        // Without a suspension when there is room: it would requeue the task.
        if state.withLock({ $0.used < limit || $0.closed }) { return }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let now: Result<Void, any Error>? = state.withLock { state in
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if state.used < limit || state.closed { return .success(()) }
                    precondition(state.waiter == nil, "one waiter at a time")
                    state.waiter = continuation
                    return nil
                }
                if let now { continuation.resume(with: now) }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    func add(_ count: Int) {
        state.withLock { $0.used += count }
    }

    /// Adds `count` if the total stays within `limit`.
    /// - Returns: whether it was added (give it back with `remove`).
    func reserve(_ count: Int) -> Bool {
        state.withLock { state in
            guard state.used + count <= limit else { return false }
            state.used += count
            return true
        }
    }

    /// What is in use now.
    var used: Int { state.withLock { $0.used } }

    /// Gives back `count`, letting the waiter go once there is room.
    func remove(_ count: Int) {
        let waiter = state.withLock { state in
            state.used -= count
            guard state.used < limit, let waiter = state.waiter else { return CheckedContinuation<Void, any Error>?.none }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Stops any waiting, now and later: what is counted will never be given
    /// back (the connection it counted for has closed).
    func close() {
        let waiter = state.withLock { state in
            state.closed = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }
}
