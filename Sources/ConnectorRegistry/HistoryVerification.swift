/// What walking the history's hash chain found.
public struct HistoryVerification: Sendable, Hashable {
    /// Records checked (up to the first bad one).
    public var records: UInt64
    /// The first revision whose record is missing or does not match; nil when all match.
    public var firstBadRevision: UInt64?
    /// "ok", or what is wrong, for people.
    public var message: String
    /// The oldest revision kept and the latest.
    public var oldestRevision: UInt64
    public var latestRevision: UInt64

    public var isOK: Bool { firstBadRevision == nil }
}
