import ConnectorRegistry
import Foundation
import SampleConnectorKit
import TestSupport
import Testing

/// Activate's errors: the URL, the id, and every way a schema server can fail.
/// After each failure the connector is unchanged (still deactive, version 0.0.0).
@Suite(.timeLimit(.minutes(5)))
struct ActivateFailureTests {
    /// The connector as registered, to compare with after a failed activation.
    static func expectUnchanged(_ registry: ConnectorRegistry, _ registered: Connector, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let now = try await registry.connector(id: registered.id)
        #expect(now == registered, sourceLocation: sourceLocation)
    }

    // MARK: The URL and the id

    @Test(arguments: [
        ("", "Invalid connector URL: a connector URL is required"),
        ("ftp://127.0.0.1/connector.json", "Invalid connector URL: the connector URL must use http or https, not 'ftp'"),
        ("file:///etc/passwd", "Invalid connector URL: the connector URL must use http or https, not 'file'"),
        ("notaurl", "Invalid connector URL: 'notaurl' is not a valid URL"),
        ("not a url", "Invalid connector URL: the connector URL contains whitespace or control characters"),
        ("http://127.0.0.1/a b.json", "Invalid connector URL: the connector URL contains whitespace or control characters"),
        ("http://127.0.0.1/a\u{1}b.json", "Invalid connector URL: the connector URL contains whitespace or control characters"),
        ("http://127.0.0.1/connector.json\n", "Invalid connector URL: the connector URL contains whitespace or control characters"),
        ("http://user:pass@127.0.0.1/connector.json", "Invalid connector URL: the connector URL must not contain credentials"),
        ("http://user@127.0.0.1/connector.json", "Invalid connector URL: the connector URL must not contain credentials"),
        ("http://" + String(repeating: "a", count: 2042), "Invalid connector URL: the connector URL is longer than 2048 characters"),
    ])
    func badURLsAreInvalidArgument(url: String, message: String) async throws {
        try await withRegistry { registry, _ in
            let registered = try await register(registry, "bad_url")
            await expectError(.invalidArgument, message) { try await registry.activate(id: registered.id, url: url) }
            try await Self.expectUnchanged(registry, registered)
        }
    }

    @Test(arguments: ["http://", "http:///connector.json", "https:connector.json"])
    func urlsWithoutAHostAreInvalidArgument(url: String) async throws {
        try await withRegistry { registry, _ in
            let registered = try await register(registry, "no_host")
            let error = await expectError(.invalidArgument) { try await registry.activate(id: registered.id, url: url) }
            #expect(error?.message.hasPrefix("Invalid connector URL: ") == true)
            try await Self.expectUnchanged(registry, registered)
        }
    }

    @Test func urlOf2048CharactersIsAccepted() async throws {
        try await withRegistryAndServer(SampleConnector.routes) { registry, server, _ in
            let registered = try await register(registry, "long_url")
            let base = server.url("/connector.json") + "?pad="
            let url = base + String(repeating: "p", count: 2048 - base.count)
            #expect(url.count == 2048)
            let outcome = try await registry.activate(id: registered.id, url: url)
            #expect(outcome.connector.url == url)
            #expect(outcome.connector.mode == .active)
        }
    }

    @Test func unknownIDIsNotFound() async throws {
        try await withRegistryAndServer(SampleConnector.routes) { registry, server, _ in
            await expectError(.notFound, "Connector with ID 99 not found") {
                try await registry.activate(id: 99, url: server.url("/connector.json"))
            }
            #expect(server.hitCount("/connector.json") == 0)  // no fetch for an unknown connector
        }
    }

    // MARK: The schema server

    @Test func refusedConnectionIsUnavailable() async throws {
        let refusing = try RefusingPort()
        defer { refusing.close() }
        let port = refusing.port
        try await withRegistry { registry, _ in
            let registered = try await register(registry, "refused")
            let error = await expectError(.unavailable) {
                try await registry.activate(id: registered.id, url: "http://127.0.0.1:\(port)/connector.json")
            }
            #expect(error?.message == "Failed to connect to connector URL: Connection refused")
            try await Self.expectUnchanged(registry, registered)
        }
    }

    @Test(arguments: [404, 500, 403])
    func nonOKStatusIsFailedPrecondition(status: Int) async throws {
        let routes: [String: FixtureRoute] = ["/connector.json": .json(SampleConnector.schemaJSON, status: status)]
        try await withRegistryAndServer(routes) { registry, server, _ in
            let registered = try await register(registry, "status_\(status)")
            await expectError(.failedPrecondition, "Failed to fetch connector schema from URL. Status: \(status)") {
                try await registry.activate(id: registered.id, url: server.url("/connector.json"))
            }
            try await Self.expectUnchanged(registry, registered)
        }
    }

    @Test func missingSchemaIs404() async throws {
        try await withRegistryAndServer([:]) { registry, server, _ in
            let registered = try await register(registry, "missing")
            await expectError(.failedPrecondition, "Failed to fetch connector schema from URL. Status: 404") {
                try await registry.activate(id: registered.id, url: server.url("/connector.json"))
            }
            try await Self.expectUnchanged(registry, registered)
        }
    }

    /// Activations stuck on a hanging schema server do not hold up others to
    /// the same host: one queued behind them would wait for the hour they hang,
    /// and miss its own one-minute deadline.
    @Test("activations stuck on a hanging schema server do not hold up others to the same host")
    func hangingFetchesDoNotQueueOthers() async throws {
        let routes = ["/hang.json": FixtureRoute.hang].merging(SampleConnector.routes) { $1 }
        try await withRegistryAndServer(routes, limits: .with(total: .seconds(3600))) { registry, server, _ in
            var stuck: [Connector] = []
            for index in 0..<12 { stuck.append(try await register(registry, "stuck_\(index)")) }
            let healthy = try await register(registry, "healthy")
            try await withThrowingTaskGroup(of: Void.self) { group in
                for connector in stuck {
                    group.addTask { _ = try? await registry.activate(id: connector.id, url: server.url("/hang.json")) }
                }
                #expect(await eventually { server.hitCount("/hang.json") == 12 })
                let activated = try await registry.activate(
                    id: healthy.id, url: server.url("/connector.json"), deadline: .now + .seconds(60))
                #expect(activated.connector.mode == .active)
                group.cancelAll()
            }
        }
    }

    /// The caller's deadline, when sooner than the registry's own (an hour),
    /// ends the fetch: not before it (if it were ignored, the fetch would hang
    /// past the suite's time limit).
    @Test func callersDeadlineWhenSoonerIsUsed() async throws {
        try await withRegistryAndServer(["/connector.json": .hang], limits: .with(total: .seconds(3600))) { registry, server, _ in
            let registered = try await register(registry, "caller_deadline")
            let (_, elapsed) = await timed {
                await expectError(.deadlineExceeded, "Fetching the connector schema did not finish before the deadline") {
                    try await registry.activate(
                        id: registered.id, url: server.url("/connector.json"), deadline: .now + .milliseconds(500))
                }
            }
            #expect(elapsed >= .milliseconds(500))
        }
    }

    /// 50 MiB and 1 GiB, with and without Content-Length. The 1 GiB body shows
    /// that nothing reads it whole, whatever else the (parallel) tests in this
    /// process allocate meanwhile.
    @Test(arguments: [50 << 20, 1 << 30], [true, false])
    func oversizedBodyIsRefusedWithoutReadingIt(bytes: Int, declareLength: Bool) async throws {
        let routes: [String: FixtureRoute] = ["/connector.json": .large(bytes: bytes, declareLength: declareLength)]
        try await withRegistryAndServer(routes, limits: .with(total: .seconds(300))) { registry, server, _ in
            let registered = try await register(registry, "large")
            let peakBefore = peakResidentBytes()
            await expectError(.failedPrecondition, "Invalid connector schema: $: larger than the limit of 4194304 bytes") {
                try await registry.activate(id: registered.id, url: server.url("/connector.json"))
            }
            if let before = peakBefore, let after = peakResidentBytes() {
                #expect(after - before < 512 << 20, "peak RSS grew by \(after - before) bytes")
            }
            try await Self.expectUnchanged(registry, registered)
        }
    }

    @Test func schemaOfExactlyTheLimitIsRead() async throws {
        // A valid schema padded with whitespace to 4 MiB.
        var body = Array(schemaJSON().utf8)
        body += [UInt8](repeating: UInt8(ascii: " "), count: (4 << 20) - body.count)
        try await withRegistryAndServer(["/connector.json": .respond(body: body)]) { registry, server, _ in
            let registered = try await register(registry, "at_limit")
            let outcome = try await registry.activate(id: registered.id, url: server.url("/connector.json"))
            #expect(outcome.connector.mode == .active)
            server.setRoute("/connector.json", .respond(body: body + [UInt8(ascii: " ")]))
            await expectError(.failedPrecondition, "Invalid connector schema: $: larger than the limit of 4194304 bytes") {
                try await registry.activate(id: registered.id, url: server.url("/connector.json"))
            }
        }
    }

    @Test func redirectToFileURLIsNotFollowed() async throws {
        let routes: [String: FixtureRoute] = ["/connector.json": .redirect(to: "file:///etc/passwd")]
        try await withRegistryAndServer(routes) { registry, server, _ in
            let registered = try await register(registry, "to_file")
            let error = await expectError(
                .failedPrecondition,
                "Failed to fetch connector schema from URL: redirect to 'file:///etc/passwd' refused: the connector URL must use http or https, not 'file'"
            ) {
                try await registry.activate(id: registered.id, url: server.url("/connector.json"))
            }
            #expect(error?.message.contains("root:") == false)
            try await Self.expectUnchanged(registry, registered)
        }
    }

    @Test func redirectToFTPIsNotFollowed() async throws {
        let routes: [String: FixtureRoute] = ["/connector.json": .redirect(to: "ftp://127.0.0.1/connector.json", status: 301)]
        try await withRegistryAndServer(routes) { registry, server, _ in
            let registered = try await register(registry, "to_ftp")
            let error = await expectError(.failedPrecondition) {
                try await registry.activate(id: registered.id, url: server.url("/connector.json"))
            }
            #expect(error?.message.hasPrefix("Failed to fetch connector schema from URL: ") == true)
        }
    }

    @Test func redirectLoopIsFailedPrecondition() async throws {
        let routes: [String: FixtureRoute] = [
            "/a": .redirect(to: "/b"),
            "/b": .redirect(to: "/a"),
        ]
        try await withRegistryAndServer(routes) { registry, server, _ in
            let registered = try await register(registry, "loop")
            await expectError(.failedPrecondition, "Failed to fetch connector schema from URL: more than 5 redirects") {
                try await registry.activate(id: registered.id, url: server.url("/a"))
            }
            #expect(server.hitCount("/a") + server.hitCount("/b") == 6)
            try await Self.expectUnchanged(registry, registered)
        }
    }

    @Test func selfRedirectIsFailedPrecondition() async throws {
        try await withRegistryAndServer(["/self": .redirect(to: "/self", status: 308)]) { registry, server, _ in
            let registered = try await register(registry, "self_loop")
            await expectError(.failedPrecondition, "Failed to fetch connector schema from URL: more than 5 redirects") {
                try await registry.activate(id: registered.id, url: server.url("/self"))
            }
        }
    }
}
