import ArgumentParser
import ConnectorAPI
import ConnectorClient
import TTRPC
import Foundation

/// Show one connector.
struct Get: DaemonCommand {
    static let configuration = CommandConfiguration(abstract: "Show one connector with its tools and templates.")

    @Argument(help: "The connector's id.")
    var id: UInt64

    @OptionGroup var ownOptions: GlobalOptions
    @ParentCommand var root: ConnectorCtl

    func run() async throws {
        try await options.withClient { client throws(RPCError) in
            let connector = try await client.get(id: id)
            if options.json {
                print(connector.json(detail: true).render(indent: 0))
                return
            }
            let fields: [(String, String)] = [
                ("Name", connector.name), ("ID", String(connector.id)), ("Mode", connector.mode.badge),
                ("Description", connector.description), ("URL", connector.url.isEmpty ? "(not activated)" : connector.url),
                ("Version", connector.version), ("Tools", String(connector.toolsCount)),
                ("Templates", String(connector.templatesCount)),
                ("Logo", connector.hasLogo ? "stored (\(connector.logoURL))" : connector.logoURL.isEmpty ? "none" : "not stored (\(connector.logoURL))"),
                ("Secret", connector.hasSecret ? "set" : "none"),
                ("Created", connector.createdAt), ("Updated", connector.updatedAt),
                ("Revision", String(connector.revision)),
            ]
            let width = fields.map(\.0.count).max() ?? 0
            for (label, value) in fields {
                print(Terminal.paint(label + ":", .bold) + String(repeating: " ", count: width - label.count + 1) + value)
            }
            for (title, names) in [("Tools", names(connector.toolsJSON)), ("Templates", names(connector.templatesJSON))] where !names.isEmpty {
                print(Terminal.paint("\(title):", .bold))
                for name in names { print("  - \(name)") }
            }
        }
    }

    /// The `name` of each item of a stored JSON array, in order.
    private func names(_ json: String) -> [String] {
        guard let data = json.data(using: .utf8),
            let items = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]]
        else { return [] }
        return items.compactMap { $0["name"] as? String }
    }
}
