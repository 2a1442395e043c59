/// One page of a listing, each connector with its revision (see
/// `ConnectorRegistry.cachedList`): what is derived from a connector may be
/// kept and reused while its id and revision hold.
///
/// It may hold fewer connectors than the page size asked even when more pages
/// follow: follow `nextPageToken` until it is empty.
public struct CachedConnectorPage: Sendable {
    /// By ascending id.
    public var entries: [CachedConnector]
    /// Empty on the last page.
    public var nextPageToken: String
    /// The registry's revision the page was read at.
    public var revision: UInt64
}
