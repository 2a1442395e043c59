import ArgumentParser
import ConnectorAPI
import ConnectorClient
import TTRPC

/// Change a connector's mode by hand.
struct SetMode: DaemonCommand {
    static let configuration = CommandConfiguration(
        commandName: "set-mode",
        abstract: "Change a connector's mode: sync, deactive, or back to active.",
        discussion: "active and sync need a connector that has been activated once.")

    @Argument(help: "The connector's id.")
    var id: UInt64

    @Argument(help: "The new mode: active, sync or deactive.")
    var mode: ModeArgument

    @OptionGroup var change: ChangeOptions
    @OptionGroup var ownOptions: GlobalOptions
    @ParentCommand var root: ConnectorCtl

    func run() async throws {
        try await options.withClient { client throws(RPCError) in
            let connector = try await client.setMode(
                id: id, mode: mode.wire, expectedRevision: change.expectedRevision, requestID: change.requestID ?? "")
            let message = "Connector '\(connector.name)' is now \(connector.mode.name)"
            if options.json {
                print(JSONWriter.text([
                    ("status", .string("updated")), ("message", .string(message)),
                    ("connector_id", .unsigned(connector.id)), ("name", .string(connector.name)),
                    ("mode", .string(connector.mode.name)), ("updated_at", .string(connector.updatedAt)),
                    ("revision", .unsigned(connector.revision)),
                ]))
            } else {
                print("\(message).")
            }
        }
    }
}
