import ArgumentParser
import ConnectorAPI
import ConnectorClient
import TTRPC

/// Step 1: register a connector.
struct Register: DaemonCommand {
    static let configuration = CommandConfiguration(
        abstract: "Register a connector (step 1); it starts in mode deactive.",
        discussion: "The connector need not be running yet. Activate it afterwards with its connector URL.")

    @Argument(help: "Unique name: 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit.")
    var name: String

    @Option(name: [.short, .long], help: "What the connector does (required).")
    var description: String

    @OptionGroup var secret: SecretOptions

    @Option(name: .customLong("request-id"), help: ChangeOptions.requestIDHelp)
    var requestID: String?

    @OptionGroup var ownOptions: GlobalOptions
    @ParentCommand var root: ConnectorCtl

    func run() async throws {
        let secret = try secret.read()
        try await options.withClient { client throws(RPCError) in
            let response = try await client.register(name: name, description: description, secret: secret, requestID: requestID ?? "")
            let connector = response.connector
            if options.json {
                print(JSONWriter.text([
                    ("status", .string("registered")), ("message", .string(response.message)),
                    ("connector_id", .unsigned(connector.id)), ("name", .string(connector.name)),
                    ("mode", .string(connector.mode.name)), ("description", .string(connector.description)),
                    ("created_at", .string(connector.createdAt)), ("next_step", .string(response.nextStep)),
                ]))
            } else {
                print("\(response.message) (id \(connector.id), \(connector.mode.name)).")
                print("Next: connectorctl activate \(connector.id) <connector-url>")
            }
        }
    }
}
