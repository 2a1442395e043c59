import ConnectorRegistry
import SampleConnectorKit
import TestSupport
import Testing

/// The times the registry promises for a fetch: a deadline honoured (not
/// before it, and not long after it), a refused connection not retried until
/// the connect timeout. In the timing step (`scripts/test.sh`), which runs
/// after the others on a machine they no longer load; the upper bounds are
/// generous all the same.
@Suite(.timeLimit(.minutes(5)))
struct FetchTimingTests {
    @Test func refusedConnectionIsNotRetriedUntilTheConnectTimeout() async throws {
        let refusing = try RefusingPort()
        defer { refusing.close() }
        let port = refusing.port
        let connectTimeout = Duration.seconds(20)
        try await withRegistry(.with(connect: connectTimeout, total: .seconds(60))) { registry, _ in
            let registered = try await register(registry, "refused")
            let (error, elapsed) = await timed {
                await expectError(.unavailable) {
                    try await registry.activate(id: registered.id, url: "http://127.0.0.1:\(port)/connector.json")
                }
            }
            #expect(error?.message == "Failed to connect to connector URL: Connection refused")
            #expect(elapsed < connectTimeout, "refused after \(elapsed)")
        }
    }

    @Test(arguments: [
        FixtureRoute.hang,
        FixtureRoute.drip(chunks: 2000, chunkSize: 8, interval: .milliseconds(50)),
    ])
    func aSlowServerIsDeadlineExceededAtTheDeadline(route: FixtureRoute) async throws {
        let total = Duration.seconds(1)
        try await withRegistryAndServer(["/connector.json": route], limits: .with(total: total)) { registry, server, _ in
            let registered = try await register(registry, "slow")
            let (_, elapsed) = await timed {
                await expectError(.deadlineExceeded, "Fetching the connector schema did not finish before the deadline") {
                    try await registry.activate(id: registered.id, url: server.url("/connector.json"))
                }
            }
            #expect(elapsed >= total - .milliseconds(50), "ended before the deadline: \(elapsed)")
            #expect(elapsed < total + .seconds(20), "ended long after the deadline: \(elapsed)")
            #expect(try await registry.connector(id: registered.id) == registered)
        }
    }
}
