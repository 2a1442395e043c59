/// A JSON value for output, with object keys kept in the order given.
indirect enum JSONWriter {
    case string(String)
    case integer(Int64)
    case unsigned(UInt64)
    case bool(Bool)
    case null
    /// JSON text that is already valid (e.g. a stored tools array).
    case raw(String)
    case array([JSONWriter])
    case object([(String, JSONWriter)])

    static func text(_ fields: [(String, JSONWriter)]) -> String {
        JSONWriter.object(fields).render(indent: 0)
    }

    /// Text on one line, for JSON lines.
    var compact: String {
        switch self {
        case .string, .integer, .unsigned, .bool, .null: render(indent: 0)
        case .raw(let text): text.isEmpty ? "null" : text.split(whereSeparator: \.isNewline).joined(separator: " ")
        case .array(let items): "[" + items.map(\.compact).joined(separator: ",") + "]"
        case .object(let fields): "{" + fields.map { Self.quote($0.0) + ":" + $0.1.compact }.joined(separator: ",") + "}"
        }
    }

    /// Pretty-printed text with two-space indentation.
    func render(indent: Int) -> String {
        let pad = String(repeating: "  ", count: indent + 1)
        let closing = String(repeating: "  ", count: indent)
        switch self {
        case .string(let value): return Self.quote(value)
        case .integer(let value): return String(value)
        case .unsigned(let value): return String(value)
        case .bool(let value): return value ? "true" : "false"
        case .null: return "null"
        case .raw(let text): return text.isEmpty ? "null" : text
        case .array(let items):
            guard !items.isEmpty else { return "[]" }
            return "[\n" + items.map { pad + $0.render(indent: indent + 1) }.joined(separator: ",\n") + "\n\(closing)]"
        case .object(let fields):
            guard !fields.isEmpty else { return "{}" }
            return "{\n" + fields.map { pad + Self.quote($0.0) + ": " + $0.1.render(indent: indent + 1) }.joined(separator: ",\n")
                + "\n\(closing)}"
        }
    }

    private static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
