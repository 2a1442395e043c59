import Synchronization

/// What Get and List answer from: the connectors in memory, kept in step with
/// the store by the committed changes, applied in revision order.
///
/// - The store applies each batch's changes here after the commit and before
///   any of its writers is answered: a read that starts after an
///   acknowledged change sees it (or a later one).
/// - A connector is never replaced by an older revision of itself, and a
///   deleted one never comes back.
/// - The ids of every connector, by mode, are always held (a few bytes each);
///   the connectors themselves up to a capacity, the longest held evicted
///   first (so a page just read stays whole). A page whose connectors are all
///   held is answered from memory alone.
/// - A reader that missed fills the model with what it read only if nothing
///   was applied since its snapshot: an evicted entry could otherwise be put
///   back older than a change already applied.
final class ReadModel: Sendable {
    private struct Held {
        var connector: CachedConnector
        /// When it was put in: `insertions` holds the same.
        var sequence: UInt64
    }

    private struct State {
        /// The last revision applied.
        var revision: UInt64
        /// Every connector's id, by its mode.
        var ids: [ConnectorMode: SortedIDs]
        /// Up to `capacity` connectors.
        var connectors: [Int64: Held] = [:]
        /// What was put in, in order, from `oldest` on; an entry whose
        /// sequence no longer matches its connector's was replaced or removed.
        var insertions: [(id: Int64, sequence: UInt64)] = []
        var oldest = 0
        var nextSequence: UInt64 = 0
    }

    private let state: Mutex<State>
    private let capacity: Int

    /// - Parameters:
    ///   - revision: the store's revision when the model is created.
    ///   - index: the id and mode of every connector at that revision.
    init(revision: UInt64, index: some Sequence<(id: Int64, mode: ConnectorMode)>, capacity: Int) {
        var ids = Dictionary(uniqueKeysWithValues: ConnectorMode.allCases.map { ($0, SortedIDs()) })
        for (id, mode) in index { ids[mode, default: SortedIDs()].insert(id) }
        state = Mutex(State(revision: revision, ids: ids))
        self.capacity = capacity
    }

    /// The last revision applied.
    var revision: UInt64 { state.withLock { $0.revision } }

    /// How many connectors are held (for tests).
    var heldCount: Int { state.withLock { $0.connectors.count } }

    /// How many insertions are remembered, live or not (for tests).
    var insertionCount: Int { state.withLock { $0.insertions.count - $0.oldest } }

    func connector(id: Int64) -> CachedConnector? {
        state.withLock { $0.connectors[id]?.connector }
    }

    /// The connector of each id, nil where it is not in memory, and the
    /// revision they reflect, under one lock.
    func connectors(ids: [Int64]) -> (connectors: [CachedConnector?], revision: UInt64) {
        state.withLock { state in (ids.map { state.connectors[$0]?.connector }, state.revision) }
    }

    /// A page by ascending id (of `mode`, if given) at the last revision
    /// applied, or nil if any of its connectors is not in memory.
    func page(afterID: Int64, mode: ConnectorMode?, size: Int) -> (entries: [CachedConnector], hasMore: Bool, revision: UInt64)? {
        state.withLock { state in
            let ids = Self.ids(of: state, mode: mode, afterID: afterID, limit: size + 1)
            var entries: [CachedConnector] = []
            entries.reserveCapacity(min(ids.count, size))
            for id in ids.prefix(size) {
                guard let held = state.connectors[id] else { return nil }
                entries.append(held.connector)
            }
            return (entries, ids.count > size, state.revision)
        }
    }

    /// Up to `limit` ids above `afterID`, ascending: of one mode, or the merge of all.
    private static func ids(of state: State, mode: ConnectorMode?, afterID: Int64, limit: Int) -> [Int64] {
        if let mode { return Array(state.ids[mode]?.ids(after: afterID, limit: limit) ?? []) }
        var ranges = state.ids.values.map { $0.ids(after: afterID, limit: limit) }
        var merged: [Int64] = []
        merged.reserveCapacity(limit)
        while merged.count < limit {
            var smallest: Int? = nil
            for index in ranges.indices where !ranges[index].isEmpty {
                if smallest.map({ ranges[index].first! < ranges[$0].first! }) ?? true { smallest = index }
            }
            guard let smallest else { break }
            merged.append(ranges[smallest].removeFirst())
        }
        return merged
    }

    /// Applies committed changes, in revision order.
    func apply(_ changes: some Sequence<ConnectorChange>) {
        state.withLock { state in
            for change in changes {
                switch change {
                case .stored(let connector):
                    if let held = state.connectors[connector.id], held.connector.revision >= connector.revision { continue }
                    Self.index(connector.id, as: connector.mode, in: &state)
                    Self.insert(CachedConnector(connector), into: &state, capacity: capacity)
                case .deleted(let id, _):
                    Self.index(id, as: nil, in: &state)
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
                if let held = state.connectors[connector.id], held.connector.revision >= connector.revision { return held.connector }
                let entry = CachedConnector(connector)
                Self.insert(entry, into: &state, capacity: capacity)
                return entry
            }
        }
    }

    /// Files `id` under `mode` only (nil: under none).
    private static func index(_ id: Int64, as mode: ConnectorMode?, in state: inout State) {
        for held in ConnectorMode.allCases where held != mode { state.ids[held]?.remove(id) }
        if let mode { state.ids[mode, default: SortedIDs()].insert(id) }
    }

    /// Holds `entry`, evicting the connector held longest when full.
    private static func insert(_ entry: CachedConnector, into state: inout State, capacity: Int) {
        let id = entry.id
        if state.connectors[id] == nil, state.connectors.count >= capacity { evictOldest(&state) }
        let sequence = state.nextSequence
        state.nextSequence += 1
        state.connectors[id] = Held(connector: entry, sequence: sequence)
        state.insertions.append((id, sequence))
        // Entries of replaced or removed connectors pile up: drop them now and then.
        if state.oldest > max(capacity, 64) || state.insertions.count - state.oldest > 2 * max(capacity, 64) {
            let live = state.insertions[state.oldest...].filter { state.connectors[$0.id]?.sequence == $0.sequence }
            state.insertions = live
            state.oldest = 0
        }
    }

    private static func evictOldest(_ state: inout State) {
        while state.oldest < state.insertions.count {
            let (id, sequence) = state.insertions[state.oldest]
            state.oldest += 1
            if state.connectors[id]?.sequence == sequence {
                state.connectors.removeValue(forKey: id)
                return
            }
        }
    }
}
