public import ConnectorRegistry
import Glibc
public import Logging
public import ServiceLifecycle
import Synchronization
import TTRPC

/// connectord: the registry served over ttrpc on a Unix socket, as a
/// ServiceLifecycle `Service` (SIGTERM/SIGINT stop it gracefully).
///
/// `init` does every check that can fail (data directory, lock, key file,
/// database) so a bad configuration is reported before anything listens.
public final class ConnectorDaemon: Service, Sendable {
    public let configuration: DaemonConfiguration
    /// The registry the daemon serves.
    public let registry: ConnectorRegistry
    private let server: TTRPCServer
    private let lock: DataDirectoryLock
    private let logger: Logger
    private let notifier: SystemdNotifier
    private let stopping = Atomic<Bool>(false)
    /// Requests to refresh the access policy's group membership (SIGHUP).
    private let reloadRequests = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))

    /// Prepares the daemon: takes the data directory's lock, opens the key and
    /// the database.
    /// - Throws: `DaemonError` with a one-line message.
    public init(configuration: DaemonConfiguration, environment: [String: String] = [:], logger: Logger) throws(DaemonError) {
        self.configuration = configuration
        self.logger = logger
        lock = try DataDirectoryLock(directory: configuration.dataDirectory, lockPath: configuration.lockPath)
        do {
            registry = try ConnectorRegistry(
                databasePath: configuration.databasePath, keyFilePath: configuration.keyFilePath,
                fetchLimits: configuration.fetchLimits, logger: logger)
        } catch {
            throw DaemonError(error.message)
        }
        var router = Router()
        ConnectorService(registry: registry, policy: configuration.policy, logger: logger).register(into: &router)
        var serverConfiguration = TTRPCServer.Configuration(socketPath: configuration.socketPath)
        serverConfiguration.socketMode = configuration.socketMode
        serverConfiguration.shutdownGracePeriod = configuration.shutdownGracePeriod
        serverConfiguration.maximumConnections = configuration.maximumConnections
        server = TTRPCServer(configuration: serverConfiguration, router: router, logger: logger)
        notifier = SystemdNotifier(environment: environment)
    }

    /// Serves until a graceful shutdown (or cancellation), then closes the registry.
    /// - Parameter onListening: called once the socket accepts connections.
    public func run(onListening: @escaping @Sendable () -> Void) async throws {
        defer { lock.release() }
        do {
            try Self.makeParentDirectory(of: configuration.socketPath)
            try await withGracefulShutdownHandler {
                try await withThrowingDiscardingTaskGroup { group in
                    group.addTask { await self.refreshGroupMembership() }
                    try await server.run {
                        self.logger.info(
                            "connectord listening on \(self.configuration.socketPath)",
                            metadata: [
                                "data_directory": "\(self.configuration.dataDirectory)", "pid": "\(getpid())",
                                "max_connections": "\(self.server.maximumConnections)",
                            ])
                        self.notifier.ready(status: "listening on \(self.configuration.socketPath)")
                        onListening()
                    }
                    group.cancelAll()
                }
            } onGracefulShutdown: {
                self.stop()
            }
        } catch let error as TTRPCServerError {
            await registry.close()
            throw DaemonError(error.description)
        } catch {
            await registry.close()
            throw error
        }
        await registry.close()
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
