import ConnectorRegistry
import Foundation
import GRDB
import SampleConnectorKit
import TestSupport
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
/// during the fetch wins. A fetch stays in flight exactly as long as a test
/// needs (`FixtureHTTPServer.hold`), so no test depends on the machine's speed.
@Suite(.timeLimit(.minutes(5)))
struct ConcurrencyTests {
    /// A schema whose logo is at `/logo.svg`.
    static let routes: [String: FixtureRoute] = [
        "/connector.json": .json(schemaJSON(logoURL: "/logo.svg")),
        "/logo.svg": .respond(headers: ["Content-Type": "image/svg+xml"], body: Array(SampleConnector.logoSVG.utf8)),
    ]

    @Test func concurrentActivationsOfOneConnectorGiveOneSuccessAndOneAborted() async throws {
        try await withRegistryAndServer(Self.routes) { registry, server, _ in
            let registered = try await register(registry, "contended")
            let url = server.url("/connector.json")
            server.hold("/logo.svg")
            let results = await withTaskGroup(of: Result<ConnectorRegistry.Outcome, ConnectorRegistryError>.self) { group in
                for _ in 0..<2 {
                    group.addTask { await capture { try await registry.activate(id: registered.id, url: url) } }
                }
                // The first to start is held on its logo; the other is refused meanwhile.
                var results: [Result<ConnectorRegistry.Outcome, ConnectorRegistryError>] = []
                if let first = await group.next() { results.append(first) }
                server.release("/logo.svg")
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
            #expect(success.message == "Connector 'contended' activated successfully")
            #expect(server.hitCount("/connector.json") == 1)  // the aborted one fetched nothing

            // Once the first finished, activating again is allowed.
            let again = try await registry.activate(id: registered.id, url: url)
            #expect(again.message == "Connector 'contended' activated successfully")
            #expect(again.connector.hasLogo)
        }
    }

    @Test func secondActivationWhileTheFirstIsInFlightIsAborted() async throws {
        try await withRegistryAndServer(Self.routes) { registry, server, _ in
            let registered = try await register(registry, "in_flight")
            let other = try await register(registry, "other")
            let url = server.url("/connector.json")
            server.hold("/logo.svg")
            async let first = capture { try await registry.activate(id: registered.id, url: url) }
            #expect(await eventually { server.hitCount("/logo.svg") >= 1 })

            await expectError(.aborted, "Connector with ID \(registered.id) is already being activated; try again when that finishes") {
                try await registry.activate(id: registered.id, url: url)
            }
            // Even with another URL.
            await expectError(.aborted) { try await registry.activate(id: registered.id, url: server.url("/elsewhere.json")) }
            #expect(server.hitCount("/elsewhere.json") == 0)
            // Another connector is not held up by it: activated while the first is still held.
            server.setRoute("/other.json", .json(schemaJSON()))
            let otherOutcome = try await registry.activate(id: other.id, url: server.url("/other.json"))
            #expect(otherOutcome.connector.mode == .active)

            server.release("/logo.svg")
            let outcome = try await first.get()
            #expect(outcome.connector.mode == .active)
            #expect(outcome.connector.hasLogo)
        }
    }

    @Test func fetchDoesNotHoldUpOtherCalls() async throws {
        try await withRegistryAndServer(Self.routes) { registry, server, _ in
            let hanging = try await register(registry, "hanging")
            server.hold("/connector.json")
            async let activation = capture { try await registry.activate(id: hanging.id, url: server.url("/connector.json")) }
            #expect(await eventually { server.hitCount("/connector.json") >= 1 })

            // All of it while the fetch is held.
            let registered = try await register(registry, "meanwhile")
            #expect(try await registry.connector(id: registered.id) == registered)
            #expect(try await registry.connector(id: hanging.id) == hanging)
            let page = try await registry.list(mode: nil, pageSize: 0, pageToken: "")
            #expect(page.connectors.map(\.name) == ["hanging", "meanwhile"])
            _ = try await registry.setMode(id: registered.id, to: .deactive)
            _ = try await registry.delete(id: registered.id)

            server.setRoute("/connector.json", .respond(status: 503, body: []))
            server.release("/connector.json")
            let result = await activation
            #expect(throws: ConnectorRegistryError(.failedPrecondition, "Failed to fetch connector schema from URL. Status: 503")) {
                try result.get()
            }
            // A failed activation does not leave the connector marked as activating.
            server.setRoute("/connector.json", .json(schemaJSON()))
            #expect(try await registry.activate(id: hanging.id, url: server.url("/connector.json")).connector.mode == .active)
        }
    }

    @Test func deleteDuringFetchWins() async throws {
        try await withRegistryAndServer(Self.routes) { registry, server, files in
            let registered = try await register(registry, "doomed")
            let keep = try await register(registry, "kept")
            server.hold("/logo.svg")
            async let activation = capture { try await registry.activate(id: registered.id, url: server.url("/connector.json")) }
            #expect(await eventually { server.hitCount("/logo.svg") >= 1 })

            let deleted = try await registry.delete(id: registered.id)
            #expect(deleted.message == "Connector 'doomed' deleted successfully")

            server.release("/logo.svg")
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

    /// Cancelled, an activation ends as CANCELLED (if it did not, it would wait
    /// for a schema that never comes, past the suite's time limit).
    @Test func cancellingAnActivationEndsItAsCancelled() async throws {
        try await withRegistryAndServer(Self.routes, limits: .with(total: .seconds(3600))) { registry, server, _ in
            let registered = try await register(registry, "cancelled")
            server.hold("/connector.json")
            let result = await withTaskGroup(of: Result<ConnectorRegistry.Outcome, ConnectorRegistryError>.self) { group in
                group.addTask { await capture { try await registry.activate(id: registered.id, url: server.url("/connector.json")) } }
                _ = await eventually { server.hitCount("/connector.json") >= 1 }
                group.cancelAll()
                return await group.next()!
            }
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
