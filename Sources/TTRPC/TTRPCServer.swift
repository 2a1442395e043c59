public import Logging
public import NIOCore
import Glibc
public import NIOPosix
import Synchronization

/// A ttrpc server on a Unix domain socket.
///
/// `run()` creates the socket and serves until cancelled or until
/// `beginGracefulShutdown()`: then it stops accepting, stops reading new
/// requests, lets in-flight calls and streams finish within the grace period
/// (then ends the streams still open with UNAVAILABLE), closes every
/// connection and removes the socket file.
///
/// Methods are unary, server-streaming, client-streaming or bidirectional
/// (`Router`), with ttrpc 1.2's data frames; unary calls are what a ttrpc 1.0
/// peer expects.
public final class TTRPCServer: Sendable {
    public let configuration: Configuration
    private let router: Router
    private let logger: Logger
    private let eventLoopGroup: any EventLoopGroup
    private let state = Mutex(State())
    private let shutdownSignal = AsyncStream<Void>.makeStream()

    private struct State {
        var serverChannel: (any Channel)?
        var connections: [ObjectIdentifier: any Channel] = [:]
        var draining = false
        var pastGracePeriod = false
    }

    /// Creates a server; nothing is opened until `run()`.
    public init(
        configuration: Configuration,
        router: Router,
        logger: Logger = Logger(label: "ttrpc.server"),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.configuration = configuration
        self.router = router
        self.logger = logger
        self.eventLoopGroup = eventLoopGroup
    }

    /// Serves until cancelled or gracefully shut down.
    /// - Parameter onListening: called once the socket accepts connections.
    /// - Throws: `TTRPCServerError` if the socket cannot be created (for example
    ///   because a live server already listens on the path).
    public func run(onListening: @escaping @Sendable () -> Void = {}) async throws {
        var socketFile = try SocketFile.prepare(path: configuration.socketPath)
        let serverChannel: NIOAsyncChannel<AcceptedConnection, Never>
        do {
            let bootstrap = ServerBootstrap(group: eventLoopGroup)
                .serverChannelOption(.backlog, value: configuration.listenBacklog)
                .childChannelOption(.allowRemoteHalfClosure, value: true)
                .childChannelOption(
                    .writeBufferWaterMark,
                    value: .init(low: configuration.maximumBufferedOutputBytes / 2, high: configuration.maximumBufferedOutputBytes))
            let maximumFrameSize = configuration.maximumFrameSize
            let router = router
            let partialFrameTimeout = TimeAmount(configuration.partialFrameTimeout)
            let writeStallTimeout = TimeAmount(configuration.writeStallTimeout)
            serverChannel = try await socketFile.bind(mode: configuration.socketMode) { path in
                // Few accepted connections wait for the accept loop (each holds an fd).
                try await bootstrap.bind(
                    unixDomainSocketPath: path, serverBackPressureStrategy: .init(lowWatermark: 1, highWatermark: 4)
                ) { channel in
                    channel.peerCredentials().flatMapThrowing { peer in
                        let blockedOutput = UsageLimit(limit: 1)
                        try channel.pipeline.syncOperations.addHandlers(
                            ConnectionGuard(partialFrameTimeout: partialFrameTimeout, writeStallTimeout: writeStallTimeout),
                            ByteToMessageHandler(FrameDecoder(maximumDataSize: maximumFrameSize)),
                            RequestDispatcher(router: router, peer: peer, maximumFrameSize: maximumFrameSize),
                            WritabilityGate(blockedOutput))
                        return AcceptedConnection(
                            channel: try NIOAsyncChannel.closingOnDeinit(channel), peer: peer, blockedOutput: blockedOutput)
                    }
                }
            }
        } catch let error as TTRPCServerError {
            throw error
        } catch {
            throw TTRPCServerError.cannotListen(path: configuration.socketPath, reason: "\(error)")
        }
        defer { socketFile.remove() }

        let alreadyDraining = state.withLock { state in
            state.serverChannel = serverChannel.channel
            return state.draining
        }
        if alreadyDraining { serverChannel.channel.close(promise: nil) }

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                // Nothing is accepted while every connection slot is taken.
                let open = UsageLimit(limit: self.maximumConnections)
                try await withThrowingDiscardingTaskGroup { connections in
                    try await serverChannel.executeThenClose { inbound in
                        onListening()
                        var accepted = inbound.makeAsyncIterator()
                        while true {
                            try await open.waitForRoom()
                            guard let connection = try await accepted.next() else { break }
                            open.add(1)
                            connections.addTask {
                                defer { open.remove(1) }
                                await self.serve(connection)
                            }
                        }
                    }
                }
            }
            group.addTask {
                // After a graceful stop begins, in-flight calls get the grace period.
                for await _ in self.shutdownSignal.stream { break }
                try await Task.sleep(for: self.configuration.shutdownGracePeriod)
                self.state.withLock { $0.pastGracePeriod = true }
                self.logger.warning("grace period over: cancelling the calls still running")
            }
            _ = try await group.next()
            group.cancelAll()
        }
    }

    /// Stops accepting connections and reading new requests; in-flight calls may
    /// finish within `shutdownGracePeriod`, after which `run()` returns.
    public func beginGracefulShutdown() {
        let (server, connections) = state.withLock { state in
            state.draining = true
            return (state.serverChannel, Array(state.connections.values))
        }
        shutdownSignal.continuation.yield()
        shutdownSignal.continuation.finish()
        server?.close(promise: nil)
        for connection in connections { connection.stopReading() }
    }

    /// The number of open client connections.
    public var connectionCount: Int { state.withLock { $0.connections.count } }

    /// The connections served at once: `configuration.maximumConnections`,
    /// lowered to fit the process's open-file limit.
    public var maximumConnections: Int {
        var files = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &files) == 0, files.rlim_cur != rlim_t.max else {
            return configuration.maximumConnections
        }
        // Room for the process's own files and the few connections NIO has
        // accepted but the accept loop not yet taken.
        let available = Int(clamping: files.rlim_cur)
        return max(1, min(configuration.maximumConnections, available - max(64, available / 8)))
    }

    private func serve(_ accepted: AcceptedConnection) async {
        let (connection, peer) = (accepted.channel, accepted.peer)
        let channel = connection.channel
        let id = ObjectIdentifier(channel)
        let draining = state.withLock { state in
            state.connections[id] = channel
            return state.draining
        }
        if draining { channel.stopReading() }
        defer { _ = state.withLock { $0.connections.removeValue(forKey: id) } }

        var logger = logger
        logger[metadataKey: "peer"] = "\(peer)"
        do {
            try await connection.executeThenClose { inbound, outbound in
                let connection = ServerConnection(
                    peer: peer, outbound: outbound, allocator: channel.allocator, eventLoop: channel.eventLoop, logger: logger,
                    maximumFrameSize: configuration.maximumFrameSize,
                    maximumConcurrentRequests: configuration.maximumConcurrentRequestsPerConnection,
                    maximumBufferedBytesPerStream: configuration.maximumBufferedBytesPerStream,
                    maximumBufferedBytesPerConnection: configuration.maximumBufferedBytesPerConnection,
                    streamSendTimeout: configuration.streamSendTimeout,
                    blockedOutput: accepted.blockedOutput,
                    isPastGracePeriod: { self.state.withLock { $0.pastGracePeriod } },
                    writeNow: { parts in
                        for part in parts { channel.write(part, promise: nil) }
                        channel.flush()
                    },
                    closeFuture: channel.closeFuture)
                try await connection.serve(inbound)
            }
        } catch {
            logger.debug("connection closed", metadata: ["error": "\(error)"])
        }
    }
}

/// A connection the accept loop hands to `serve`.
private struct AcceptedConnection: Sendable {
    let channel: NIOAsyncChannel<ServerEvent, ByteBuffer>
    let peer: PeerCredentials
    let blockedOutput: UsageLimit
}

/// Why a server could not start.
public struct TTRPCServerError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String

    static func cannotListen(path: String, reason: String) -> Self {
        Self(description: "cannot listen on \(path): \(reason)")
    }
}

extension Channel {
    /// Ends the inbound request stream of a connection, as if the client had
    /// finished sending; responses can still be written.
    func stopReading() {
        pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
    }

    /// The kernel's SO_PEERCRED for this Unix socket.
    func peerCredentials() -> EventLoopFuture<PeerCredentials> {
        guard let provider = self as? any SocketOptionProvider else {
            return eventLoop.makeSucceededFuture(PeerCredentials(pid: 0, uid: .max, gid: .max))
        }
        return provider.unsafeGetSocketOption(level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
            .map { (raw: RawPeerCredentials) in PeerCredentials(pid: raw.pid, uid: raw.uid, gid: raw.gid) }
    }
}

extension NIOAsyncChannel {
    /// Wraps an accepted connection so that, if it is dropped before it is
    /// served (accepted while the server was closing), it is closed rather
    /// than trapping: `init(wrappingChannelSynchronously:)` preconditions that
    /// every wrapper is consumed, which a closing accept loop cannot promise.
    /// NIO deprecates this initializer only for its deinit-based teardown,
    /// which is what is wanted here.
    static func closingOnDeinit(_ channel: any Channel) throws -> NIOAsyncChannel {
        try NIOAsyncChannel(synchronouslyWrapping: channel)
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

/// `struct ucred` from <sys/socket.h>.
private struct RawPeerCredentials: Sendable {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}
