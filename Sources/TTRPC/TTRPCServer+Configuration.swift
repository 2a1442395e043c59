import Glibc

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
        /// Calls handled at once per connection, a stream counting as one call;
        /// more wait unread, or, while streams are open (whose data frames must
        /// keep flowing), are answered RESOURCE_EXHAUSTED.
        public var maximumConcurrentRequestsPerConnection = 64
        /// Bytes of a client's messages waiting for the handler of one stream
        /// (each message counted with 64 bytes of overhead); past them that
        /// stream fails with RESOURCE_EXHAUSTED and the others go on. One
        /// message is always accepted into an empty buffer. (ttrpc has no flow
        /// control: a client that sends faster than the handler reads, for
        /// longer than this absorbs, fails its stream.)
        public var maximumBufferedBytesPerStream = 1 << 20
        /// Bytes of a client's messages waiting for the handlers of all the
        /// streams of one connection (counted as above, the one message an
        /// empty stream buffer accepts included); a message past them fails
        /// the stream it came for with RESOURCE_EXHAUSTED and the others go
        /// on. It bounds what a client can make a connection hold, whatever
        /// it sends: without it, every one of the
        /// `maximumConcurrentRequestsPerConnection` streams could hold a
        /// message of `maximumFrameSize` (64 x 4 MiB).
        public var maximumBufferedBytesPerConnection = 16 << 20
        /// A stream whose next message cannot be sent for this long (the
        /// client reads nothing) ends with RESOURCE_EXHAUSTED (noticed within
        /// half of it more).
        public var streamSendTimeout: Duration = .seconds(5)
        /// Answers buffered for a client that does not read: past this many
        /// bytes the connection starts no new call until the client reads
        /// (the calls already running finish and their answers wait too).
        public var maximumBufferedOutputBytes = 1 << 20
        /// Connections served at once. Past it the server stops accepting and
        /// new connections wait in the listen backlog until one closes. The
        /// server also keeps it below the process's open-file limit, so that it
        /// never runs out of file descriptors while accepting.
        public var maximumConnections = 16_384
        /// Connections the kernel queues for the server to accept (listen(2)'s
        /// backlog). A client connecting while the queue is full waits if its
        /// socket blocks, and is refused with EAGAIN if it does not (Go's
        /// `net.Dial`, any connect with a timeout). The default is the system's
        /// maximum, `TTRPCServer.systemMaximumListenBacklog`; the kernel lowers
        /// any larger value to that maximum.
        public var listenBacklog = TTRPCServer.systemMaximumListenBacklog
        /// A frame begun but not finished within this closes its connection.
        public var partialFrameTimeout: Duration = .seconds(10)
        /// Output blocked this long (the client reads nothing) closes the connection.
        public var writeStallTimeout: Duration = .seconds(30)
        /// How long in-flight calls may run after a graceful stop begins; open
        /// streams are then ended with UNAVAILABLE.
        public var shutdownGracePeriod: Duration = .seconds(10)

        public init(socketPath: String) {
            self.socketPath = socketPath
        }
    }
}

extension TTRPCServer {
    /// The largest listen backlog the system grants: on Linux
    /// `net.core.somaxconn` (read from /proc, per network namespace; 4,096 by
    /// default since Linux 5.4), else `Int32.max`, which listen(2) lowers to the
    /// system's maximum.
    public static var systemMaximumListenBacklog: Int32 {
        let fd = open("/proc/sys/net/core/somaxconn", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .max }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 32)
        let count = read(fd, &bytes, bytes.count)
        guard count > 0 else { return .max }
        let digits = bytes.prefix(count).prefix { $0 != UInt8(ascii: "\n") }
        guard let value = Int32(String(decoding: digits, as: UTF8.self)), value > 0 else { return .max }
        return value
    }
}
