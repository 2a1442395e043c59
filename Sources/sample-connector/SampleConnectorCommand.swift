import ArgumentParser
import Foundation
import SampleConnectorKit
import UnixSignals

/// Serves the sample connector's connector.json and logo on 127.0.0.1, so
/// activation can be tried without writing a connector.
@main
struct SampleConnectorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample-connector",
        abstract: "Serve a sample connector.json (3 tools, 2 templates, a config schema) and its logo on 127.0.0.1.",
        discussion: "Stop it with Ctrl-C or SIGTERM.")

    @Option(name: .shortAndLong, help: "Port on 127.0.0.1 (0: any free port; the URL is printed).")
    var port: Int = 8025

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
    }

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        try await FixtureHTTPServer.with(routes: SampleConnector.routes, port: port) { server in
            print("sample connector: \(server.url("/connector.json"))")
            fflush(nil)
            for await _ in signals { break }
        }
    }
}
