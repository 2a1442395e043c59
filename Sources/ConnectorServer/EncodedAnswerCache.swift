import ConnectorRegistry
import NIOCore
import Synchronization

/// Encoded answers for connectors, reused while the connector's revision
/// holds (a changed connector has a new revision; no write has to tell it).
final class EncodedAnswerCache: Sendable {
    private struct Entry {
        var revision: UInt64
        var answer: ByteBuffer
    }

    private let entries = Mutex<[Int64: Entry]>([:])
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// The answer for `cached`, encoded by `encode` only when not already known.
    func answer(for cached: CachedConnector, encode: (Connector) -> ByteBuffer) -> ByteBuffer {
        let id = cached.id
        if let hit = entries.withLock({ $0[id] }), hit.revision == cached.revision { return hit.answer }
        let answer = encode(cached.connector)
        entries.withLock { entries in store(Entry(revision: cached.revision, answer: answer), for: id, in: &entries) }
        return answer
    }

    /// The answers for a page, in its order: reused, or encoded and kept.
    /// Takes the lock once to look up and once to store what was encoded.
    func answers(for page: [CachedConnector], encode: (Connector) -> ByteBuffer) -> [ByteBuffer] {
        var answers: [ByteBuffer] = []
        answers.reserveCapacity(page.count)
        var misses: [Int] = []
        entries.withLock { entries in
            for (index, cached) in page.enumerated() {
                if let hit = entries[cached.id], hit.revision == cached.revision {
                    answers.append(hit.answer)
                } else {
                    answers.append(ByteBuffer())
                    misses.append(index)
                }
            }
        }
        var encoded: [(id: Int64, entry: Entry)] = []
        for index in misses {
            let cached = page[index]
            let answer = encode(cached.connector)
            answers[index] = answer
            encoded.append((cached.id, Entry(revision: cached.revision, answer: answer)))
        }
        if !encoded.isEmpty {
            entries.withLock { entries in
                for (id, entry) in encoded { store(entry, for: id, in: &entries) }
            }
        }
        return answers
    }

    private func store(_ entry: Entry, for id: Int64, in entries: inout [Int64: Entry]) {
        if entries[id] == nil, entries.count >= capacity { entries.remove(at: entries.startIndex) }
        entries[id] = entry
    }
}
