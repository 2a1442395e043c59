import ArgumentParser
import ConnectorAPI
import ConnectorClient
import TTRPC

/// List connectors.
struct List: DaemonCommand {
    static let configuration = CommandConfiguration(abstract: "List connectors, by id.")

    @Option(name: .long, help: "Only connectors in this mode: active, sync or deactive.")
    var mode: ModeArgument?

    @Option(name: .long, help: "Connectors per page (1-1000); without it every page is fetched.")
    var pageSize: UInt32?

    @Option(name: .long, help: "Continue from a previous page's next_page_token.")
    var pageToken: String?

    @OptionGroup var ownOptions: GlobalOptions
    @ParentCommand var root: ConnectorCtl

    func run() async throws {
        try await options.withClient { client throws(RPCError) in
            let wireMode = mode?.wire ?? .unspecified
            let connectors: [ConnectorsV1.Connector]
            var nextToken = ""
            if pageSize != nil || pageToken != nil {
                let page = try await client.list(mode: wireMode, pageSize: pageSize ?? 0, pageToken: pageToken ?? "")
                connectors = page.connectors
                nextToken = page.nextPageToken
            } else {
                connectors = try await client.listAll(mode: wireMode)
            }
            if options.json {
                var fields: [(String, JSONWriter)] = [("connectors", .array(connectors.map { $0.json(detail: false) }))]
                if !nextToken.isEmpty { fields.append(("next_page_token", .string(nextToken))) }
                print(JSONWriter.text(fields))
                return
            }
            guard !connectors.isEmpty else {
                print("No connectors\(mode.map { " in mode \($0.rawValue)" } ?? ""). Register one with: connectorctl register NAME --description TEXT")
                return
            }
            printTable(connectors)
            if !nextToken.isEmpty { print("More: connectorctl list --page-token \(nextToken)") }
        }
    }

    private func printTable(_ connectors: [ConnectorsV1.Connector]) {
        let header = ["ID", "NAME", "MODE", "VERSION", "TOOLS", "TEMPLATES", "URL"]
        let rows = connectors.map { connector in
            [String(connector.id), connector.name, connector.mode.badge, connector.version,
             String(connector.toolsCount), String(connector.templatesCount), connector.url]
        }
        let plain = rows.map { row in row.map(Self.visibleWidth) }
        var widths = header.map(\.count)
        for row in plain { for (index, width) in row.enumerated() { widths[index] = max(widths[index], width) } }
        func line(_ cells: [String], _ cellWidths: [Int]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - cellWidths[index] + 2)
            }.joined()
        }
        print(Terminal.paint(line(header, header.map(\.count)), .bold))
        for (row, rowWidths) in zip(rows, plain) { print(line(row, rowWidths)) }
    }

    /// Width on screen, ignoring colour escapes.
    private static func visibleWidth(_ text: String) -> Int {
        var width = 0, inEscape = false
        for scalar in text.unicodeScalars {
            if inEscape { if scalar == "m" { inEscape = false }; continue }
            if scalar == "\u{1B}" { inEscape = true; continue }
            width += 1
        }
        return width
    }
}

/// A mode as typed on the command line.
enum ModeArgument: String, ExpressibleByArgument, CaseIterable {
    case active, sync, deactive

    var wire: ConnectorsV1.ConnectorMode {
        switch self {
        case .active: .active
        case .sync: .sync
        case .deactive: .deactive
        }
    }
}
