import ConnectorRegistry
import Foundation
import GRDB
import SampleConnectorKit
import Testing

/// Runs `body`, keeping its result or its error.
func capture<T>(_ body: () async throws -> T) async -> Result<T, ConnectorRegistryError> {
    do {
        return .success(try await body())
    } catch let error as ConnectorRegistryError {
        return .failure(error)
    } catch {
        return .failure(ConnectorRegistryError(.internal, "unexpected error type \(type(of: error)): \(error)"))
    }
}

/// Activations run their fetch outside the actor: they do not hold up other
/// calls, a second activation of the same connector is ABORTED, and a delete
/// during the fetch wins.
@Suite(.timeLimit(.minutes(1)))
struct ConcurrencyTests {
    /// A schema whose logo drips for about `seconds`: the activation is in
    /// flight (after the schema fetch) for that long, then succeeds without a logo.
    static func slowLogoRoutes(seconds: Int = 2) -> [String: FixtureRoute] {
        [
            "/connector.json": .json(schemaJSON(logoURL: "/slow-logo.svg")),
            "/slow-logo.svg": .drip(chunks: seconds * 10, chunkSize: 1, interval: .milliseconds(100)),
        ]
    }

    @Test func concurrentActivationsOfOneConnectorGiveOneSuccessAndOneAborted() async throws {
        try await withRegistryAndServer(Self.slowLogoRoutes(), limits: .with(total: .seconds(15))) { registry, server, _ in
            let registered = try await register(registry, "contended")
            let url = server.url("/connector.json")
            let results = await withTaskGroup(of: Result<ConnectorRegistry.Outcome, ConnectorRegistryError>.self) { group in
                for _ in 0..<2 {
                    group.addTask { await capture { try await registry.activate(id: registered.id, url: url) } }
                }
                var results: [Result<ConnectorRegistry.Outcome, ConnectorRegistryError>] = []
                for await result in group { results.append(result) }
                return results
            }
            let successes = results.compactMap { try? $0.get() }
            let errors = results.compactMap { result -> ConnectorRegistryError? in
                if case .failure(let error) = result { error } else { nil }
            }
            #expect(successes.count == 1)
            #expect(errors.count == 1)
            #expect(errors.first?.code == .aborted)
            #expect(errors.first?.message == "Connector with ID \(registered.id) is already being activated; try again when that finishes")
            let success = try #require(successes.first)
            #expect(success.connector.mode == .active)
            #expect(success.message.hasPrefix("Connector 'contended' activated successfully"))
            #expect(server.hitCount("/connector.json") == 1)  // the aborted one fetched nothing

            // Once the first finished, activating again is allowed.
            server.setRoute("/slow-logo.svg", .respond(body: Array(SampleConnector.logoSVG.utf8)))
            let again = try await registry.activate(id: registered.id, url: url)
            #expect(again.message == "Connector 'contended' activated successfully")
            #expect(again.connector.hasLogo)
        }
    }

    @Test func secondActivationWhileTheFirstIsInFlightIsAborted() async throws {
        try await withRegistryAndServer(Self.slowLogoRoutes(), limits: .with(total: .seconds(15))) { registry, server, _ in
            let registered = try await register(registry, "in_flight")
            let other = try await register(registry, "other")
            let url = server.url("/connector.json")
            async let first = capture { try await registry.activate(id: registered.id, url: url) }
            try await waitUntil { server.hitCount("/slow-logo.svg") >= 1 }

            await expectError(.aborted, "Connector with ID \(registered.id) is already being activated; try again when that finishes") {
                try await registry.activate(id: registered.id, url: url)
            }
            // Even with another URL.
            await expectError(.aborted) { try await registry.activate(id: registered.id, url: server.url("/elsewhere.json")) }
            #expect(server.hitCount("/elsewhere.json") == 0)
            // Another connector is not held up by it.
            server.setRoute("/other.json", .json(schemaJSON()))
            let (otherOutcome, elapsed) = try await timed { try await registry.activate(id: other.id, url: server.url("/other.json")) }
            #expect(otherOutcome.connector.mode == .active)
            #expect(elapsed < .seconds(1))

            let outcome = try await first.get()
            #expect(outcome.connector.mode == .active)
            #expect(outcome.message.contains("logo not stored"))  // the dripped bytes are not an image
        }
    }

    @Test func fetchDoesNotHoldUpOtherCalls() async throws {
        let routes: [String: FixtureRoute] = ["/connector.json": .hang]
        try await withRegistryAndServer(routes, limits: .with(total: .seconds(3))) { registry, server, _ in
            let hanging = try await register(registry, "hanging")
            let start = ContinuousClock.now
            async let activation = capture { try await registry.activate(id: hanging.id, url: server.url("/connector.json")) }
            try await waitUntil { server.hitCount("/connector.json") >= 1 }

            let (_, elapsed) = try await timed {
                let registered = try await register(registry, "meanwhile")
                #expect(try await registry.connector(id: registered.id) == registered)
                #expect(try await registry.connector(id: hanging.id) == hanging)
                let page = try await registry.list(mode: nil, pageSize: 0, pageToken: "")
                #expect(page.connectors.map(\.name) == ["hanging", "meanwhile"])
                _ = try await registry.setMode(id: registered.id, to: .deactive)
                _ = try await registry.delete(id: registered.id)
            }
            #expect(elapsed < .seconds(1.5))
            #expect(ContinuousClock.now - start < .seconds(2.5))  // all of it while the fetch was still hanging

            let result = await activation
            #expect(throws: ConnectorRegistryError(.deadlineExceeded, "Fetching the connector schema did not finish before the deadline")) {
                try result.get()
            }
            // A failed activation does not leave the connector marked as activating.
            server.setRoute("/connector.json", .json(schemaJSON()))
            #expect(try await registry.activate(id: hanging.id, url: server.url("/connector.json")).connector.mode == .active)
        }
    }

    @Test func deleteDuringFetchWins() async throws {
        try await withRegistryAndServer(Self.slowLogoRoutes(), limits: .with(total: .seconds(15))) { registry, server, files in
            let registered = try await register(registry, "doomed")
            let keep = try await register(registry, "kept")
            async let activation = capture { try await registry.activate(id: registered.id, url: server.url("/connector.json")) }
            try await waitUntil { server.hitCount("/slow-logo.svg") >= 1 }

            let deleted = try await registry.delete(id: registered.id)
            #expect(deleted.message == "Connector 'doomed' deleted successfully")

            let result = await activation
            #expect(throws: ConnectorRegistryError(.notFound, "Connector with ID \(registered.id) not found")) { try result.get() }

            // It stays deleted.
            await expectError(.notFound, "Connector with ID \(registered.id) not found") { try await registry.connector(id: registered.id) }
            #expect(try await registry.list(mode: nil, pageSize: 0, pageToken: "").connectors == [keep])
            let rows = try files.inspect { db in
                try Int.fetchOne(db, sql: "SELECT count(*) FROM mcp_connectors WHERE id = ?", arguments: [registered.id])
            }
            #expect(rows == 0)
        }
    }

    @Test func cancellingAnActivationEndsItPromptlyAsCancelled() async throws {
        try await withRegistryAndServer(["/connector.json": .hang], limits: .with(total: .seconds(10))) { registry, server, _ in
            let registered = try await register(registry, "cancelled")
            let task = Task { await capture { try await registry.activate(id: registered.id, url: server.url("/connector.json")) } }
            try await waitUntil { server.hitCount("/connector.json") >= 1 }
            let (result, elapsed) = await timed {
                task.cancel()
                return await task.value
            }
            #expect(elapsed < .seconds(2))
            #expect(throws: ConnectorRegistryError(.cancelled, "activation cancelled")) { try result.get() }
            #expect(try await registry.connector(id: registered.id) == registered)
        }
    }

    @Test func concurrentRegistrationsOfDistinctNamesAllSucceed() async throws {
        try await withRegistry { registry, _ in
            let ids = try await withThrowingTaskGroup(of: Int64.self) { group in
                for index in 0..<40 {
                    group.addTask { try await register(registry, "c\(index)").id }
                }
                var ids: [Int64] = []
                for try await id in group { ids.append(id) }
                return ids
            }
            #expect(Set(ids).count == 40)
            let listed = try await registry.list(mode: nil, pageSize: 0, pageToken: "").connectors.map(\.id)
            #expect(listed == ids.sorted())
        }
    }
}
