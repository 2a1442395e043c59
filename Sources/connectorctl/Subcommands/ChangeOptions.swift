import ArgumentParser

/// The options of a change to an existing connector: compare-and-swap and
/// a request id.
struct ChangeOptions: ParsableArguments {
    static let requestIDHelp = ArgumentHelp(
        "Do the change at most once: a repeat with the same id (yours, within 24 hours) answers what the first did.",
        discussion: "Default: a new random id.", valueName: "ID")

    @Option(
        name: .customLong("if-revision"),
        help: ArgumentHelp(
            "Change only if the connector is still at this revision (get --json shows it); else exit 9, changing nothing.",
            valueName: "REV"))
    var ifRevision: UInt64?

    @Option(name: .customLong("request-id"), help: requestIDHelp)
    var requestID: String?

    func validate() throws {
        if ifRevision == 0 { throw ValidationError("--if-revision must be a revision, 1 or more") }
        if requestID?.isEmpty == true { throw ValidationError("--request-id must not be empty") }
    }

    /// The revision the daemon checks; 0: no check.
    var expectedRevision: UInt64 { ifRevision ?? 0 }
}
