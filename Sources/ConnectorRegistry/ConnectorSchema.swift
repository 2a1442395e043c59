import Foundation

/// A connector's `connector.json`, checked: the fields the registry stores,
/// with tools, templates and config kept as JSON text (unknown keys included).
struct ConnectorSchema: Sendable, Hashable {
    var name: String
    var description: String
    var version: String
    var logoURL: String
    var toolsJSON: String
    var toolsCount: Int
    var templatesJSON: String
    var templatesCount: Int
    var configJSON: String

    /// Parses and checks a schema document.
    /// - Throws: `SchemaFault` naming the JSON path of the first fault.
    init(parsing bytes: [UInt8]) throws(SchemaFault) {
        if JSONValue.nestingDepth(of: bytes, limit: JSONValue.maximumDepth) > JSONValue.maximumDepth {
            throw SchemaFault(path: "$", problem: "nested deeper than \(JSONValue.maximumDepth) levels")
        }
        let document: JSONValue
        do {
            document = try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        } catch {
            throw SchemaFault(path: "$", problem: "not valid JSON")
        }
        guard case .object(let root) = document else {
            throw SchemaFault(path: "$", problem: "expected an object, found \(document.typeName)")
        }
        name = try Self.string(root, "name", at: "$") ?? ""
        description = try Self.string(root, "description", at: "$") ?? ""
        version = try Self.string(root, "version", at: "$").flatMap { $0.isEmpty ? nil : $0 } ?? "0.0.0"
        logoURL = try Self.string(root, "logo_url", at: "$") ?? ""

        let tools = try Self.namedItems(root, "tools", at: "$") { item, path throws(SchemaFault) in
            _ = try Self.string(item, "title", at: path)
            _ = try Self.string(item, "description", at: path)
            for key in ["inputSchema", "outputSchema", "annotations"] {
                try Self.expectObject(item, key, at: path)
            }
        }
        let templates = try Self.namedItems(root, "templates", at: "$") { item, path throws(SchemaFault) in
            _ = try Self.string(item, "title", at: path)
            _ = try Self.string(item, "description", at: path)
            if let value = item["is_async"], case .bool = value {} else if let value = item["is_async"] {
                throw SchemaFault(path: "\(path).is_async", problem: "expected a boolean, found \(value.typeName)")
            }
            try Self.expectObject(item, "inputSchema", at: path)
        }
        try Self.expectObject(root, "config", at: "$")

        toolsJSON = JSONValue.array(tools).jsonText
        toolsCount = tools.count
        templatesJSON = JSONValue.array(templates).jsonText
        templatesCount = templates.count
        configJSON = (root["config"] ?? .object([:])).jsonText
    }

    private static func string(_ object: [String: JSONValue], _ key: String, at path: String) throws(SchemaFault) -> String? {
        switch object[key] {
        case nil, .null?: return nil
        case .string(let value)?: return value
        case let other?: throw SchemaFault(path: "\(path).\(key)", problem: "expected a string, found \(other.typeName)")
        }
    }

    private static func expectObject(_ object: [String: JSONValue], _ key: String, at path: String) throws(SchemaFault) {
        switch object[key] {
        case nil, .null?, .object?: return
        case let other?: throw SchemaFault(path: "\(path).\(key)", problem: "expected an object, found \(other.typeName)")
        }
    }

    /// An optional array of objects, each with a required, unique, non-empty `name`.
    private static func namedItems(
        _ root: [String: JSONValue], _ key: String, at path: String,
        check: ([String: JSONValue], String) throws(SchemaFault) -> Void
    ) throws(SchemaFault) -> [JSONValue] {
        let items: [JSONValue]
        switch root[key] {
        case nil, .null?: return []
        case .array(let array)?: items = array
        case let other?: throw SchemaFault(path: "\(path).\(key)", problem: "expected an array, found \(other.typeName)")
        }
        var seen = Set<String>()
        for (index, item) in items.enumerated() {
            let itemPath = "\(path).\(key)[\(index)]"
            guard case .object(let object) = item else {
                throw SchemaFault(path: itemPath, problem: "expected an object, found \(item.typeName)")
            }
            guard let name = try string(object, "name", at: itemPath), !name.isEmpty else {
                throw SchemaFault(path: "\(itemPath).name", problem: "a name is required")
            }
            guard seen.insert(name).inserted else {
                throw SchemaFault(path: "\(itemPath).name", problem: "duplicate name '\(name)'")
            }
            try check(object, itemPath)
        }
        return items
    }
}

/// The first fault found in a connector schema.
struct SchemaFault: Error, Hashable, Sendable {
    /// JSONPath of the faulty value, e.g. `$.tools[2].name`.
    var path: String
    var problem: String

    var message: String { "Invalid connector schema: \(path): \(problem)" }
}
