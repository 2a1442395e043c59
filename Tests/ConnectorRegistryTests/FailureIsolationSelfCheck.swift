import ConnectorRegistry
import Foundation
import SampleConnectorKit
import Testing

/// A self-check of the test harness, off by default: run with
/// `CONNECTORD_SELF_CHECK=1 swift test --filter FailureIsolationSelfCheck`.
/// Both tests fail on purpose while a registry (with its HTTP client) and a
/// fixture server are open; the run must end with these two failures, not
/// with a crash (a registry released unclosed used to trap in
/// AsyncHTTPClient's deinit and take every other test down with it).
@Suite(.enabled(if: ProcessInfo.processInfo.environment["CONNECTORD_SELF_CHECK"] == "1"))
struct FailureIsolationSelfCheck {
    struct Deliberate: Error {}

    @Test func aFailedExpectationWithARegistryOpenIsOneFailure() async throws {
        try await withRegistryAndServer(SampleConnector.routes) { registry, server, _ in
            let registered = try await register(registry, "self_check")
            _ = try await registry.activate(id: registered.id, url: server.url("/connector.json"))
            #expect(registered.name == "deliberately wrong", "a deliberate failure: the run goes on")
        }
    }

    @Test func anErrorThrownWithARegistryOpenIsOneFailure() async throws {
        try await withRegistry { registry, _ in
            _ = try await register(registry, "self_check_throw")
            throw Deliberate()
        }
    }
}
