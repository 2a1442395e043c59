import ArgumentParser
import ConnectorAPI
import ConnectorClient
import TTRPC

/// Checks on the audit trail.
struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the history of changes (superuser).",
        subcommands: [Verify.self])

    /// Walks the history's hash chain.
    struct Verify: DaemonCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check that no history record was edited or removed.",
            discussion: """
                connectord walks the hash chain of the history it keeps. Prints "ok, N records \
                (revisions A-B)" and exits 0 when every record matches; else names the first \
                revision that does not and exits 11.
                """)

        @OptionGroup var ownOptions: GlobalOptions
        @ParentCommand var root: ConnectorCtl

        func run() async throws {
            var verification = ConnectorsV1.VerifyHistoryResponse()
            try await options.withClient { client throws(RPCError) in
                verification = try await client.verifyHistory()
            }
            let range = "revisions \(verification.oldestRevision)-\(verification.latestRevision)"
            if options.json {
                var fields: [(String, JSONWriter)] = [
                    ("status", .string(verification.ok ? "ok" : "error")), ("ok", .bool(verification.ok)),
                    ("records", .unsigned(verification.records)),
                    ("oldest_revision", .unsigned(verification.oldestRevision)),
                    ("latest_revision", .unsigned(verification.latestRevision)),
                ]
                if !verification.ok {
                    fields += [
                        ("code", .string("DATA_LOSS")), ("first_bad_revision", .unsigned(verification.firstBadRevision)),
                        ("detail", .string(verification.message)),
                    ]
                }
                print(JSONWriter.text(fields))
            }
            guard verification.ok else {
                Terminal.standardError(
                    "Error: the history does not verify at revision \(verification.firstBadRevision): \(verification.message) "
                        + "(\(verification.records) records checked, \(range))")
                throw ExitCode(11)
            }
            if !options.json {
                print("ok, \(verification.records) records" + (verification.records > 0 ? " (\(range))" : ""))
            }
        }
    }
}
