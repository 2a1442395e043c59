import Synchronization

/// What Get and List answer from: the connectors in memory, kept in step with
/// the store by the committed changes, applied in revision order.
///
/// - The store applies each batch's changes here after the commit and before
///   any of its writers is answered: a read that starts after an
///   acknowledged change sees it (or a later one).
/// - A connector is never replaced by an older revision of itself, and a
///   deleted one never comes back.
/// - A reader that missed fills the model with what it read only if nothing
///   was applied since its snapshot: an evicted entry could otherwise be put
///   back older than a change already applied.
final class ReadModel: Sendable {
    private struct State {
        /// The last revision applied.
        var revision: UInt64
        var connectors: [Int64: CachedConnector] = [:]
    }

    private let state: Mutex<State>
    private let capacity: Int

    /// - Parameter revision: the store's revision when the model is created (empty).
    init(revision: UInt64, capacity: Int) {
        state = Mutex(State(revision: revision))
        self.capacity = capacity
    }

    /// The last revision applied.
    var revision: UInt64 { state.withLock { $0.revision } }

    func connector(id: Int64) -> CachedConnector? {
        state.withLock { $0.connectors[id] }
    }

    /// The connector of each id, nil where it is not in memory, under one lock.
    func connectors(ids: [Int64]) -> [CachedConnector?] {
        state.withLock { state in ids.map { state.connectors[$0] } }
    }

    /// Applies committed changes, in revision order.
    func apply(_ changes: some Sequence<ConnectorChange>) {
        state.withLock { state in
            for change in changes {
                switch change {
                case .stored(let connector):
                    if let held = state.connectors[connector.id], held.revision >= connector.revision { continue }
                    Self.insert(CachedConnector(connector), into: &state, capacity: capacity)
                case .deleted(let id, _):
                    state.connectors.removeValue(forKey: id)
                }
                state.revision = max(state.revision, change.revision)
            }
        }
    }

    /// Keeps connectors a reader read from a snapshot at revision `snapshot`,
    /// unless a change newer than it has been applied since; returns them as
    /// held, or nil if they were not kept.
    @discardableResult
    func fill(_ connectors: [Connector], readAt snapshot: UInt64) -> [CachedConnector]? {
        state.withLock { state in
            guard snapshot >= state.revision else { return nil }
            return connectors.map { connector in
                if let held = state.connectors[connector.id], held.revision >= connector.revision { return held }
                let entry = CachedConnector(connector)
                Self.insert(entry, into: &state, capacity: capacity)
                return entry
            }
        }
    }

    private static func insert(_ entry: CachedConnector, into state: inout State, capacity: Int) {
        let id = entry.id
        if state.connectors[id] == nil, state.connectors.count >= capacity {
            state.connectors.remove(at: state.connectors.startIndex)
        }
        state.connectors[id] = entry
    }
}
