import Foundation
internal import GRDB

/// The history in SQLite: `registry_history` (one row per committed change,
/// by revision), `history_checkpoint` (the revision and hash the kept records
/// follow: compaction moves it), and `change_requests` (request ids, for
/// retries).
enum HistoryTable {
    static func migrate(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE registry_history (
                revision INTEGER PRIMARY KEY,
                recorded_at INTEGER NOT NULL,
                method TEXT NOT NULL,
                kind TEXT NOT NULL,
                connector_id INTEGER NOT NULL,
                connector_name TEXT NOT NULL,
                caller_uid INTEGER NOT NULL,
                caller_gid INTEGER NOT NULL,
                caller_pid INTEGER NOT NULL,
                caller_process TEXT NOT NULL,
                request_id TEXT,
                message TEXT NOT NULL,
                previous_mode TEXT,
                state TEXT NOT NULL,
                hash BLOB NOT NULL
            ) STRICT;
            CREATE INDEX registry_history_connector ON registry_history(connector_id, revision);
            CREATE TABLE history_checkpoint (
                singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
                revision INTEGER NOT NULL,
                hash BLOB NOT NULL
            ) STRICT;
            INSERT INTO history_checkpoint (singleton, revision, hash)
                VALUES (1, (SELECT revision FROM registry_revision), zeroblob(32));
            CREATE TABLE change_requests (
                caller_uid INTEGER NOT NULL,
                request_id TEXT NOT NULL,
                revision INTEGER NOT NULL,
                created_at INTEGER NOT NULL,
                PRIMARY KEY (caller_uid, request_id)
            ) STRICT, WITHOUT ROWID;
            CREATE INDEX change_requests_created ON change_requests(created_at);
            """)
    }

    private static let columns = """
        revision, recorded_at, method, kind, connector_id, connector_name, caller_uid, caller_gid, caller_pid,
        caller_process, request_id, message, previous_mode, state, hash
        """

    // MARK: Writing

    /// Appends the record of a change (its revision taken in this
    /// transaction), chained to the last record kept, and remembers its
    /// request id.
    static func append(_ record: HistoryRecord, _ db: Database) throws -> HistoryRecord {
        var record = record
        let state = try encodeState(record.connector)
        record.hash = HistoryChain.hash(previous: try lastHash(db), of: record, state: state)
        try db.cachedStatement(sql: "INSERT INTO registry_history (\(columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
            .execute(arguments: [
                record.revision, record.recordedAt.microseconds, record.method, record.kind.rawValue, record.connectorID,
                record.connectorName, record.caller.uid, record.caller.gid, record.caller.pid, record.caller.processName,
                record.requestID, record.message, record.previousMode?.rawValue, state, Data(record.hash),
            ])
        if let requestID = record.requestID {
            try db.cachedStatement(
                sql: "INSERT OR REPLACE INTO change_requests (caller_uid, request_id, revision, created_at) VALUES (?, ?, ?, ?)"
            ).execute(arguments: [record.caller.uid, requestID, record.revision, record.recordedAt.microseconds])
        }
        return record
    }

    /// The hash the next record chains to.
    private static func lastHash(_ db: Database) throws -> [UInt8] {
        let last = try Data.fetchOne(db.cachedStatement(sql: "SELECT hash FROM registry_history ORDER BY revision DESC LIMIT 1"))
        let hash = try last ?? Data.fetchOne(db.cachedStatement(sql: "SELECT hash FROM history_checkpoint"))
        return hash.map { [UInt8]($0) } ?? HistoryChain.genesis
    }

    /// The record of the change `uid` asked for with `requestID` since `since`, if it is kept.
    static func replay(uid: UInt32, requestID: String, since: Timestamp, _ db: Database) throws -> HistoryRecord? {
        guard let revision = try UInt64.fetchOne(
            db.cachedStatement(sql: "SELECT revision FROM change_requests WHERE caller_uid = ? AND request_id = ? AND created_at >= ?"),
            arguments: [uid, requestID, since.microseconds])
        else { return nil }
        // Nil if compaction removed it: the id is then forgotten.
        return try Row.fetchOne(db.cachedStatement(sql: "SELECT \(columns) FROM registry_history WHERE revision = ?"), arguments: [revision])
            .map { try record($0).record }
    }

    /// Forgets request ids older than `before`.
    static func forgetRequests(before: Timestamp, _ db: Database) throws {
        try db.cachedStatement(sql: "DELETE FROM change_requests WHERE created_at < ?").execute(arguments: [before.microseconds])
    }

    /// Removes the records at or below `revision` - `keep`, moving the
    /// checkpoint to the last one removed (the remaining chain still verifies).
    static func compact(keeping keep: UInt64, upTo revision: UInt64, _ db: Database) throws {
        guard revision > keep else { return }
        let cut = revision - keep
        guard try oldestKept(db) <= cut else { return }
        guard let hash = try Data.fetchOne(db, sql: "SELECT hash FROM registry_history WHERE revision <= ? ORDER BY revision DESC LIMIT 1", arguments: [cut])
        else { return }
        try db.execute(sql: "DELETE FROM registry_history WHERE revision <= ?", arguments: [cut])
        try db.execute(sql: "UPDATE history_checkpoint SET revision = ?, hash = ?", arguments: [cut, hash])
    }

    // MARK: Reading

    /// The oldest revision whose record is kept (or would be: the next one).
    static func oldestKept(_ db: Database) throws -> UInt64 {
        try (UInt64.fetchOne(db.cachedStatement(sql: "SELECT revision FROM history_checkpoint")) ?? 0) + 1
    }

    /// Up to `limit` records above `revision`, ascending; of one connector if given.
    static func records(after revision: UInt64, connectorID: Int64?, limit: Int, _ db: Database) throws -> [HistoryRecord] {
        let rows: RowCursor
        if let connectorID {
            rows = try Row.fetchCursor(
                db.cachedStatement(sql: "SELECT \(columns) FROM registry_history WHERE connector_id = ? AND revision > ? ORDER BY revision LIMIT ?"),
                arguments: [connectorID, revision, limit])
        } else {
            rows = try Row.fetchCursor(
                db.cachedStatement(sql: "SELECT \(columns) FROM registry_history WHERE revision > ? ORDER BY revision LIMIT ?"),
                arguments: [revision, limit])
        }
        var records: [HistoryRecord] = []
        while let row = try rows.next() { records.append(try record(row).record) }
        return records
    }

    /// Walks the chain from the checkpoint to `latest`: every revision has its
    /// record, and every record its hash.
    static func verify(latest: UInt64, _ db: Database) throws -> HistoryVerification {
        var previous = try Data.fetchOne(db, sql: "SELECT hash FROM history_checkpoint").map { [UInt8]($0) } ?? HistoryChain.genesis
        let oldest = try oldestKept(db)
        var expected = oldest
        var count: UInt64 = 0
        let rows = try Row.fetchCursor(db, sql: "SELECT \(columns) FROM registry_history ORDER BY revision")
        func failure(_ revision: UInt64, _ message: String) -> HistoryVerification {
            HistoryVerification(records: count, firstBadRevision: revision, message: message, oldestRevision: oldest, latestRevision: latest)
        }
        while let row = try rows.next() {
            let stored: (record: HistoryRecord, state: String)
            do {
                stored = try record(row)
            } catch {
                return failure(row["revision"] ?? expected, "the record of revision \(row["revision"] ?? expected) cannot be read")
            }
            let record = stored.record
            if record.revision != expected {
                return failure(expected, "the record of revision \(expected) is missing")
            }
            if HistoryChain.hash(previous: previous, of: record, state: stored.state) != record.hash {
                return failure(record.revision, "the record of revision \(record.revision) does not match its hash")
            }
            previous = record.hash
            expected += 1
            count += 1
        }
        if expected <= latest {
            return failure(expected, "the record of revision \(expected) is missing")
        }
        return HistoryVerification(records: count, firstBadRevision: nil, message: "ok", oldestRevision: oldest, latestRevision: latest)
    }

    private static func record(_ row: Row) throws -> (record: HistoryRecord, state: String) {
        let kindName: String = row[3]
        guard let kind = ChangeKind(rawValue: kindName) else {
            throw ConnectorRegistryError(.internal, "history record has an unknown kind '\(kindName)'")
        }
        let previousModeName: String? = row[12]
        let state: String = row[13]
        let record = HistoryRecord(
            revision: row[0], recordedAt: Timestamp(microseconds: row[1]), method: row[2], kind: kind,
            connectorID: row[4], connectorName: row[5],
            caller: Caller(uid: row[6], gid: row[7], pid: row[8], processName: row[9]),
            requestID: row[10], message: row[11], connector: try decodeState(state),
            previousMode: previousModeName.flatMap(ConnectorMode.init(rawValue:)),
            hash: [UInt8](row[14] as Data))
        return (record, state)
    }

    // MARK: State

    private static func encodeState(_ connector: Connector) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(connector), as: UTF8.self)
    }

    private static func decodeState(_ state: String) throws -> Connector {
        try JSONDecoder().decode(Connector.self, from: Data(state.utf8))
    }
}
