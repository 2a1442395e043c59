extension ConnectorRegistry {
    /// Watchers and long polls attached to the change feed now.
    public nonisolated var watcherCount: Int { store.feed.subscriberCount }

    /// Delivers the registry's changes in revision order, with no gap and no
    /// duplicate, until `deliver` throws or the task is cancelled (then it
    /// throws `CancellationError`).
    ///
    /// - `includeInitialState`: first every connector matching `filter` (as
    ///   snapshot events) and a bookmark with the revision they reflect, then
    ///   the changes after it. `startRevision` must then be 0.
    /// - `startRevision` N > 0: every change from revision N on, then live.
    /// - `startRevision` 0: the changes from now on.
    ///
    /// Writers never wait for a watcher: one whose `deliver` falls more than
    /// `bufferCapacity` changes behind is ended with RESOURCE_EXHAUSTED naming
    /// the revision to resume from (nothing is lost: the history is durable).
    /// - Throws: OUT_OF_RANGE for a start revision older than the history kept;
    ///   INVALID_ARGUMENT for a start revision with `includeInitialState`;
    ///   RESOURCE_EXHAUSTED; what `deliver` throws.
    public nonisolated func watch(
        startRevision: UInt64, filter: WatchFilter = WatchFilter(), includeInitialState: Bool = false,
        bufferCapacity: Int = 4096, deliver: (ConnectorEvent) async throws -> Void
    ) async throws {
        // Subscribed first: every change after `live.revision` is in it.
        let live = store.feed.subscribe(capacity: bufferCapacity)
        defer { store.feed.unsubscribe(live) }
        var last: UInt64
        if includeInitialState {
            guard startRevision == 0 else {
                throw ConnectorRegistryError(.invalidArgument, "start_revision must be 0 with include_initial_state")
            }
            let (connectors, revision) = try await storage { try await store.snapshot(mode: filter.mode, id: filter.connectorID) }
            for connector in connectors {
                try await deliver(ConnectorEvent(revision: revision, kind: .snapshot, connectorID: connector.id, connector: connector))
            }
            try await deliver(ConnectorEvent(revision: revision, kind: .bookmark, connectorID: 0, connector: nil))
            last = revision
        } else if startRevision > 0 {
            last = startRevision - 1
            while try await catchUp(after: &last, filter: filter, limit: nil, deliver: deliver) {}
        } else {
            last = live.revision
        }
        do {
            for try await record in live.records where record.revision > last {
                if filter.matches(record) { try await deliver(ConnectorEvent(record)) }
                last = record.revision
            }
            // The feed ends only when the watch is cancelled.
            throw CancellationError()
        } catch is ChangeFeed.FellBehind {
            throw ConnectorRegistryError(
                .resourceExhausted, "Watch fell behind after revision \(last); resume with start_revision \(last + 1)")
        }
    }

    /// Watch as a long poll: up to `maxEvents` changes from `startRevision`
    /// on (0: from the next change), waiting up to `wait` for the first one
    /// when there is none yet.
    /// - Returns: the events, and the start revision of the next call.
    /// - Throws: INVALID_ARGUMENT for more than 1,000 events or a wait over
    ///   60 s; OUT_OF_RANGE for a start revision older than the history kept.
    public nonisolated func listChanges(
        startRevision: UInt64, maxEvents: Int, wait: Duration, filter: WatchFilter = WatchFilter()
    ) async throws -> (events: [ConnectorEvent], nextRevision: UInt64) {
        let limit = maxEvents == 0 ? 100 : maxEvents
        guard (1...1000).contains(limit) else {
            throw ConnectorRegistryError(.invalidArgument, "max_events must be between 1 and 1000, not \(maxEvents)")
        }
        guard wait >= .zero, wait <= .seconds(60) else {
            throw ConnectorRegistryError(.invalidArgument, "wait_ms must be at most 60000")
        }
        let live = wait > .zero ? store.feed.subscribe(capacity: 1) : nil
        defer { live.map(store.feed.unsubscribe) }
        var last = startRevision > 0 ? startRevision - 1 : store.feed.revision
        var events: [ConnectorEvent] = []
        while events.count < limit, try await catchUp(after: &last, filter: filter, limit: limit - events.count, deliver: { events.append($0) }) {}
        if events.isEmpty, let live {
            // Wait for any change after `last` (or the end of the wait), then read it from the history.
            let from = last
            try? await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { for try await record in live.records where record.revision > from { return } }
                group.addTask { try await Task.sleep(for: wait) }
                try await group.next()
                group.cancelAll()
            }
            while events.count < limit, try await catchUp(after: &last, filter: filter, limit: limit - events.count, deliver: { events.append($0) }) {}
        }
        return (events, last + 1)
    }

    /// Delivers the kept history records above `last` that match `filter`
    /// (up to `limit` of them), one page, advancing `last` past every record
    /// read. Returns whether more may follow.
    /// - Throws: OUT_OF_RANGE if records after `last` are no longer kept.
    private nonisolated func catchUp(
        after last: inout UInt64, filter: WatchFilter, limit: Int?, deliver: (ConnectorEvent) async throws -> Void
    ) async throws -> Bool {
        let pageSize = 256
        let after = last
        let (records, oldest) = try await storage {
            try await store.history(after: after, connectorID: filter.connectorID, limit: pageSize)
        }
        if after + 1 < oldest {
            throw ConnectorRegistryError(
                .outOfRange, "Revision \(after + 1) is no longer kept; the oldest revision in the history is \(oldest)")
        }
        var delivered = 0
        for record in records {
            if let limit, delivered == limit { return true }
            if filter.matches(record) {
                try await deliver(ConnectorEvent(record))
                delivered += 1
            }
            last = record.revision
        }
        return records.count == pageSize
    }
}
