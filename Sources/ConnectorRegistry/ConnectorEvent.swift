/// One event of a watch: a committed change, or (for a watch that asked for
/// the initial state) a connector as it is and the bookmark that follows them.
public struct ConnectorEvent: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// A connector as it is at the bookmark that follows.
        case snapshot
        /// The revision the snapshot events before it reflect.
        case bookmark
        case change(ChangeKind)
    }

    public var revision: UInt64
    public var kind: Kind
    /// 0 for a bookmark.
    public var connectorID: Int64
    /// The connector after the change (for a deletion, as it was deleted); nil for a bookmark.
    public var connector: Connector?

    public init(revision: UInt64, kind: Kind, connectorID: Int64, connector: Connector?) {
        self.revision = revision
        self.kind = kind
        self.connectorID = connectorID
        self.connector = connector
    }

    /// The event of a committed change.
    init(_ record: HistoryRecord) {
        self.init(revision: record.revision, kind: .change(record.kind), connectorID: record.connectorID, connector: record.connector)
    }
}

/// Which changes a watch delivers.
public struct WatchFilter: Sendable, Hashable {
    /// Changes of connectors in this mode before or after the change; nil: all.
    public var mode: ConnectorMode?
    /// Changes of this connector only; nil: all.
    public var connectorID: Int64?

    public init(mode: ConnectorMode? = nil, connectorID: Int64? = nil) {
        self.mode = mode
        self.connectorID = connectorID
    }

    func matches(_ record: HistoryRecord) -> Bool {
        if let connectorID, record.connectorID != connectorID { return false }
        if let mode, record.connector.mode != mode, record.previousMode != mode { return false }
        return true
    }
}
