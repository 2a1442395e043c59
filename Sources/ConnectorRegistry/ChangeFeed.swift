import Synchronization

/// The committed changes as they happen, for watchers: published in revision
/// order by whoever commits them, never waiting for a subscriber.
///
/// Each subscriber has a bounded buffer; one that falls further behind gets
/// what is buffered, then `FellBehind` (the history is durable: it resumes
/// from the last revision it delivered).
final class ChangeFeed: Sendable {
    /// A subscriber's buffer overflowed.
    struct FellBehind: Error {}

    typealias Records = AsyncThrowingStream<HistoryRecord, any Error>

    /// One subscriber's records, from just after `revision`.
    struct Subscription: Sendable {
        /// The last revision published when it began: its records are above it.
        let revision: UInt64
        let records: Records
        fileprivate let id: Int
    }

    private struct State {
        /// The last revision published.
        var revision: UInt64
        var nextID = 0
        var subscribers: [Int: Records.Continuation] = [:]
    }

    private let state: Mutex<State>

    /// - Parameter revision: the store's revision when the feed starts.
    init(revision: UInt64) {
        state = Mutex(State(revision: revision))
    }

    /// The last revision published.
    var revision: UInt64 { state.withLock { $0.revision } }

    /// How many subscribers are attached (for tests).
    var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    /// The records published from now on, each above the subscription's
    /// revision (the last published), buffered up to `capacity`, until
    /// `unsubscribe` (or the iteration is cancelled).
    func subscribe(capacity: Int) -> Subscription {
        let (records, continuation) = Records.makeStream(bufferingPolicy: .bufferingOldest(capacity))
        let (id, revision) = state.withLock { state in
            defer { state.nextID += 1 }
            state.subscribers[state.nextID] = continuation
            return (state.nextID, state.revision)
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return Subscription(revision: revision, records: records, id: id)
    }

    /// Ends a subscription and frees what it buffered.
    func unsubscribe(_ subscription: Subscription) {
        let continuation = state.withLock { $0.subscribers.removeValue(forKey: subscription.id) }
        continuation?.finish()
    }

    /// Hands `record` to every subscriber; one whose buffer is full is ended.
    func publish(_ record: HistoryRecord) {
        let overflowed: [Records.Continuation] = state.withLock { state in
            state.revision = max(state.revision, record.revision)
            var overflowed: [Records.Continuation] = []
            for (id, subscriber) in state.subscribers {
                if case .dropped = subscriber.yield(record) {
                    state.subscribers.removeValue(forKey: id)
                    overflowed.append(subscriber)
                }
            }
            return overflowed
        }
        for subscriber in overflowed { subscriber.finish(throwing: FellBehind()) }
    }
}
