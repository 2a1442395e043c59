import ConnectorAPI

extension ConnectorsV1.ConnectorMode {
    /// The mode's name as the registry spells it: `sync`, `active`, `deactive`.
    var name: String {
        switch self {
        case .sync: "sync"
        case .active: "active"
        case .deactive: "deactive"
        default: "unspecified"
        }
    }

    /// The badge shown in listings, coloured on a terminal.
    var badge: String {
        switch self {
        case .active: Terminal.paint("● Active", .green)
        case .sync: Terminal.paint("◆ Sync Mode", .blue)
        case .deactive: Terminal.paint("○ Not Activated", .yellow)
        default: "? Unknown"
        }
    }
}

extension ConnectorsV1.Connector {
    /// The connector as a JSON object; with `detail`, its tools, templates and config too.
    func json(detail: Bool) -> JSONWriter {
        var fields: [(String, JSONWriter)] = [
            ("id", .unsigned(id)), ("name", .string(name)), ("description", .string(description)),
            ("url", .string(url)), ("mode", .string(mode.name)), ("version", .string(version)),
            ("tools_count", .unsigned(UInt64(toolsCount))), ("templates_count", .unsigned(UInt64(templatesCount))),
            ("logo_url", .string(logoURL)), ("has_logo", .bool(hasLogo)), ("has_secret", .bool(hasSecret)),
            ("created_at", .string(createdAt)), ("updated_at", .string(updatedAt)), ("revision", .unsigned(revision)),
        ]
        if detail {
            fields += [("tools", .raw(toolsJSON)), ("templates", .raw(templatesJSON)), ("config", .raw(serverConfigJSON))]
        }
        return .object(fields)
    }
}
