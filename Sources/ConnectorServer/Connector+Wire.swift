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

extension ConnectorsV1.EventKind {
    init(_ kind: ConnectorEvent.Kind) {
        switch kind {
        case .snapshot: self = .snapshot
        case .bookmark: self = .bookmark
        case .change(let change): self.init(change)
        }
    }

    init(_ kind: ChangeKind) {
        switch kind {
        case .registered: self = .registered
        case .activated: self = .activated
        case .modeChanged: self = .modeChanged
        case .updated: self = .updated
        case .deleted: self = .deleted
        }
    }
}

extension ConnectorsV1.WatchEvent {
    init(_ event: ConnectorEvent) {
        self.init(
            revision: event.revision, kind: ConnectorsV1.EventKind(event.kind), connectorID: UInt64(event.connectorID),
            connector: event.connector.map(ConnectorsV1.Connector.init) ?? ConnectorsV1.Connector())
    }
}

extension ConnectorsV1.HistoryRecord {
    init(_ record: HistoryRecord) {
        self.init(
            revision: record.revision, recordedAt: record.recordedAt.rfc3339, method: record.method,
            kind: ConnectorsV1.EventKind(record.kind), connectorID: UInt64(record.connectorID),
            connectorName: record.connectorName,
            caller: ConnectorsV1.Caller(
                uid: record.caller.uid, gid: record.caller.gid, pid: record.caller.pid, process: record.caller.processName),
            connector: ConnectorsV1.Connector(record.connector), requestID: record.requestID ?? "", hash: record.hash)
    }
}
