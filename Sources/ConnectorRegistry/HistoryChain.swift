import Crypto

/// The audit trail's hash chain: each record's hash is SHA-256 over the
/// previous record's hash and the record's canonical bytes, so editing,
/// inserting or removing a record breaks every hash after it.
///
/// Canonical bytes: the fields below, in this order, each as a netstring
/// (`<decimal byte count>:<UTF-8 bytes>,`): revision, recorded_at
/// (microseconds since the epoch), method, kind, connector id, connector
/// name, caller uid, gid, pid, process name, request id (empty if none),
/// message, previous mode (empty if none), and the connector's state as
/// stored (JSON with sorted keys).
enum HistoryChain {
    /// The hash before the first record ever written.
    static let genesis = [UInt8](repeating: 0, count: 32)

    static func hash(previous: [UInt8], of record: HistoryRecord, state: String) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: previous)
        hasher.update(data: canonicalBytes(of: record, state: state))
        return Array(hasher.finalize())
    }

    static func canonicalBytes(of record: HistoryRecord, state: String) -> [UInt8] {
        let fields: [String] = [
            String(record.revision), String(record.recordedAt.microseconds), record.method, record.kind.rawValue,
            String(record.connectorID), record.connectorName, String(record.caller.uid), String(record.caller.gid),
            String(record.caller.pid), record.caller.processName, record.requestID ?? "", record.message,
            record.previousMode?.rawValue ?? "", state,
        ]
        var bytes: [UInt8] = []
        bytes.reserveCapacity(fields.reduce(0) { $0 + $1.utf8.count + 12 })
        for field in fields {
            bytes += Array("\(field.utf8.count):".utf8)
            bytes += Array(field.utf8)
            bytes.append(UInt8(ascii: ","))
        }
        return bytes
    }
}
