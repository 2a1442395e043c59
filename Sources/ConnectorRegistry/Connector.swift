/// A registered connector as the registry keeps it. The secret is not part of
/// it: only whether one is stored.
public struct Connector: Sendable, Hashable, Codable {
    /// Assigned by the registry; never reused.
    public var id: Int64 = 0
    public var name = ""
    public var description = ""
    /// The connector.json URL it was activated from; empty until activation.
    public var url = ""
    public var mode = ConnectorMode.deactive
    /// The schema's version; `0.0.0` until activation.
    public var version = "0.0.0"
    /// The schema's `tools` array, as JSON text.
    public var toolsJSON = "[]"
    /// The schema's `templates` array, as JSON text.
    public var templatesJSON = "[]"
    /// The schema's `config` object, as JSON text.
    public var serverConfigJSON = "{}"
    public var toolsCount = 0
    public var templatesCount = 0
    public var logoURL = ""
    public var hasLogo = false
    public var hasSecret = false
    public var createdAt = Timestamp(microseconds: 0)
    public var updatedAt = Timestamp(microseconds: 0)
    /// The registry-wide revision of the connector's last change: strictly
    /// increasing across all connectors, durable, never reused.
    public var revision: UInt64 = 0

    /// Whether the connector has ever been activated (it has a schema URL).
    public var isActivated: Bool { !url.isEmpty }
}
