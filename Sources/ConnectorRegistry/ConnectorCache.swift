import Synchronization

/// Connectors recently read or written, so that reads of them need no
/// database round trip.
///
/// The registry's actor is the only writer: every committed change is stored
/// here before it is acknowledged. A reader that missed fills the cache only if
/// no write happened since it started reading (a generation count), so a slow
/// reader never puts back a value a writer has replaced.
final class ConnectorCache: Sendable {
    private struct State {
        var entries: [Int64: CachedConnector] = [:]
        var generation: UInt64 = 0
    }

    private let state = Mutex(State())
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    func connector(id: Int64) -> CachedConnector? {
        state.withLock { $0.entries[id] }
    }

    /// The cached connector of each id, nil where there is none, under one lock.
    func connectors(ids: [Int64]) -> [CachedConnector?] {
        state.withLock { state in ids.map { state.entries[$0] } }
    }

    /// The current generation; pass it to `fill` after reading the database.
    var generation: UInt64 { state.withLock { $0.generation } }

    /// Caches what a reader found, unless a write happened since `generation`.
    func fill(_ connector: Connector, readAt generation: UInt64) {
        state.withLock { state in
            guard state.generation == generation else { return }
            Self.insert(CachedConnector(connector: connector, revision: generation), into: &state, capacity: capacity)
        }
    }

    /// Caches what a reader found, unless a write happened since `generation`;
    /// returns whether it did (the connectors are then cached at revision
    /// `generation`).
    func fill(_ connectors: [Connector], readAt generation: UInt64) -> Bool {
        state.withLock { state in
            guard state.generation == generation else { return false }
            for connector in connectors {
                Self.insert(CachedConnector(connector: connector, revision: generation), into: &state, capacity: capacity)
            }
            return true
        }
    }

    /// Records a committed write.
    func store(_ connector: Connector) {
        state.withLock { state in
            state.generation &+= 1
            Self.insert(CachedConnector(connector: connector, revision: state.generation), into: &state, capacity: capacity)
        }
    }

    /// Records a committed delete.
    func remove(id: Int64) {
        state.withLock { state in
            state.generation &+= 1
            state.entries.removeValue(forKey: id)
        }
    }

    private static func insert(_ entry: CachedConnector, into state: inout State, capacity: Int) {
        let id = entry.connector.id
        if state.entries[id] == nil, state.entries.count >= capacity {
            state.entries.remove(at: state.entries.startIndex)
        }
        state.entries[id] = entry
    }
}

/// A connector held in memory with the revision it was cached at: the same
/// id and revision always mean the same value, so whatever is derived from it
/// (an encoded answer) can be kept and reused while the revision holds.
public struct CachedConnector: Sendable {
    public let connector: Connector
    public let revision: UInt64
}
