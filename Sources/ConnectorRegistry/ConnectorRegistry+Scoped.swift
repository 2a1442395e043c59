public import Logging
import NIOPosix

/// Opens a registry, runs `body` with it, and closes it on every path: when
/// `body` returns, throws, or its task is cancelled.
///
/// Opening (the key file, the database and its migrations, each synced to
/// disk) blocks on the file system, so it runs on NIO's thread pool, not on a
/// thread of Swift's cooperative pool.
/// - Parameters:
///   - databasePath: the SQLite file (created and migrated if needed).
///   - keyFilePath: the 32-byte secret key (created with mode 0600 if missing).
///   - historyKeepRevisions: how many revisions of history to keep; nil: all.
/// - Throws: `ConnectorRegistryError` if the database or key file cannot be
///   used, or what `body` throws.
public func withConnectorRegistry<Result>(
    databasePath: String, keyFilePath: String, fetchLimits: FetchLimits = FetchLimits(),
    historyKeepRevisions: UInt64? = nil, logger: Logger = Logger(label: "connectord.registry"),
    _ body: (ConnectorRegistry) async throws -> Result
) async throws -> Result {
    let registry = try await NIOThreadPool.singleton.runIfActive {
        try ConnectorRegistry(
            databasePath: databasePath, keyFilePath: keyFilePath, fetchLimits: fetchLimits,
            historyKeepRevisions: historyKeepRevisions, logger: logger)
    }
    let result: Swift.Result<Result, any Error>
    do {
        result = .success(try await body(registry))
    } catch {
        result = .failure(error)
    }
    await registry.close()
    return try result.get()
}
