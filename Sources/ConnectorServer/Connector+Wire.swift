import ConnectorAPI
import ConnectorRegistry

extension ConnectorsV1.Connector {
    /// The wire form of a stored connector (never with its secret).
    init(_ connector: Connector) {
        self.init()
        id = UInt64(connector.id)
        name = connector.name
        description = connector.description
        url = connector.url
        mode = ConnectorsV1.ConnectorMode(connector.mode)
        version = connector.version
        logoURL = connector.logoURL
        hasLogo = connector.hasLogo
        hasSecret = connector.hasSecret
        toolsCount = UInt32(clamping: connector.toolsCount)
        templatesCount = UInt32(clamping: connector.templatesCount)
        toolsJSON = connector.toolsJSON
        templatesJSON = connector.templatesJSON
        serverConfigJSON = connector.serverConfigJSON
        createdAt = connector.createdAt.rfc3339
        updatedAt = connector.updatedAt.rfc3339
        revision = connector.revision
    }
}

extension ConnectorsV1.ConnectorMode {
    init(_ mode: ConnectorMode) {
        switch mode {
        case .sync: self = .sync
        case .active: self = .active
        case .deactive: self = .deactive
        }
    }

    /// The domain mode, or nil for UNSPECIFIED; unknown numbers are refused.
    func domainMode() throws(ConnectorRegistryError) -> ConnectorMode? {
        switch self {
        case .unspecified: return nil
        case .sync: return .sync
        case .active: return .active
        case .deactive: return .deactive
        default: throw ConnectorRegistryError(.invalidArgument, "Unknown connector mode \(rawValue)")
        }
    }
}
