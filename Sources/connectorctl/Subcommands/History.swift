import ArgumentParser
import ConnectorAPI
import Foundation
import ConnectorClient
import TTRPC

/// The audit trail: who changed what, when.
struct History: DaemonCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the history of changes: who changed which connector, when, and how (superuser).",
        discussion: "Every page, oldest first. `audit verify` checks that the records were not edited.")

    @Argument(help: "Only this connector's changes (default: every connector's).")
    var id: UInt64?

    @Option(name: .long, help: ArgumentHelp("From this revision on.", valueName: "REV"))
    var since: UInt64?

    @OptionGroup var ownOptions: GlobalOptions
    @ParentCommand var root: ConnectorCtl

    func validate() throws {
        if id == 0 { throw ValidationError("the connector id must be 1 or more") }
    }

    func run() async throws {
        try await options.withClient { client throws(RPCError) in
            var records: [ConnectorsV1.HistoryRecord] = []
            var token = ""
            repeat {
                let page = try await client.history(connectorID: id ?? 0, startRevision: since ?? 0, pageSize: 1000, pageToken: token)
                records += page.records
                token = page.nextPageToken
            } while !token.isEmpty
            if options.json {
                print(JSONWriter.text([("records", .array(records.map(\.json)))]))
                return
            }
            guard !records.isEmpty else {
                print("No changes recorded\(id.map { " for connector \($0)" } ?? "")\(since.map { " from revision \($0) on" } ?? "").")
                return
            }
            printTable(records)
        }
    }

    private func printTable(_ records: [ConnectorsV1.HistoryRecord]) {
        let header = ["REV", "TIME", "METHOD", "KIND", "ID", "NAME", "CALLER"]
        let rows = records.map { record in
            [String(record.revision), record.recordedAt, record.method, record.kind.name, String(record.connectorID),
             record.connectorName, record.callerText]
        }
        var widths = header.map(\.count)
        for row in rows { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell.padding(toLength: widths[index] + 2, withPad: " ", startingAt: 0)
            }.joined()
        }
        print(Terminal.paint(line(header), .bold))
        for row in rows { print(line(row)) }
    }
}
