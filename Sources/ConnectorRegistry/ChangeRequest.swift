/// How a change is asked for: by whom, with which retry id, and on which
/// revision of the connector it counts.
public struct ChangeRequest: Sendable, Hashable {
    /// Recorded in the history record.
    public var caller: Caller
    /// A client-chosen id (at most 128 characters): a repeat by the same uid
    /// within 24 hours answers what the first answered, without doing it again.
    public var requestID: String?
    /// The change is made only if the connector is at exactly this revision
    /// (compare-and-swap); nil: no check.
    public var expectedRevision: UInt64?

    public init(caller: Caller = .thisProcess, requestID: String? = nil, expectedRevision: UInt64? = nil) {
        self.caller = caller
        self.requestID = requestID.flatMap { $0.isEmpty ? nil : $0 }
        self.expectedRevision = expectedRevision.flatMap { $0 == 0 ? nil : $0 }
    }

    /// How long a request id is remembered.
    public static let requestIDLifetime: Duration = .seconds(24 * 3600)
}
