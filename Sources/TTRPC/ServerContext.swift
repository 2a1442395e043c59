/// What a handler knows about the call it serves.
public struct ServerContext: Sendable {
    /// The fully qualified service name.
    public var service: String
    /// The method name.
    public var method: String
    /// The caller's credentials, from the kernel.
    public var peer: PeerCredentials
    /// The request's metadata.
    public var metadata: Metadata
    /// When the caller stops waiting, if it said (from `timeout_nano`).
    public var deadline: ContinuousClock.Instant?

    public init(service: String, method: String, peer: PeerCredentials, metadata: Metadata = [:], deadline: ContinuousClock.Instant? = nil) {
        self.service = service
        self.method = method
        self.peer = peer
        self.metadata = metadata
        self.deadline = deadline
    }
}
