public import ConnectorRegistry

/// Everything connectord needs to run.
public struct DaemonConfiguration: Sendable {
    /// The Unix socket to listen on.
    public var socketPath: String
    /// Holds the database, the key file and the lock.
    public var dataDirectory: String
    /// Permission bits of the socket file.
    public var socketMode: UInt32 = 0o660
    /// Who may change the registry.
    public var policy = AccessPolicy()
    /// How often the policy looks up again the groups of the users it has seen
    /// (also on SIGHUP, and with `ConnectorDaemon.reloadAccessPolicy()`); zero
    /// or less: only then.
    public var groupRefreshInterval: Duration = .seconds(300)
    /// Bounds on schema and logo fetches.
    public var fetchLimits = FetchLimits()
    /// Client connections served at once (kept below the open-file limit).
    public var maximumConnections = 16_384
    /// How long in-flight calls may finish after SIGTERM.
    public var shutdownGracePeriod: Duration = .seconds(10)
    /// How many revisions of history to keep (older records are compacted
    /// away); nil: all.
    public var historyKeepRevisions: UInt64?

    public init(socketPath: String, dataDirectory: String) {
        self.socketPath = socketPath
        self.dataDirectory = dataDirectory
    }

    /// The embedded SQLite database.
    public var databasePath: String { dataDirectory + "/connectord.sqlite" }
    /// The key that seals connector secrets.
    public var keyFilePath: String { dataDirectory + "/secret.key" }
    /// Held while a daemon uses the data directory.
    public var lockPath: String { dataDirectory + "/connectord.lock" }
}

/// A configuration or start-up problem, with a one-line message.
public struct DaemonError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
