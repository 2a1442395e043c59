import ArgumentParser

/// connectorctl: the administrator's command line for connectord.
@main
struct ConnectorCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connectorctl",
        abstract: "Register, activate and manage the MCP connectors kept by connectord.",
        discussion: """
            Two steps bring a connector into service:
              connectorctl register my_connector --description "What it does" --secret-stdin
              connectorctl activate 1 http://localhost:8025/connector.json

            Changes need a superuser (root, the daemon's user, or a configured admin); \
            anyone who can open the socket may list and get.

            Exit status: 0 ok; 1 other error; 2 invalid argument; 3 not found; \
            4 already exists; 5 permission denied; 6 failed precondition (schema fetch \
            answered non-200, invalid schema, not activated); 7 connector URL unreachable; \
            8 deadline exceeded; 9 aborted (activation already running, or not at the revision \
            --if-revision names); 10 connectord not running or not reachable; 11 the history \
            does not verify (audit verify); 64 usage error.

            Without --socket or CONNECTORD_SOCKET, connectorctl tries your own daemon's socket, \
            then the system daemon's (/run/connectord/connectord.sock). --socket, --timeout \
            and --json may come before or after the subcommand.

            Shell completion: connectorctl --generate-completion-script bash|zsh|fish
            """,
        subcommands: [
            Register.self, Activate.self, List.self, Get.self, SetMode.self, Delete.self, Logo.self, Create.self,
            Watch.self, History.self, Audit.self,
        ])

    /// The global options given before the subcommand (`connectorctl --socket PATH list`).
    @OptionGroup(title: "Global Options") var globalOptions: GlobalOptions
}
