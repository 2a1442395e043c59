import Foundation
import SampleConnectorKit
import TestSupport
import Testing

/// Schema servers that misbehave, against the real daemon (`--fetch-timeout 3`):
/// each activation ends within the deadline with its documented status and
/// message, the daemon's memory does not grow with what the server sends, and
/// the daemon keeps serving. Figures go to RELIABILITY.md.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct HostileSchemaServerTests {
    /// One misbehaving server: where the schema URL points, and what Activate must answer.
    struct Case: Sendable {
        var name: String
        var path: String
        /// The status code, or nil for an activation that succeeds (a bad logo is only noted).
        var code: Int?
        var message: String
    }

    static let fetchTimeout = 3

    static let routes: [String: FixtureRoute] = {
        var routes = SampleConnector.routes
        routes["/hang"] = .hang
        routes["/drip"] = .drip(chunks: 10_000, chunkSize: 8, interval: .milliseconds(50))
        routes["/gigabyte"] = .large(bytes: 1 << 30, declareLength: true)
        routes["/endless"] = .large(bytes: 1 << 40, declareLength: false)
        routes["/deep"] = .json(String(repeating: "[", count: 200_000) + String(repeating: "]", count: 200_000))
        routes["/loop-a"] = .redirect(to: "/loop-b")
        routes["/loop-b"] = .redirect(to: "/loop-a")
        routes["/to-file"] = .redirect(to: "file:///etc/shadow")
        routes["/to-ftp"] = .redirect(to: "ftp://127.0.0.1/connector.json", status: 301)
        routes["/huge-logo.json"] = .json(SampleConnector.schemaJSON.replacingOccurrences(of: "\"logo.svg\"", with: "\"/huge.png\""))
        routes["/huge.png"] = .large(bytes: 1 << 30, declareLength: false)
        routes["/text-logo.json"] = .json(SampleConnector.schemaJSON.replacingOccurrences(of: "\"logo.svg\"", with: "\"/text.png\""))
        routes["/text.png"] = .respond(headers: ["Content-Type": "image/png"], body: Array("<html>not an image</html>".utf8))
        return routes
    }()

    static let cases = [
        Case(name: "headers never sent", path: "/hang", code: 4, message: "Fetching the connector schema did not finish before the deadline"),
        Case(name: "slow drip past the deadline", path: "/drip", code: 4, message: "Fetching the connector schema did not finish before the deadline"),
        Case(name: "1 GiB declared", path: "/gigabyte", code: 9, message: "Invalid connector schema: $: larger than the limit of 4194304 bytes"),
        Case(name: "a body that never ends", path: "/endless", code: 9, message: "Invalid connector schema: $: larger than the limit of 4194304 bytes"),
        Case(name: "JSON nested 200,000 deep", path: "/deep", code: 9, message: "Invalid connector schema: "),
        Case(name: "redirect loop", path: "/loop-a", code: 9, message: "Failed to fetch connector schema from URL: more than 5 redirects"),
        Case(name: "redirect to file://", path: "/to-file", code: 9, message: "Failed to fetch connector schema from URL: redirect to 'file:///etc/shadow' refused"),
        Case(name: "redirect to ftp://", path: "/to-ftp", code: 9, message: "Failed to fetch connector schema from URL: redirect to 'ftp://"),
        Case(name: "logo of 1 GiB", path: "/huge-logo.json", code: nil, message: "; logo not stored: larger than 1048576 bytes"),
        Case(name: "logo that is not an image", path: "/text-logo.json", code: nil, message: "; logo not stored: "),
    ]

    @Test func everyHostileSchemaServerIsBoundedInTimeAndMemory() async throws {
        let daemon = try await DaemonUnderTest(arguments: ["--fetch-timeout", "\(Self.fetchTimeout)"])
        try await daemon.warmUp()
        try await FixtureHTTPServer.with(routes: Self.routes) { server in
            // One activation first, so what the HTTP client keeps is in the baseline.
            let first = try await Self.activate(daemon, "warm_up", server.url("/connector.json"))
            #expect(first.status == nil)
            let baselineRSS = daemon.rssKiB()
            let baselineFDs = daemon.fdCount()

            for (index, hostile) in Self.cases.enumerated() {
                let started = ContinuousClock.now
                let answer = try await Self.activate(daemon, "hostile_\(index)", server.url(hostile.path))
                let elapsed = ContinuousClock.now - started
                let rss = daemon.rssKiB()
                let message = answer.status?.message ?? Self.activationMessage(answer.payload)
                #expect(answer.status?.code == hostile.code, "\(hostile.name): \(answer.status.map(\.description) ?? "OK: \(message)")")
                #expect(message.contains(hostile.message), "\(hostile.name): \(message)")
                #expect(!message.contains("root:"), "\(hostile.name): a local file's content in the message")
                #expect(elapsed < .seconds(Self.fetchTimeout + 2), "\(hostile.name) took \(elapsed)")
                #expect(rss - baselineRSS < 64 << 10, "\(hostile.name): VmRSS grew from \(baselineRSS) to \(rss) KiB")
                reliabilityFigure(
                    "schema server, \(hostile.name): \(answer.status.map(\.description) ?? "OK, \(message)") in \(elapsed.formatted2); "
                        + "daemon VmRSS \(baselineRSS) -> \(rss) KiB")
            }
            // Still serving, and nothing left open.
            #expect(try await daemon.ctl("list").status == 0)
            try await daemon.expectFDsBack(to: baselineFDs, "hostile schema servers")
        }
    }

    /// Registers a connector and activates it from `url`.
    static func activate(_ daemon: DaemonUnderTest, _ name: String, _ url: String) async throws -> RawResponse {
        let socket = daemon.socket
        return try await onThread {
            let client = try RawClient(path: socket)
            defer { client.close() }
            let registered = try client.call(method: "Register", payload: Proto.registerRequest(name: name, description: "hostile"))
            let id = try Proto.connectorID(inResponse: registered.payload)
            return try client.call(method: "Activate", payload: Proto.activateRequest(id: id, url: url), timeout: .seconds(30))
        }
    }

    /// The `message` (field 2) of an ActivateResponse.
    static func activationMessage(_ payload: [UInt8]) -> String {
        for (number, value) in (try? Proto.fields(payload)) ?? [] where number == 2 {
            if case .bytes(let text) = value { return String(decoding: text, as: UTF8.self) }
        }
        return ""
    }
}
