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

extension ConnectorMode {
    /// The mode as the `mode` column holds it.
    /// - Throws: INTERNAL for a value that is not a mode.
    init(stored text: String) throws {
        guard let mode = ConnectorMode(rawValue: text) else {
            throw ConnectorRegistryError(.internal, "stored connector has an unknown mode '\(text)'")
        }
        self = mode
    }
}
