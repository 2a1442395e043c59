extension TTRPCServer {
    /// How a server listens and what it bounds.
    public struct Configuration: Sendable {
        /// Path of the Unix domain socket to create.
        public var socketPath: String
        /// Permission bits of the socket file (default 0660: owner and group).
        public var socketMode: UInt32 = 0o660
        /// Largest frame data accepted; larger frames are discarded and answered
        /// RESOURCE_EXHAUSTED.
        public var maximumFrameSize = Frame.maximumDataSize
        /// Requests handled at once per connection; more wait unread.
        public var maximumConcurrentRequestsPerConnection = 64
        /// Answers buffered for a client that does not read: past this many
        /// bytes the connection starts no new call until the client reads
        /// (the calls already running finish and their answers wait too).
        public var maximumBufferedOutputBytes = 1 << 20
        /// Connections served at once. Past it the server stops accepting and
        /// new connections wait in the listen backlog until one closes. The
        /// server also keeps it below the process's open-file limit, so that it
        /// never runs out of file descriptors while accepting.
        public var maximumConnections = 16_384
        /// A frame begun but not finished within this closes its connection.
        public var partialFrameTimeout: Duration = .seconds(10)
        /// Output blocked this long (the client reads nothing) closes the connection.
        public var writeStallTimeout: Duration = .seconds(30)
        /// How long in-flight calls may run after a graceful stop begins.
        public var shutdownGracePeriod: Duration = .seconds(10)

        public init(socketPath: String) {
            self.socketPath = socketPath
        }
    }
}
