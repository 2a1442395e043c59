/// A connector held in memory, with its revision: the same id and revision
/// always mean the same value, so whatever is derived from it (an encoded
/// answer) can be kept and reused while the revision holds.
///
/// The connector is held by reference: passing a cached connector around (a
/// page of a thousand of them) copies one reference, not each of its strings.
public struct CachedConnector: Sendable {
    private final class Storage: Sendable {
        let connector: Connector

        init(_ connector: Connector) { self.connector = connector }
    }

    private let storage: Storage

    public var connector: Connector { storage.connector }
    /// The connector's id, without copying the connector.
    public var id: Int64 { storage.connector.id }
    /// The connector's mode, without copying the connector.
    public var mode: ConnectorMode { storage.connector.mode }
    /// The revision of the connector's last change, without copying the connector.
    public var revision: UInt64 { storage.connector.revision }

    init(_ connector: Connector) {
        storage = Storage(connector)
    }
}
