public import ConnectorRegistry
import Glibc
import NIOPosix
public import Logging
public import ServiceLifecycle
import Synchronization
import TTRPC
public import UnixSignals

/// connectord: the registry served over ttrpc on a Unix socket.
///
/// `withDaemon` takes the data directory's lock and opens the registry (every
/// check that can fail, so a bad configuration is reported before anything
/// listens), and releases both however its body ends. `run` serves: a
/// `ServiceGroup` of the socket and the group-membership refresher (and any
/// services given to it), started in that order and stopped in reverse.
public final class ConnectorDaemon: Service, Sendable {
    public let configuration: DaemonConfiguration
    /// The registry the daemon serves.
    public let registry: ConnectorRegistry
    private let server: TTRPCServer
    private let logger: Logger
    private let notifier: SystemdNotifier
    private let stopping = Atomic<Bool>(false)
    /// Requests to refresh the access policy's group membership (SIGHUP).
    private let reloadRequests = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    /// Requests to stop (`stop()`): the daemon's service group then stops its
    /// services in order.
    private let stopRequests = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))

    private init(configuration: DaemonConfiguration, registry: ConnectorRegistry, environment: [String: String], logger: Logger) {
        self.configuration = configuration
        self.registry = registry
        self.logger = logger
        var router = Router()
        ConnectorService(registry: registry, policy: configuration.policy, logger: logger).register(into: &router)
        var serverConfiguration = TTRPCServer.Configuration(socketPath: configuration.socketPath)
        serverConfiguration.socketMode = configuration.socketMode
        serverConfiguration.shutdownGracePeriod = configuration.shutdownGracePeriod
        serverConfiguration.maximumConnections = configuration.maximumConnections
        server = TTRPCServer(configuration: serverConfiguration, router: router, logger: logger)
        notifier = SystemdNotifier(environment: environment)
    }

    /// Takes the data directory's lock, opens the key and the database, runs
    /// `body` with the daemon, then closes the registry and releases the lock,
    /// on every path (`body` returning, throwing or cancelled).
    ///
    /// The file system work runs on NIO's thread pool.
    /// - Throws: `DaemonError` with a one-line message if the daemon cannot
    ///   start; otherwise what `body` throws.
    public static func withDaemon<Result>(
        configuration: DaemonConfiguration, environment: [String: String] = [:], logger: Logger,
        _ body: (ConnectorDaemon) async throws -> Result
    ) async throws -> Result {
        let lock = try await NIOThreadPool.singleton.runIfActive {
            try DataDirectoryLock(directory: configuration.dataDirectory, lockPath: configuration.lockPath)
        }
        defer { lock.release() }
        var opened = false
        do {
            return try await withConnectorRegistry(
                databasePath: configuration.databasePath, keyFilePath: configuration.keyFilePath,
                fetchLimits: configuration.fetchLimits, historyKeepRevisions: configuration.historyKeepRevisions, logger: logger
            ) { registry in
                opened = true
                return try await body(ConnectorDaemon(configuration: configuration, registry: registry, environment: environment, logger: logger))
            }
        } catch let error as ConnectorRegistryError where !opened {
            throw DaemonError(error.message)
        }
    }

    /// Serves until a graceful shutdown (a signal in `gracefulShutdownSignals`,
    /// `stop()`, or the enclosing service group's), or cancellation.
    /// - Parameters:
    ///   - services: run beside the daemon's own, after them, and stopped before them.
    ///   - onListening: called once the socket accepts connections.
    /// - Throws: `DaemonError` if the socket cannot be served.
    public func run(
        gracefulShutdownSignals: [UnixSignal] = [], alongside services: [any Service] = [],
        onListening: @escaping @Sendable () -> Void = {}
    ) async throws {
        try Self.makeParentDirectory(of: configuration.socketPath)
        let socket = DaemonService("socket", onGracefulShutdown: { self.stopServing() }) {
            try await self.server.run {
                self.logger.info(
                    "connectord listening on \(self.configuration.socketPath)",
                    metadata: [
                        "data_directory": "\(self.configuration.dataDirectory)", "pid": "\(getpid())",
                        "max_connections": "\(self.server.maximumConnections)",
                    ])
                self.notifier.ready(status: "listening on \(self.configuration.socketPath)")
                onListening()
            }
        }
        let refresher = DaemonService("group membership") { await self.refreshGroupMembership() }
        var configuration = ServiceGroupConfiguration(
            services: [
                // When the socket has stopped serving, the rest stop too.
                .init(service: socket, successTerminationBehavior: .gracefullyShutdownGroup),
                .init(service: refresher),
            ] + services.map { .init(service: $0) },
            logger: logger)
        configuration.gracefulShutdownSignals = gracefulShutdownSignals
        let group = ServiceGroup(configuration: configuration)
        do {
            try await withThrowingTaskGroup(of: Bool.self) { tasks in
                tasks.addTask {
                    try await group.run()
                    return true
                }
                tasks.addTask {
                    // `stop()`, or the graceful shutdown of a service group
                    // this daemon runs in: the daemon's group stops in order.
                    for await _ in self.stopRequests.stream.cancelOnGracefulShutdown() { break }
                    if !Task.isCancelled { await group.triggerGracefulShutdown() }
                    return false
                }
                while let groupEnded = try await tasks.next() {
                    if groupEnded { tasks.cancelAll() }
                }
            }
        } catch let error as TTRPCServerError {
            throw DaemonError(error.description)
        }
        logger.info("connectord stopped")
    }

    public func run() async throws {
        try await run(onListening: {})
    }

    /// Asks the access policy to look up again the groups of the users it has
    /// seen (connectord calls it on SIGHUP); the refresh runs on a thread pool
    /// while the daemon serves.
    public func reloadAccessPolicy() {
        logger.info("refreshing group membership")
        reloadRequests.continuation.yield()
    }

    /// Refreshes the policy's group membership every `groupRefreshInterval`
    /// and on `reloadAccessPolicy()`, until cancelled.
    private func refreshGroupMembership() async {
        let interval = configuration.groupRefreshInterval
        await withDiscardingTaskGroup { group in
            if interval > .zero {
                group.addTask {
                    while (try? await Task.sleep(for: interval)) != nil {
                        self.reloadRequests.continuation.yield()
                    }
                }
            }
            // Ends when the task is cancelled.
            for await _ in reloadRequests.stream {
                await configuration.policy.refreshGroupMembership()
                logger.debug("group membership refreshed")
            }
            group.cancelAll()
        }
    }

    /// Begins a graceful stop without a signal (tests, embedding).
    public func stop() {
        stopRequests.continuation.yield()
    }

    /// Stops accepting connections and lets the calls in flight finish (the
    /// socket service's part of a graceful stop).
    private func stopServing() {
        guard !stopping.exchange(true, ordering: .relaxed) else { return }
        notifier.stopping()
        logger.info("stopping: finishing calls in flight")
        server.beginGracefulShutdown()
    }

    private static func makeParentDirectory(of socketPath: String) throws(DaemonError) {
        guard let slash = socketPath.lastIndex(of: "/"), slash != socketPath.startIndex else { return }
        let parent = String(socketPath[..<slash])
        var info = stat()
        if stat(parent, &info) == 0 { return }
        guard mkdir(parent, 0o755) == 0 || errno == EEXIST else {
            throw DaemonError("cannot create socket directory \(parent): \(String(cString: strerror(errno)))")
        }
    }
}
