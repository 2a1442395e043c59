/// One page of a listing, each connector with its cache revision when it has
/// one (see `ConnectorRegistry.cachedList`).
///
/// It may hold fewer connectors than the page size asked even when more pages
/// follow: follow `nextPageToken` until it is empty.
public struct CachedConnectorPage: Sendable {
    /// A connector of the page.
    public enum Entry: Sendable {
        /// Cached at its revision: what is derived from it may be kept and
        /// reused while the revision holds.
        case cached(CachedConnector)
        /// Read from the database but not cached (a write happened while it
        /// was read): nothing derived from it may be kept.
        case uncached(Connector)

        public var connector: Connector {
            switch self {
            case .cached(let cached): cached.connector
            case .uncached(let connector): connector
            }
        }
    }

    /// By ascending id.
    public var entries: [Entry]
    /// Empty on the last page.
    public var nextPageToken: String
}
