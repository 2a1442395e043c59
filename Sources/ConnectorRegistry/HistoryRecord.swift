/// One committed change, as the history keeps it: written in the transaction
/// of the change, chained to the record before it by `hash`.
public struct HistoryRecord: Sendable, Hashable {
    /// The change's registry-wide revision.
    public var revision: UInt64
    public var recordedAt: Timestamp
    /// The method that made it: `Register`, `Activate`, `SetMode`, `Delete`, `Create`.
    public var method: String
    public var kind: ChangeKind
    public var connectorID: Int64
    public var connectorName: String
    public var caller: Caller
    /// The request id the change was asked with, if any.
    public var requestID: String?
    /// What the caller was told.
    public var message: String
    /// The connector after the change; for a deletion, as it was deleted.
    public var connector: Connector
    /// The connector's mode before the change; nil for a registration.
    public var previousMode: ConnectorMode?
    /// SHA-256 over the previous record's hash and this record's canonical bytes.
    public var hash: [UInt8]
}
