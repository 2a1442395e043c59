import ArgumentParser
import ConnectorAPI
import ConnectorClient
import TTRPC
import Foundation

/// Save a connector's logo to a file.
struct Logo: DaemonCommand {
    static let configuration = CommandConfiguration(abstract: "Write a connector's stored logo to a file.")

    @Argument(help: "The connector's id.")
    var id: UInt64

    @Option(name: [.short, .long], help: "Where to write it (default: NAME-logo.EXT in the current directory).")
    var output: String?

    @OptionGroup var ownOptions: GlobalOptions
    @ParentCommand var root: ConnectorCtl

    func run() async throws {
        try await options.withClient { client throws(RPCError) in
            let logo = try await client.logo(id: id)
            let path: String
            if let output {
                path = output
            } else {
                let connector = try await client.get(id: id)
                path = "\(connector.name)-logo.\(Self.fileExtension(logo.contentType))"
            }
            guard FileManager.default.createFile(atPath: path, contents: Data(logo.data)) else {
                throw RPCError(code: .unknown, message: "cannot write \(path)")
            }
            if options.json {
                print(JSONWriter.text([
                    ("status", .string("saved")), ("path", .string(path)), ("content_type", .string(logo.contentType)),
                    ("bytes", .integer(Int64(logo.data.count))),
                ]))
            } else {
                print("Wrote \(logo.contentType) logo (\(logo.data.count) bytes) to \(path).")
            }
        }
    }

    private static func fileExtension(_ contentType: String) -> String {
        switch contentType {
        case "image/png": "png"
        case "image/jpeg": "jpg"
        case "image/gif": "gif"
        case "image/webp": "webp"
        case "image/svg+xml": "svg"
        default: "img"
        }
    }
}
