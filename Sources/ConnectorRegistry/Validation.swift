/// The rules for what callers send.
enum Validation {
    static let maximumNameLength = 64
    static let maximumDescriptionLength = 4096
    static let maximumSecretBytes = 4096

    /// 1-64 characters of `[A-Za-z0-9_.-]`, starting with a letter or digit.
    static func check(name: String) throws(ConnectorRegistryError) {
        let rule = "use 1-\(maximumNameLength) characters of letters, digits, '_', '.' and '-', starting with a letter or digit"
        guard !name.isEmpty else { throw ConnectorRegistryError(.invalidArgument, "A connector name is required: \(rule)") }
        let bytes = Array(name.utf8)
        func isAlphanumeric(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
        }
        guard bytes.count <= maximumNameLength, isAlphanumeric(bytes[0]),
            bytes.allSatisfy({ isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") })
        else {
            let shown = bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) && bytes.count <= 100 ? " '\(name)'" : ""
            throw ConnectorRegistryError(.invalidArgument, "Invalid connector name\(shown): \(rule)")
        }
    }

    /// Required, at most 4,096 characters.
    static func check(description: String) throws(ConnectorRegistryError) {
        guard !description.allSatisfy(\.isWhitespace) else {
            throw ConnectorRegistryError(.invalidArgument, "A description is required")
        }
        guard description.count <= maximumDescriptionLength else {
            throw ConnectorRegistryError(.invalidArgument, "The description is longer than \(maximumDescriptionLength) characters")
        }
    }

    /// At most 4,096 bytes.
    static func check(secret: String) throws(ConnectorRegistryError) {
        guard secret.utf8.count <= maximumSecretBytes else {
            throw ConnectorRegistryError(.invalidArgument, "The secret is longer than \(maximumSecretBytes) bytes")
        }
    }

    /// An http or https URL with a host, at most 2,048 characters. A base URL
    /// (path empty or `/`) names the connector's `/connector.json`, as the seed
    /// project's backend reads it; that is the URL fetched and stored.
    /// A request id: at most 128 characters, none of them a control character.
    static func check(_ request: ChangeRequest) throws(ConnectorRegistryError) {
        guard let id = request.requestID else { return }
        guard id.count <= 128, !id.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw ConnectorRegistryError(.invalidArgument, "request_id must be at most 128 characters, none of them control characters")
        }
    }

    static func checkURL(_ text: String) throws(ConnectorRegistryError) -> HTTPURL {
        do {
            return try HTTPURL(text).namingSchema()
        } catch {
            throw ConnectorRegistryError(.invalidArgument, "Invalid connector URL: \(error.message)")
        }
    }
}
