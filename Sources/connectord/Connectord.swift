import ArgumentParser
import ConnectorAPI
import ConnectorRegistry
import ConnectorServer
import Foundation
import Glibc
import Logging
import ServiceLifecycle
import UnixSignals

/// The connectord daemon: keeps the registry of MCP connectors and serves it
/// over ttrpc on a Unix socket.
@main
struct Connectord: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connectord",
        abstract: "Keep the registry of MCP connectors and serve it on a Unix socket.",
        discussion: """
            Every option can also be set in the environment (the variable is named in \
            its help). Defaults: as root the socket is /run/connectord/connectord.sock and \
            the data directory /var/lib/connectord; otherwise $XDG_RUNTIME_DIR/connectord.sock \
            (or connectord.sock in the data directory) and ~/.local/share/connectord.

            Exit status: 0 after a clean stop, 78 for a configuration problem (data \
            directory not writable, key file readable by others, socket in use), 1 otherwise.

            SIGHUP looks up again the groups of the users seen (for --admin-group); \
            they are also looked up again every 5 minutes.
            """)

    @Option(name: .long, help: "Unix socket to listen on (env CONNECTORD_SOCKET).")
    var socket: String?

    @Option(name: .customLong("data-dir"), help: "Directory for the database, key and lock (env CONNECTORD_DATA_DIR).")
    var dataDirectory: String?

    @Option(name: .customLong("socket-mode"), help: "Octal permissions of the socket file (env CONNECTORD_SOCKET_MODE; default 0660).")
    var socketMode: String?

    @Option(name: .customLong("admin-uid"), help: "A uid allowed to change the registry; repeatable (env CONNECTORD_ADMIN_UIDS, comma-separated). Root and the daemon's own uid always are.")
    var adminUIDs: [UInt32] = []

    @Option(name: .customLong("admin-group"), help: "A group (name or gid) whose members may change the registry; repeatable (env CONNECTORD_ADMIN_GROUPS).")
    var adminGroups: [String] = []

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (env CONNECTORD_LOG_LEVEL; default info).")
    var logLevel: String?

    @Option(name: .customLong("log-format"), help: "text or json, one line per event on stderr (env CONNECTORD_LOG_FORMAT; default text).")
    var logFormat: String?

    @Option(name: .customLong("fetch-timeout"), help: "Seconds an activation may spend fetching a schema and logo (default 10).")
    var fetchTimeout: Double = 10

    @Option(name: .customLong("max-connections"), help: "Client connections served at once; more wait to be accepted (env CONNECTORD_MAX_CONNECTIONS; default 16384, and always below the open-file limit).")
    var maximumConnections: Int?

    @Option(name: .customLong("history-keep-revisions"), help: "Revisions of history to keep; older records are compacted away, keeping the chain verifiable (env CONNECTORD_HISTORY_KEEP_REVISIONS; default: all).")
    var historyKeepRevisions: UInt64?

    mutating func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        umask(0o077)
        raiseOpenFileLimit()
        do {
            let configuration = try makeConfiguration(environment)
            let logger = try makeLogger(environment)
            try await ConnectorDaemon.withDaemon(configuration: configuration, environment: environment, logger: logger) { daemon in
                let hangups = await UnixSignalsSequence(trapping: .sighup)
                try await daemon.run(
                    gracefulShutdownSignals: [.sigterm, .sigint], alongside: [ReloadOnHangup(daemon: daemon, hangups: hangups)])
            }
        } catch let error as DaemonError {
            FileHandle.standardError.write(Data("connectord: \(error.description)\n".utf8))
            throw ExitCode(78)
        }
    }

    private func makeConfiguration(_ environment: [String: String]) throws(DaemonError) -> DaemonConfiguration {
        func env(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        let dataDirectory = dataDirectory ?? env("CONNECTORD_DATA_DIR") ?? DefaultLocations.dataDirectory(environment: environment)
        var lookup = environment
        lookup["CONNECTORD_DATA_DIR"] = dataDirectory
        let socketPath = socket ?? DefaultLocations.socketPath(environment: lookup)
        guard socketPath.utf8.count < 108 else {
            throw DaemonError("socket path \(socketPath) is longer than 107 bytes; choose a shorter --socket")
        }
        var configuration = DaemonConfiguration(socketPath: socketPath, dataDirectory: dataDirectory)

        if let text = socketMode ?? env("CONNECTORD_SOCKET_MODE") {
            guard let mode = UInt32(text, radix: 8), mode <= 0o777 else {
                throw DaemonError("socket mode '\(text)' is not an octal mode such as 0660")
            }
            configuration.socketMode = mode
        }
        var uids = Set(adminUIDs)
        for text in (env("CONNECTORD_ADMIN_UIDS") ?? "").split(separator: ",") {
            guard let uid = UInt32(text.trimmingCharacters(in: .whitespaces)) else {
                throw DaemonError("CONNECTORD_ADMIN_UIDS: '\(text)' is not a uid")
            }
            uids.insert(uid)
        }
        var gids = Set<UInt32>()
        let groups = adminGroups + (env("CONNECTORD_ADMIN_GROUPS") ?? "").split(separator: ",").map(String.init)
        for name in groups.map({ $0.trimmingCharacters(in: .whitespaces) }) where !name.isEmpty {
            if let gid = UInt32(name) {
                gids.insert(gid)
            } else if let entry = getgrnam(name) {
                gids.insert(entry.pointee.gr_gid)
            } else {
                throw DaemonError("admin group '\(name)' does not exist")
            }
        }
        configuration.policy = AccessPolicy(adminUIDs: uids, adminGIDs: gids)
        guard fetchTimeout > 0, fetchTimeout <= 300 else { throw DaemonError("--fetch-timeout must be between 0 and 300 seconds") }
        configuration.fetchLimits.totalTimeout = .milliseconds(Int64(fetchTimeout * 1000))
        if let text = historyKeepRevisions.map(String.init) ?? env("CONNECTORD_HISTORY_KEEP_REVISIONS") {
            guard let keep = UInt64(text), keep > 0 else {
                throw DaemonError("--history-keep-revisions must be a positive number, not '\(text)'")
            }
            configuration.historyKeepRevisions = keep
        }
        if let text = maximumConnections.map(String.init) ?? env("CONNECTORD_MAX_CONNECTIONS") {
            guard let count = Int(text), count > 0 else { throw DaemonError("--max-connections must be a positive number, not '\(text)'") }
            configuration.maximumConnections = count
        }
        return configuration
    }

    /// Raises the soft open-file limit to the hard one (under systemd the soft
    /// limit is 1,024 and the hard one far higher): each client connection
    /// costs a file descriptor.
    private func raiseOpenFileLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }

    private func makeLogger(_ environment: [String: String]) throws(DaemonError) -> Logger {
        let levelName = logLevel ?? environment["CONNECTORD_LOG_LEVEL"].flatMap { $0.isEmpty ? nil : $0 } ?? "info"
        guard let level = Logger.Level(rawValue: levelName.lowercased()) else {
            throw DaemonError("log level '\(levelName)' is not one of trace, debug, info, notice, warning, error, critical")
        }
        let format = (logFormat ?? environment["CONNECTORD_LOG_FORMAT"].flatMap { $0.isEmpty ? nil : $0 } ?? "text").lowercased()
        guard format == "text" || format == "json" else { throw DaemonError("log format '\(format)' is not text or json") }
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler =
                format == "json" ? JSONLinesLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: "connectord")
        logger.logLevel = level
        return logger
    }
}
