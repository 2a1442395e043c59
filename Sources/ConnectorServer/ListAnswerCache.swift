import ConnectorRegistry
import NIOCore
import Synchronization

/// Whole encoded List answers, each for one request (mode, page size, page
/// token) at one registry revision: the same request at the same revision
/// gets the same bytes, without looking up or copying its connectors again.
/// A change gives the registry a new revision, so no write has to tell it.
final class ListAnswerCache: Sendable {
    struct Key: Hashable {
        var mode: ConnectorMode?
        var pageSize: Int
        var pageToken: String
    }

    private struct Entry {
        var revision: UInt64
        var answer: ByteBuffer
    }

    private let entries = Mutex<[Key: Entry]>([:])
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// The answer kept for `key` at `revision`, if any.
    func answer(for key: Key, at revision: UInt64) -> ByteBuffer? {
        entries.withLock { entries in
            guard let entry = entries[key], entry.revision == revision else { return nil }
            return entry.answer
        }
    }

    /// Keeps `answer` for `key` at `revision` (replacing an older one).
    func keep(_ answer: ByteBuffer, for key: Key, at revision: UInt64) {
        entries.withLock { entries in
            if let held = entries[key], held.revision > revision { return }
            if entries[key] == nil, entries.count >= capacity { entries.remove(at: entries.startIndex) }
            entries[key] = Entry(revision: revision, answer: answer)
        }
    }
}
