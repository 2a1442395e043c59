import Foundation

/// An absolute http or https URL with a host, as the registry accepts for
/// connector schemas and logos.
struct HTTPURL: Sendable, Hashable, CustomStringConvertible {
    static let maximumLength = 2048

    let url: URL

    /// Checks `text`: http or https, a host, no credentials, no whitespace or
    /// control characters, at most 2,048 characters.
    /// - Throws: a message saying what is wrong.
    init(_ text: String) throws(HTTPURLError) {
        guard !text.isEmpty else { throw HTTPURLError("a connector URL is required") }
        guard text.count <= Self.maximumLength else {
            throw HTTPURLError("the connector URL is longer than \(Self.maximumLength) characters")
        }
        guard !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control || $0.properties.isWhitespace })
        else { throw HTTPURLError("the connector URL contains whitespace or control characters") }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased() else {
            throw HTTPURLError("'\(text)' is not a valid URL")
        }
        guard scheme == "http" || scheme == "https" else {
            throw HTTPURLError("the connector URL must use http or https, not '\(scheme)'")
        }
        guard let host = url.host, !host.isEmpty else { throw HTTPURLError("the connector URL has no host") }
        guard url.user == nil, url.password == nil else {
            throw HTTPURLError("the connector URL must not contain credentials")
        }
        self.url = url
    }

    /// Resolves `reference` (absolute, or relative to this URL) and checks it.
    func resolving(_ reference: String) throws(HTTPURLError) -> HTTPURL {
        guard let resolved = URL(string: reference, relativeTo: url)?.absoluteURL else {
            throw HTTPURLError("'\(reference)' is not a valid URL")
        }
        return try HTTPURL(resolved.absoluteString)
    }

    /// This URL, or, when its path is empty or `/` (a connector's base URL
    /// such as `http://host:port`), the same URL with the path `/connector.json`:
    /// the schema a connector serves at its root.
    /// - Throws: if the longer URL no longer passes the checks of `init(_:)`.
    func namingSchema() throws(HTTPURLError) -> HTTPURL {
        guard var components = URLComponents(url: url, resolvingAgainstBaseURL: false),
            components.percentEncodedPath.isEmpty || components.percentEncodedPath == "/"
        else { return self }
        components.percentEncodedPath = "/connector.json"
        guard let named = components.url else { return self }
        return try HTTPURL(named.absoluteString)
    }

    var description: String { url.absoluteString }
}

/// Why a string is not an acceptable http(s) URL.
struct HTTPURLError: Error, Hashable, Sendable {
    var message: String
    init(_ message: String) { self.message = message }
}
