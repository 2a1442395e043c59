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

    /// Opens (creating if needed) the database at `path` and migrates it.
    init(path: String, modelCapacity: Int = 4096) throws {
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
        model = try database.read { db in
            ReadModel(revision: try Self.revision(db), index: try Self.index(db), capacity: modelCapacity)
        }
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
        while let row = try rows.next() {
            let name: String = row[1]
            guard let mode = ConnectorMode(rawValue: name) else {
                throw ConnectorRegistryError(.internal, "stored connector has an unknown mode '\(name)'")
            }
            index.append((row[0], mode))
        }
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
    /// With a schema, the connector is stored activated (the deprecated Create).
    func insert(
        name: String, description: String, activation: Activation?, seal: @escaping @Sendable (Int64) throws -> [UInt8]?
    ) async throws -> Connector {
        try await write { db in
            let now = Timestamp.now().microseconds
            let revision = try Self.nextRevision(db)
            try db.cachedStatement(
                sql: "INSERT INTO mcp_connectors (name, description, mode, created_at, updated_at, revision) VALUES (?, ?, 'deactive', ?, ?, ?)"
            ).execute(arguments: [name, description, now, now, revision])
            let id = db.lastInsertedRowID
            if let sealed = try seal(id) {
                try db.execute(sql: "UPDATE mcp_connectors SET sealed_secret = ? WHERE id = ?", arguments: [Data(sealed), id])
            }
            if let activation { try Self.apply(activation, to: id, revision: revision, db) }
            return try Self.fetchConnector(db, id: id)!
        } change: { .stored($0) }
    }

    /// Stores a fetched schema and sets the connector active; nil if the
    /// connector no longer exists.
    func activate(id: Int64, with activation: Activation) async throws -> Connector? {
        try await write { db in
            guard try Self.exists(db, id: id) else { return nil }  // deleted while its schema was fetched
            try Self.apply(activation, to: id, revision: try Self.nextRevision(db), db)
            return try Self.fetchConnector(db, id: id)
        } change: { $0.map(ConnectorChange.stored) }
    }

    /// Sets the mode; nil if the connector does not exist.
    func setMode(id: Int64, to mode: ConnectorMode) async throws -> Connector? {
        try await write { db in
            guard try Self.exists(db, id: id) else { return nil }
            try db.execute(
                sql: "UPDATE mcp_connectors SET mode = ?, updated_at = ?, revision = ? WHERE id = ?",
                arguments: [mode.rawValue, Timestamp.now().microseconds, try Self.nextRevision(db), id])
            return try Self.fetchConnector(db, id: id)
        } change: { $0.map(ConnectorChange.stored) }
    }

    /// Deletes a connector with its logo and secret; returns what was deleted,
    /// with the revision of its deletion.
    func delete(id: Int64) async throws -> Connector? {
        try await write { db in
            guard var connector = try Self.fetchConnector(db, id: id) else { return nil }
            try db.execute(sql: "DELETE FROM mcp_connectors WHERE id = ?", arguments: [id])
            connector.revision = try Self.nextRevision(db)
            return connector
        } change: { $0.map { .deleted(id: $0.id, revision: $0.revision) } }
    }

    /// Runs a write in a durable transaction (shared with concurrent writes),
    /// turning a duplicate name into ALREADY_EXISTS. The change it made, if
    /// any, is applied to the model once committed, before the writer is answered.
    private func write<T: Sendable>(
        _ body: @Sendable @escaping (Database) throws -> T, change: @Sendable @escaping (T) -> ConnectorChange?
    ) async throws -> T {
        let model = model
        do {
            return try await writes.write(body) { result in
                if let change = change(result) { model.apply(CollectionOfOne(change)) }
            }
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
            throw ConnectorRegistryError(.alreadyExists, "name already exists")
        }
    }

    private static func exists(_ db: Database, id: Int64) throws -> Bool {
        try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM mcp_connectors WHERE id = ?)"), arguments: [id]) ?? false
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
