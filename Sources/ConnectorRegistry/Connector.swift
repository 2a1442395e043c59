/// A registered connector as the registry keeps it. The secret is not part of
/// it: only whether one is stored.
public struct Connector: Sendable, Hashable {
    /// Assigned by the registry; never reused.
    public var id: Int64
    public var name: String
    public var description: String
    /// The connector.json URL it was activated from; empty until activation.
    public var url: String
    public var mode: ConnectorMode
    /// The schema's version; `0.0.0` until activation.
    public var version: String
    /// The schema's `tools` array, as JSON text.
    public var toolsJSON: String
    /// The schema's `templates` array, as JSON text.
    public var templatesJSON: String
    /// The schema's `config` object, as JSON text.
    public var serverConfigJSON: String
    public var toolsCount: Int
    public var templatesCount: Int
    public var logoURL: String
    public var hasLogo: Bool
    public var hasSecret: Bool
    public var createdAt: Timestamp
    public var updatedAt: Timestamp
    /// The registry-wide revision of the connector's last change: strictly
    /// increasing across all connectors, durable, never reused.
    public var revision: UInt64

    /// Whether the connector has ever been activated (it has a schema URL).
    public var isActivated: Bool { !url.isEmpty }
}
