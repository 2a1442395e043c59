/// Bounds on schema and logo fetches.
public struct FetchLimits: Sendable, Hashable {
    /// How long to wait for a TCP connection.
    public var connectTimeout: Duration = .seconds(2)
    /// The whole fetch (schema, redirects and logo), unless the caller's deadline is sooner.
    public var totalTimeout: Duration = .seconds(10)
    /// The largest schema accepted.
    public var maximumSchemaBytes = 4 << 20
    /// The largest logo accepted.
    public var maximumLogoBytes = 1 << 20
    /// Redirects followed before giving up (only to http and https).
    public var maximumRedirects = 5

    public init() {}
}
