import Foundation
internal import GRDB

/// The connectors table in SQLite (WAL, `synchronous = FULL`): every write
/// that returns is on disk.
///
/// Every change gets the next registry-wide revision in its transaction, and
/// once committed is applied to `model` before its writer is answered.
/// Reads run on GRDB's reader pool in parallel with writes; writes are
/// serialized by SQLite. Uniqueness of names (case-insensitive) is the
/// database's job, not a check before insert.
struct ConnectorStore: Sendable {
    private let database: DatabasePool
    /// Every write goes through it: concurrent writes share a commit.
    private let writes: GroupCommit
    /// The connectors in memory, fed the committed changes in revision order.
    let model: ReadModel
    /// The committed changes as they happen, for watchers.
    let feed: ChangeFeed
    /// How many revisions of history to keep; nil: all.
    private let historyKeepRevisions: UInt64?

    /// Opens (creating if needed) the database at `path` and migrates it.
    /// - Parameter historyKeepRevisions: how many revisions of history to keep; nil: all.
    init(path: String, modelCapacity: Int = 4096, historyKeepRevisions: UInt64? = nil) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.maximumReaderCount = 4
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        database = try DatabasePool(path: path, configuration: configuration)
        // DatabasePool turns on WAL after prepareDatabase and sets
        // synchronous = NORMAL on its writer as it does, which does not sync
        // each commit. Every acknowledged write must be on disk: FULL again.
        try database.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        try Self.migrator.migrate(database)
        writes = GroupCommit(database: database)
        let (revision, index) = try database.read { db in (try Self.revision(db), try Self.index(db)) }
        model = ReadModel(revision: revision, index: index, capacity: modelCapacity)
        feed = ChangeFeed(revision: revision)
        self.historyKeepRevisions = historyKeepRevisions
    }

    /// The writer connection's `PRAGMA synchronous` (2 is FULL).
    func writerSynchronousMode() async throws -> Int {
        try await database.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: mcp_connectors") { db in
            try db.execute(sql: """
                CREATE TABLE mcp_connectors (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    name TEXT NOT NULL COLLATE NOCASE UNIQUE,
                    description TEXT NOT NULL,
                    url TEXT NOT NULL DEFAULT '',
                    mode TEXT NOT NULL CHECK (mode IN ('sync', 'active', 'deactive')),
                    version TEXT NOT NULL DEFAULT '0.0.0',
                    sealed_secret BLOB,
                    tools TEXT NOT NULL DEFAULT '[]',
                    tools_count INTEGER NOT NULL DEFAULT 0,
                    templates TEXT NOT NULL DEFAULT '[]',
                    templates_count INTEGER NOT NULL DEFAULT 0,
                    server_config TEXT NOT NULL DEFAULT '{}',
                    logo_url TEXT NOT NULL DEFAULT '',
                    logo BLOB,
                    logo_content_type TEXT,
                    created_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL
                ) STRICT
                """)
            try db.execute(sql: "CREATE INDEX mcp_connectors_mode ON mcp_connectors(mode, id)")
        }
        migrator.registerMigration("v2: revisions") { db in
            // Existing connectors get revisions 1...n by id; the registry's is n.
            try db.execute(sql: """
                ALTER TABLE mcp_connectors ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
                UPDATE mcp_connectors SET revision = (SELECT count(*) FROM mcp_connectors AS earlier WHERE earlier.id <= mcp_connectors.id);
                CREATE TABLE registry_revision (
                    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
                    revision INTEGER NOT NULL CHECK (revision >= 0)
                ) STRICT;
                INSERT INTO registry_revision (singleton, revision) VALUES (1, (SELECT count(*) FROM mcp_connectors));
                """)
        }
        migrator.registerMigration("v3: history", migrate: HistoryTable.migrate)
        return migrator
    }

    /// The revision of the last committed change, as the transaction of `db` sees it.
    private static func revision(_ db: Database) throws -> UInt64 {
        try UInt64.fetchOne(db.cachedStatement(sql: "SELECT revision FROM registry_revision")) ?? 0
    }

    /// The id and mode of every connector.
    private static func index(_ db: Database) throws -> [(id: Int64, mode: ConnectorMode)] {
        let rows = try Row.fetchCursor(db, sql: "SELECT id, mode FROM mcp_connectors")
        var index: [(id: Int64, mode: ConnectorMode)] = []
        while let row = try rows.next() { index.append((row[0], try ConnectorMode(stored: row[1]))) }
        return index
    }

    /// Takes the next revision, in the transaction of the change it numbers
    /// (rolled back with it: committed revisions have no gaps).
    private static func nextRevision(_ db: Database) throws -> UInt64 {
        try db.cachedStatement(sql: "UPDATE registry_revision SET revision = revision + 1").execute()
        return try revision(db)
    }

    /// The revision of the last committed change.
    func revision() async throws -> UInt64 {
        try await database.read(Self.revision)
    }

    // MARK: Reads

    /// The connector, and the revision of the snapshot it was read from.
    func connector(id: Int64) async throws -> (connector: Connector?, snapshot: UInt64) {
        try await database.read { db in (try Self.fetchConnector(db, id: id), try Self.revision(db)) }
    }

    /// One page by ascending id: the ids of up to `size` connectors above
    /// `afterID` (of `mode`, if given), each with its connector taken from
    /// `cached` when it has it, else read in the same transaction.
    ///
    /// `cached` is asked inside the read transaction, so every connector not
    /// cached is read from the snapshot its id was selected in.
    func page(
        afterID: Int64, mode: ConnectorMode?, size: Int,
        cached: @escaping @Sendable ([Int64]) -> (connectors: [CachedConnector?], revision: UInt64)
    ) async throws -> ScannedPage {
        try await database.read { db in
            let ids: [Int64]
            if let mode {
                ids = try Int64.fetchAll(
                    db.cachedStatement(sql: "SELECT id FROM mcp_connectors WHERE mode = ? AND id > ? ORDER BY id LIMIT ?"),
                    arguments: [mode.rawValue, afterID, size + 1])
            } else {
                ids = try Int64.fetchAll(db.cachedStatement(sql: Self.allModesPageIDs), arguments: [afterID, size + 1])
            }
            let pageIDs = Array(ids.prefix(size))
            let found = cached(pageIDs)
            let missing = zip(pageIDs, found.connectors).compactMap { id, connector in connector == nil ? id : nil }
            var read: [Connector] = []
            if !missing.isEmpty {
                read.reserveCapacity(missing.count)
                let placeholders = repeatElement("?", count: missing.count).joined(separator: ",")
                let rows = try Row.fetchCursor(
                    db, sql: "SELECT \(ConnectorTable.selection) FROM mcp_connectors WHERE id IN (\(placeholders)) ORDER BY id",
                    arguments: StatementArguments(missing))
                while let row = try rows.next() { read.append(try ConnectorTable.connector(row)) }
            }
            // Cached connectors may be older than the snapshot (committed, not yet
            // applied): the page reflects the older of the two.
            let revision = min(try Self.revision(db), found.revision)
            return ScannedPage(ids: pageIDs, hasMore: ids.count > size, cached: found.connectors, read: read, revision: revision)
        }
    }

    /// The ids of a page of every mode: the merge, by id, of one range of the
    /// `(mode, id)` index per mode (every row has one of them: a CHECK
    /// constraint). Scanning the primary key instead reads the table's pages,
    /// which hold whole rows, to find a page of ids; the index holds only ids.
    private static let allModesPageIDs =
        ConnectorMode.allCases
        .map { "SELECT id FROM mcp_connectors WHERE mode = '\($0.rawValue)' AND id > ?1" }
        .joined(separator: " UNION ALL ") + " ORDER BY 1 LIMIT ?2"

    /// The stored logo, or nil if there is none; throws not found for an unknown id.
    func logo(id: Int64) async throws -> (name: String, logo: Logo?) {
        try await database.read { db in
            guard let row = try Row.fetchOne(
                db, sql: "SELECT name, logo, logo_content_type FROM mcp_connectors WHERE id = ?", arguments: [id])
            else { throw ConnectorRegistryError.notFound(id: id) }
            let name: String = row["name"]
            guard let data: Data = row["logo"], let contentType: String = row["logo_content_type"] else {
                return (name, nil)
            }
            return (name, Logo(contentType: contentType, data: [UInt8](data)))
        }
    }

    /// The sealed secret of a connector, if any.
    func sealedSecret(id: Int64) async throws -> [UInt8]? {
        try await database.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT sealed_secret FROM mcp_connectors WHERE id = ?", arguments: [id])
            else { throw ConnectorRegistryError.notFound(id: id) }
            return (row["sealed_secret"] as Data?).map { [UInt8]($0) }
        }
    }

    // MARK: Writes

    /// Inserts a new connector; `seal` seals its secret once the id is known.
    /// With an activation, the connector is stored activated (the deprecated Create).
    func insert(
        name: String, description: String, activation: Activation?, request: ChangeRequest, method: String,
        message: @escaping @Sendable (Connector) -> String, seal: @escaping @Sendable (Int64) throws -> [UInt8]?
    ) async throws -> StoredChange {
        try await change(request, method: method, target: nil, message: message) { db, revision in
            let now = Timestamp.now().microseconds
            try db.cachedStatement(
                sql: "INSERT INTO mcp_connectors (name, description, mode, created_at, updated_at, revision) VALUES (?, ?, 'deactive', ?, ?, ?)"
            ).execute(arguments: [name, description, now, now, revision])
            let id = db.lastInsertedRowID
            if let sealed = try seal(id) {
                try db.execute(sql: "UPDATE mcp_connectors SET sealed_secret = ? WHERE id = ?", arguments: [Data(sealed), id])
            }
            if let activation { try Self.apply(activation, to: id, revision: revision, db) }
            return (.registered, try Self.fetchConnector(db, id: id)!, nil)
        }
    }

    /// Stores a fetched schema and sets the connector active.
    /// - Throws: NOT_FOUND if it no longer exists (deleted while its schema
    ///   was fetched), ABORTED if it is not at the expected revision.
    func activate(id: Int64, with activation: Activation, request: ChangeRequest, message: @escaping @Sendable (Connector) -> String) async throws -> StoredChange {
        try await change(request, method: "Activate", target: id, message: message) { db, revision in
            let before = try Self.existing(db, id: id, expected: request.expectedRevision)
            try Self.apply(activation, to: id, revision: revision, db)
            return (.activated, try Self.fetchConnector(db, id: id)!, before.mode)
        }
    }

    /// Sets the mode.
    /// - Throws: NOT_FOUND, ABORTED if not at the expected revision, or what
    ///   `check` throws for the connector as it is.
    func setMode(
        id: Int64, to mode: ConnectorMode, request: ChangeRequest, check: @escaping @Sendable (Connector) throws -> Void,
        message: @escaping @Sendable (Connector) -> String
    ) async throws -> StoredChange {
        try await change(request, method: "SetMode", target: id, message: message) { db, revision in
            let before = try Self.existing(db, id: id, expected: request.expectedRevision)
            try check(before)
            try db.execute(
                sql: "UPDATE mcp_connectors SET mode = ?, updated_at = ?, revision = ? WHERE id = ?",
                arguments: [mode.rawValue, Timestamp.now().microseconds, revision, id])
            return (.modeChanged, try Self.fetchConnector(db, id: id)!, before.mode)
        }
    }

    /// Deletes a connector with its logo and secret; its record holds it as
    /// it was, with the revision of its deletion.
    /// - Throws: NOT_FOUND, ABORTED if not at the expected revision.
    func delete(id: Int64, request: ChangeRequest, message: @escaping @Sendable (Connector) -> String) async throws -> StoredChange {
        try await change(request, method: "Delete", target: id, message: message) { db, revision in
            var connector = try Self.existing(db, id: id, expected: request.expectedRevision)
            try db.execute(sql: "DELETE FROM mcp_connectors WHERE id = ?", arguments: [id])
            let mode = connector.mode
            connector.revision = revision
            return (.deleted, connector, mode)
        }
    }

    /// The record of a change `uid` asked for with `requestID` within the
    /// request ids' lifetime, if any.
    /// - Throws: INVALID_ARGUMENT if that change was another method's or
    ///   another connector's.
    func replayed(_ request: ChangeRequest, method: String, target: Int64?) async throws -> HistoryRecord? {
        guard let requestID = request.requestID else { return nil }
        let since = Timestamp.now() - ChangeRequest.requestIDLifetime
        let record = try await database.read { db in try HistoryTable.replay(uid: request.caller.uid, requestID: requestID, since: since, db) }
        return try record.map { try Self.check($0, replays: requestID, method: method, target: target) }
    }

    /// A change's record, as the answer to a repeat of its request id.
    /// - Throws: INVALID_ARGUMENT if the repeat asks for another method or connector.
    private static func check(_ record: HistoryRecord, replays requestID: String, method: String, target: Int64?) throws -> HistoryRecord {
        guard record.method == method, target == nil || record.connectorID == target else {
            throw ConnectorRegistryError(
                .invalidArgument,
                "request_id '\(requestID)' was used for \(record.method) of connector \(record.connectorID); use a new one for another change")
        }
        return record
    }

    /// Runs a change in a durable transaction (shared with concurrent writes):
    /// takes the next revision, runs `body` (which returns what it did), and
    /// appends the change's history record. A request id already used by the
    /// same uid answers the record of that change instead, changing nothing.
    /// Once committed, the change is applied to the read model and published
    /// to watchers before its writer is answered. A duplicate name is
    /// ALREADY_EXISTS.
    private func change(
        _ request: ChangeRequest, method: String, target: Int64?, message: @escaping @Sendable (Connector) -> String,
        _ body: @escaping @Sendable (Database, UInt64) throws -> (ChangeKind, Connector, ConnectorMode?)
    ) async throws -> StoredChange {
        let (model, feed, keep) = (model, feed, historyKeepRevisions)
        do {
            return try await writes.write { db in
                let now = Timestamp.now()
                if let requestID = request.requestID {
                    let since = now - ChangeRequest.requestIDLifetime
                    if let record = try HistoryTable.replay(uid: request.caller.uid, requestID: requestID, since: since, db) {
                        return StoredChange(record: try Self.check(record, replays: requestID, method: method, target: target), replayed: true)
                    }
                }
                let revision = try Self.nextRevision(db)
                let (kind, connector, previousMode) = try body(db, revision)
                let record = try HistoryTable.append(
                    HistoryRecord(
                        revision: revision, recordedAt: now, method: method, kind: kind, connectorID: connector.id,
                        connectorName: connector.name, caller: request.caller, requestID: request.requestID,
                        message: message(connector), connector: connector, previousMode: previousMode, hash: []),
                    db)
                if let keep { try HistoryTable.compact(keeping: keep, upTo: revision, db) }
                if revision % 256 == 0 { try HistoryTable.forgetRequests(before: now - ChangeRequest.requestIDLifetime, db) }
                return StoredChange(record: record, replayed: false)
            } onCommit: { change in
                guard !change.replayed else { return }
                model.apply(CollectionOfOne(ConnectorChange(change.record)))
                feed.publish(change.record)
            }
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
            throw ConnectorRegistryError(.alreadyExists, "name already exists")
        }
    }

    /// The connector as it is before a change.
    /// - Throws: NOT_FOUND, or ABORTED if it is not at `expected`.
    private static func existing(_ db: Database, id: Int64, expected: UInt64?) throws -> Connector {
        guard let connector = try fetchConnector(db, id: id) else { throw ConnectorRegistryError.notFound(id: id) }
        if let expected, connector.revision != expected {
            throw ConnectorRegistryError(.aborted, "Connector \(id) is at revision \(connector.revision), not \(expected)")
        }
        return connector
    }

    /// Stores an activation, the change numbered `revision`.
    private static func apply(_ activation: Activation, to id: Int64, revision: UInt64, _ db: Database) throws {
        let schema = activation.schema
        try db.execute(
            sql: """
                UPDATE mcp_connectors SET url = ?, mode = 'active', version = ?,
                    description = CASE WHEN ? <> '' THEN ? ELSE description END,
                    tools = ?, tools_count = ?, templates = ?, templates_count = ?, server_config = ?,
                    logo_url = ?, logo = ?, logo_content_type = ?, updated_at = ?, revision = ?
                WHERE id = ?
                """,
            arguments: [
                activation.url, schema.version, schema.description, schema.description,
                schema.toolsJSON, schema.toolsCount, schema.templatesJSON, schema.templatesCount, schema.configJSON,
                schema.logoURL, activation.logo.map { Data($0.data) }, activation.logo?.contentType,
                Timestamp.now().microseconds, revision, id,
            ])
    }

    private static func fetchConnector(_ db: Database, id: Int64) throws -> Connector? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT \(ConnectorTable.selection) FROM mcp_connectors WHERE id = ?"), arguments: [id])
            .map(ConnectorTable.connector)
    }

    // MARK: History

    /// Up to `limit` history records above `revision`, ascending (of one
    /// connector, if given), and the oldest revision kept, from one snapshot.
    func history(after revision: UInt64, connectorID: Int64? = nil, limit: Int) async throws -> (records: [HistoryRecord], oldest: UInt64) {
        try await database.read { db in
            (try HistoryTable.records(after: revision, connectorID: connectorID, limit: limit, db), try HistoryTable.oldestKept(db))
        }
    }

    /// Every connector (of `mode`, or the one `id`, if given) and the revision
    /// they reflect, from one snapshot.
    func snapshot(mode: ConnectorMode?, id: Int64?) async throws -> (connectors: [Connector], revision: UInt64) {
        try await database.read { db in
            var conditions: [String] = []
            var arguments: StatementArguments = []
            if let mode {
                conditions.append("mode = ?")
                arguments += [mode.rawValue]
            }
            if let id {
                conditions.append("id = ?")
                arguments += [id]
            }
            let filter = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
            let rows = try Row.fetchCursor(
                db, sql: "SELECT \(ConnectorTable.selection) FROM mcp_connectors\(filter) ORDER BY id", arguments: arguments)
            var connectors: [Connector] = []
            while let row = try rows.next() { connectors.append(try ConnectorTable.connector(row)) }
            return (connectors, try Self.revision(db))
        }
    }

    /// Walks the history's hash chain.
    func verifyHistory() async throws -> HistoryVerification {
        try await database.read { db in try HistoryTable.verify(latest: try Self.revision(db), db) }
    }

    /// Runs `PRAGMA integrity_check`; "ok" when the file is sound.
    func integrityCheck() async throws -> String {
        try await database.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") ?? "" }
    }

    /// Closes the database.
    func close() throws {
        try database.close()
    }
}

/// What `ConnectorStore.page` found: the page's ids and, for each, its
/// cached connector or (in id order, for the ids not cached) the one read.
struct ScannedPage: Sendable {
    /// At most the page size, ascending.
    var ids: [Int64]
    /// Whether more ids follow the last one.
    var hasMore: Bool
    /// The cached connector of each id, nil where it was read instead.
    var cached: [CachedConnector?]
    /// The connectors read from the database, by ascending id.
    var read: [Connector]
    /// The revision the page reflects: every change up to it is in the page.
    var revision: UInt64
}

/// What an activation stores: the schema, where it came from, and the logo.
struct Activation: Sendable {
    var url: String
    var schema: ConnectorSchema
    var logo: Logo?
}

/// A change as the store made it: its history record, or, for a request id
/// already used, the record of the change made then (`replayed`).
struct StoredChange: Sendable {
    var record: HistoryRecord
    var replayed: Bool
}
