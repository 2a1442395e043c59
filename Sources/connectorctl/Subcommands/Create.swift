import ArgumentParser
import ConnectorAPI
import ConnectorClient
import TTRPC

/// The deprecated single-step registration.
struct Create: DaemonCommand {
    static let configuration = CommandConfiguration(
        abstract: "Deprecated: register and activate in one step from a connector URL.",
        discussion: "Use register, then activate. The name is taken from the schema.")

    @Argument(help: "http(s) URL of the running connector's connector.json, or its base URL (http://host:port).")
    var url: String

    @OptionGroup var secret: SecretOptions
    @OptionGroup var ownOptions: GlobalOptions
    @ParentCommand var root: ConnectorCtl

    func run() async throws {
        Terminal.standardError("warning: 'create' is deprecated; use 'connectorctl register' then 'connectorctl activate'")
        let secret = try secret.read()
        try await options.withClient { client throws(RPCError) in
            let response = try await client.create(url: url, secret: secret)
            printActivation(status: "created", message: response.message, connector: response.connector, json: options.json)
        }
    }
}
