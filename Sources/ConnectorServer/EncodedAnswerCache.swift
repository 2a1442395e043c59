import ConnectorRegistry
import NIOCore
import Synchronization

/// Encoded answers for cached connectors, reused while the connector's cache
/// revision holds (a changed connector has a new revision).
final class EncodedAnswerCache: Sendable {
    private let entries = Mutex<[Int64: (revision: UInt64, answer: ByteBuffer)]>([:])
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// The answer for `cached`, encoded by `encode` only when not already known.
    func answer(for cached: CachedConnector, encode: (Connector) -> ByteBuffer) -> ByteBuffer {
        let id = cached.id
        if let hit = entries.withLock({ $0[id] }), hit.revision == cached.revision { return hit.answer }
        let answer = encode(cached.connector)
        entries.withLock { entries in
            if entries[id] == nil, entries.count >= capacity { entries.remove(at: entries.startIndex) }
            entries[id] = (cached.revision, answer)
        }
        return answer
    }
}
