import ConnectorAPI
import Foundation

extension ConnectorsV1.EventKind {
    /// The kind without its prefix: `REGISTERED`, `MODE_CHANGED`.
    var name: String {
        let full = description
        let prefix = "EVENT_KIND_"
        return full.hasPrefix(prefix) ? String(full.dropFirst(prefix.count)) : full
    }
}

extension ConnectorsV1.WatchEvent {
    /// The event as a JSON object (no connector for a BOOKMARK).
    var json: JSONWriter {
        var fields: [(String, JSONWriter)] = [
            ("revision", .unsigned(revision)), ("kind", .string(kind.name)), ("connector_id", .unsigned(connectorID)),
        ]
        if kind != .bookmark { fields.append(("connector", connector.json(detail: false))) }
        return .object(fields)
    }

    /// The event on one line: revision, kind, and what the connector is now.
    var line: String {
        let kindColumn = kind.name.padding(toLength: 12, withPad: " ", startingAt: 0)
        let what: String
        switch kind {
        case .bookmark: what = "the connectors above are as of this revision; changes follow"
        case .deleted: what = "\(connector.name) (id \(connectorID))"
        case .activated: what = "\(connector.name) (id \(connectorID)), \(connector.mode.name), version \(connector.version), \(connector.toolsCount) tools, \(connector.url)"
        default: what = "\(connector.name) (id \(connectorID)), \(connector.mode.name)"
        }
        return "rev \(revision)  \(Terminal.paint(kindColumn, .bold))  \(what)"
    }
}

extension ConnectorsV1.HistoryRecord {
    /// The record as a JSON object; the hash in hex.
    var json: JSONWriter {
        .object([
            ("revision", .unsigned(revision)), ("recorded_at", .string(recordedAt)), ("method", .string(method)),
            ("kind", .string(kind.name)), ("connector_id", .unsigned(connectorID)), ("connector_name", .string(connectorName)),
            ("caller", .object([
                ("uid", .unsigned(UInt64(caller.uid))), ("gid", .unsigned(UInt64(caller.gid))),
                ("pid", .integer(Int64(caller.pid))), ("process", .string(caller.process)),
            ])),
            ("request_id", .string(requestID)), ("hash", .string(hash.hexString)),
            ("connector", connector.json(detail: false)),
        ])
    }

    /// Who made the change: `uid 0 (connectorctl, pid 42)`.
    var callerText: String {
        let process = caller.process.isEmpty ? "" : "\(caller.process), "
        return "uid \(caller.uid) (\(process)pid \(caller.pid))"
    }
}

extension [UInt8] {
    /// Lowercase hex digits.
    var hexString: String {
        map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}
