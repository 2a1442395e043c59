/// The life cycle of a connector: registered (`deactive`), activated (`active`),
/// or switched by an administrator to `sync` or back to `deactive`.
public enum ConnectorMode: String, Sendable, Hashable, Codable, CaseIterable {
    /// Synchronous operations.
    case sync
    /// Fully active and operational.
    case active
    /// Registered but not activated, or switched off.
    case deactive
}
