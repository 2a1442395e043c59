internal import GRDB

/// How a `Connector` is kept in `mcp_connectors`: one entry per field, the
/// column (or SQL expression) selected for it and how its value is read.
///
/// Adding a field to `Connector` is a migration that adds its column and one
/// line here. Rows are read by position (a lookup by name lowercases the name
/// each time), in the order of `fields`.
enum ConnectorTable {
    static let fields: [StoredField] = [
        StoredField("id", \.id),
        StoredField("name", \.name),
        StoredField("description", \.description),
        StoredField("url", \.url),
        StoredField("mode", \.mode, ConnectorMode.init(stored:)),
        StoredField("version", \.version),
        StoredField("tools", \.toolsJSON),
        StoredField("tools_count", \.toolsCount),
        StoredField("templates", \.templatesJSON),
        StoredField("templates_count", \.templatesCount),
        StoredField("server_config", \.serverConfigJSON),
        StoredField("logo_url", \.logoURL),
        StoredField("logo IS NOT NULL", \.hasLogo),
        StoredField("sealed_secret IS NOT NULL", \.hasSecret),
        StoredField("created_at", \.createdAt, Timestamp.init(microseconds:)),
        StoredField("updated_at", \.updatedAt, Timestamp.init(microseconds:)),
        StoredField("revision", \.revision),
    ]

    /// The SELECT list of a `Connector`: everything but the logo bytes and the secret.
    static let selection = fields.map(\.sql).joined(separator: ", ")

    /// Decodes a row selected with `selection`.
    static func connector(_ row: Row) throws -> Connector {
        var connector = Connector()
        for (index, field) in fields.enumerated() {
            try field.read(row, index, &connector)
        }
        return connector
    }
}

/// One field of `Connector` in `ConnectorTable`.
struct StoredField: Sendable {
    /// The column or expression in the SELECT list.
    let sql: String
    /// Reads the value at a position of a row into its field.
    let read: @Sendable (Row, Int, inout Connector) throws -> Void

    /// A column stored as the field's own type.
    init<Value: DatabaseValueConvertible & StatementColumnConvertible & SendableMetatype>(
        _ sql: String, _ field: any WritableKeyPath<Connector, Value> & Sendable
    ) {
        self.init(sql, field) { (value: Value) in value }
    }

    /// A column stored as `Stored`, converted to the field's type.
    init<Stored: DatabaseValueConvertible & StatementColumnConvertible & SendableMetatype, Value>(
        _ sql: String, _ field: any WritableKeyPath<Connector, Value> & Sendable,
        _ convert: @escaping @Sendable (Stored) throws -> Value
    ) {
        self.sql = sql
        read = { row, index, connector in
            connector[keyPath: field] = try convert(try row.decode(Stored.self, atIndex: index))
        }
    }
}
