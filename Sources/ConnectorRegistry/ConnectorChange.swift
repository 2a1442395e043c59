/// A committed change to the registry, as the store reports it: the read
/// model (and, later, watchers) take them in revision order.
enum ConnectorChange: Sendable, Hashable {
    /// Registered, activated or changed: the connector after the change, whose
    /// `revision` is the change's.
    case stored(Connector)
    /// Deleted, by the change at `revision`.
    case deleted(id: Int64, revision: UInt64)

    /// The change's revision.
    var revision: UInt64 {
        switch self {
        case .stored(let connector): connector.revision
        case .deleted(_, let revision): revision
        }
    }
}

extension ConnectorChange {
    /// The change a history record tells of.
    init(_ record: HistoryRecord) {
        self = record.kind == .deleted ? .deleted(id: record.connectorID, revision: record.revision) : .stored(record.connector)
    }
}
