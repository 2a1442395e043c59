import ArgumentParser
import Foundation

/// Ways to hand over a connector secret; the first two keep it out of `ps`
/// and shell history.
struct SecretOptions: ParsableArguments {
    @Flag(name: .customLong("secret-stdin"), help: "Read the secret from standard input (one trailing newline is dropped).")
    var fromStandardInput = false

    @Option(name: .customLong("secret-file"), help: "Read the secret from a file (one trailing newline is dropped).")
    var file: String?

    @Option(name: .customLong("secret"), help: "The secret itself (visible to other users in ps; prefer --secret-stdin).")
    var value: String?

    func validate() throws {
        let given = [fromStandardInput, file != nil, value != nil].filter { $0 }.count
        guard given <= 1 else { throw ValidationError("give the secret one way: --secret-stdin, --secret-file or --secret") }
    }

    /// The secret, or nil when none was given.
    func read() throws -> String? {
        if let value {
            Terminal.standardError("warning: --secret exposes the secret in ps and shell history; use --secret-stdin or --secret-file")
            return value
        }
        let data: Data
        if fromStandardInput {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else if let file {
            guard let contents = FileManager.default.contents(atPath: file) else {
                throw ValidationError("cannot read secret file \(file)")
            }
            data = contents
        } else {
            return nil
        }
        guard var secret = String(data: data, encoding: .utf8) else { throw ValidationError("the secret is not UTF-8 text") }
        if secret.hasSuffix("\r\n") { secret.removeLast(2) } else if secret.hasSuffix("\n") { secret.removeLast() }
        return secret
    }
}
