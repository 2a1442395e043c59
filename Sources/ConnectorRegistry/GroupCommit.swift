internal import GRDB
import Synchronization

/// Group commit: writes that arrive while a transaction is being committed are
/// committed together in the next one, so many concurrent writers share one
/// fsync instead of queueing for one each.
///
/// Each write runs in its own savepoint: one that fails (a taken name) is
/// rolled back alone and reports its own error; the others commit. A writer
/// returns only after the transaction holding its write is on disk.
///
/// No task is spawned: the first writer to find no commit running leads. It
/// commits everything queued (its own write first among them), answers the
/// writers of that batch, and hands the lead to the oldest writer still
/// waiting, whose write is in the next batch.
final class GroupCommit: Sendable {
    /// The most writes committed in one transaction.
    static let maximumBatchSize = 1024

    private enum Turn {
        /// Your write is committed (or failed): read its outcome.
        case done
        /// Commit the queue, your write included.
        case lead
    }

    private struct Write {
        /// Runs the write in the transaction; false if it failed (roll its savepoint back).
        let run: @Sendable (Database) -> Bool
        /// Records a failure of the whole transaction.
        let fail: @Sendable (any Error) -> Void
        /// Reports the write, if it succeeded, once its transaction is committed.
        let committed: @Sendable () -> Void
        /// The writer waiting for it; nil for the one leading.
        var waiter: CheckedContinuation<Turn, Never>?
    }

    private struct State {
        var queue: [Write] = []
        var leading = false
    }

    private let database: DatabasePool
    private let state = Mutex(State())

    init(database: DatabasePool) {
        self.database = database
    }

    /// How many writes wait for the next commit (for tests).
    var queuedCount: Int { state.withLock { $0.queue.count } }

    /// Runs `body` in a durable transaction shared with the writes that arrive
    /// meanwhile, and returns its result once that transaction is committed.
    ///
    /// Cancelling the caller does not cancel the write: it is committed (or
    /// fails) with its batch, and the caller is told which.
    /// - Parameter onCommit: called with the result of a write that succeeded,
    ///   after its transaction is committed and before any writer of its batch
    ///   is answered; the writes of a batch in the order they ran.
    /// - Throws: what `body` throws, or the error of the shared transaction.
    func write<T: Sendable>(
        _ body: @escaping @Sendable (Database) throws -> T, onCommit: @escaping @Sendable (T) -> Void = { _ in }
    ) async throws -> T {
        let outcome = Mutex<Result<T, any Error>?>(nil)
        let run: @Sendable (Database) -> Bool = { db in
            let result = Result { try body(db) }
            outcome.withLock { $0 = result }
            if case .success = result { return true }
            return false
        }
        let fail: @Sendable (any Error) -> Void = { error in outcome.withLock { $0 = .failure(error) } }
        let committed: @Sendable () -> Void = {
            if case .success(let value)? = outcome.withLock({ $0 }) { onCommit(value) }
        }

        let turn = await withCheckedContinuation { (waiter: CheckedContinuation<Turn, Never>) in
            let leads = state.withLock { state in
                if state.leading {
                    state.queue.append(Write(run: run, fail: fail, committed: committed, waiter: waiter))
                    return false
                }
                state.leading = true
                state.queue.append(Write(run: run, fail: fail, committed: committed, waiter: nil))
                return true
            }
            if leads { waiter.resume(returning: .lead) }
        }
        if turn == .lead { await commitQueue() }
        return try outcome.withLock { $0! }.get()
    }

    /// Commits the queued writes (the leader's among them), answers their
    /// writers, and passes the lead on or gives it up.
    private func commitQueue() async {
        let batch = state.withLock { state in
            let count = min(state.queue.count, Self.maximumBatchSize)
            defer { state.queue.removeFirst(count) }
            return Array(state.queue.prefix(count))
        }
        // Not `database.write`: GRDB cancels that with the task awaiting it, and
        // this task is one caller's (the leader's). The batch holds other
        // callers' writes: it commits whatever becomes of the leader's caller,
        // and every writer, the leader included, gets the outcome on disk.
        let committed = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Void, any Error>, Never>) in
            database.asyncWrite(
                { db in
                    for write in batch {
                        try db.inSavepoint { write.run(db) ? .commit : .rollback }
                    }
                },
                completion: { _, result in continuation.resume(returning: result) })
        }
        switch committed {
        case .success: for write in batch { write.committed() }
        case .failure(let error): for write in batch { write.fail(error) }
        }
        let next = state.withLock { state in
            guard !state.queue.isEmpty else {
                state.leading = false
                return CheckedContinuation<Turn, Never>?.none
            }
            defer { state.queue[0].waiter = nil }
            return state.queue[0].waiter
        }
        for write in batch { write.waiter?.resume(returning: .done) }
        next?.resume(returning: .lead)
    }
}
