import ArgumentParser
import ConnectorAPI
import ConnectorClient
import TTRPC

/// Delete a connector.
struct Delete: DaemonCommand {
    static let configuration = CommandConfiguration(abstract: "Delete a connector with its logo and secret.")

    @Argument(help: "The connector's id.")
    var id: UInt64

    @OptionGroup var change: ChangeOptions
    @OptionGroup var ownOptions: GlobalOptions
    @ParentCommand var root: ConnectorCtl

    func run() async throws {
        try await options.withClient { client throws(RPCError) in
            let response = try await client.delete(id: id, expectedRevision: change.expectedRevision, requestID: change.requestID ?? "")
            if options.json {
                print(JSONWriter.text([
                    ("status", .string("deleted")), ("message", .string(response.message)),
                    ("connector_id", .unsigned(response.connectorID)),
                ]))
            } else {
                print("\(response.message).")
            }
        }
    }
}
