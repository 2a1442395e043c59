/// What a change did to a connector, as its history record and Watch tell it.
public enum ChangeKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// Register, or the deprecated Create (the connector then is active).
    case registered
    case activated
    case modeChanged = "mode_changed"
    /// Another change to a connector's fields (re-sync, approvals: later).
    case updated
    case deleted
}
