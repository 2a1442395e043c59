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
    /// returns the entries cached (at revision `generation`), or nil if none was.
    func fill(_ connectors: [Connector], readAt generation: UInt64) -> [CachedConnector]? {
        state.withLock { state in
            guard state.generation == generation else { return nil }
            return connectors.map { connector in
                let entry = CachedConnector(connector: connector, revision: generation)
                Self.insert(entry, into: &state, capacity: capacity)
                return entry
            }
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
        let id = entry.id
        if state.entries[id] == nil, state.entries.count >= capacity {
            state.entries.remove(at: state.entries.startIndex)
        }
        state.entries[id] = entry
    }
}
