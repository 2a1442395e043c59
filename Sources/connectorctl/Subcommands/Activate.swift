import ArgumentParser
import ConnectorAPI
import ConnectorClient
import TTRPC

/// Step 2: activate a registered connector.
struct Activate: DaemonCommand {
    static let configuration = CommandConfiguration(
        abstract: "Activate a connector (step 2): fetch its connector.json and set mode active.",
        discussion: "Activating an active connector again re-fetches and replaces its schema.")

    @Argument(help: "The connector's id, as register printed it.")
    var id: UInt64

    @Argument(help: "http(s) URL of the running connector's connector.json, or its base URL (http://host:port).")
    var url: String

    @OptionGroup var change: ChangeOptions
    @OptionGroup var ownOptions: GlobalOptions
    @ParentCommand var root: ConnectorCtl

    func run() async throws {
        try await options.withClient { client throws(RPCError) in
            let response = try await client.activate(
                id: id, url: url, expectedRevision: change.expectedRevision, requestID: change.requestID ?? "")
            printActivation(status: "activated", message: response.message, connector: response.connector, json: options.json)
        }
    }
}

/// Prints the result of an activation (or the deprecated create) in the seed's shape.
func printActivation(status: String, message: String, connector: ConnectorsV1.Connector, json: Bool) {
    if json {
        print(JSONWriter.text([
            ("status", .string(status)), ("message", .string(message)),
            ("connector_id", .unsigned(connector.id)), ("name", .string(connector.name)),
            ("url", .string(connector.url)), ("mode", .string(connector.mode.name)),
            ("version", .string(connector.version)),
            ("tools_count", .unsigned(UInt64(connector.toolsCount))),
            ("templates_count", .unsigned(UInt64(connector.templatesCount))),
            ("created_at", .string(connector.createdAt)), ("updated_at", .string(connector.updatedAt)),
            ("revision", .unsigned(connector.revision)),
        ]))
    } else {
        print("\(message).")
        print("  id \(connector.id), version \(connector.version), \(connector.toolsCount) tools, \(connector.templatesCount) templates")
    }
}
