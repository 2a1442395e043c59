import ConnectorAPI
import ConnectorClient
import SampleConnectorKit
import TTRPC
import Testing

/// Get is answered from memory when it can; every change must show in the
/// very next Get, never an answer cached before it.
@Suite struct GetAfterChangeTests {
    @Test func everyChangeShowsInTheNextGet() async throws {
        try await withDaemon { running, _ in
            let client = running.client
            try await FixtureHTTPServer.with(routes: SampleConnector.routes) { server in
                let id = try await client.register(name: "watched", description: "before").connector.id
                for _ in 0..<3 { #expect(try await client.get(id: id).mode == .deactive) }

                _ = try await client.activate(id: id, url: server.url("/connector.json"))
                var seen = try await client.get(id: id)
                #expect(seen.mode == .active && seen.toolsCount == 3 && seen.version == "1.2.0")

                for mode in [ConnectorsV1.ConnectorMode.sync, .deactive, .active, .sync] {
                    _ = try await client.setMode(id: id, mode: mode)
                    seen = try await client.get(id: id)
                    #expect(seen.mode == mode)
                }

                // A re-activation with a changed schema replaces what Get shows.
                server.setRoute("/connector.json", .json(#"{"version": "2.0.0", "tools": [{"name": "only"}]}"#))
                _ = try await client.activate(id: id, url: server.url("/connector.json"))
                seen = try await client.get(id: id)
                #expect(seen.version == "2.0.0" && seen.toolsCount == 1 && seen.mode == .active)

                _ = try await client.delete(id: id)
                await expectRPCError(.notFound, "Connector with ID \(id) not found") { try await client.get(id: id) }

                // Concurrent readers during a burst of changes end on the last value.
                let other = try await client.register(name: "busy", description: "d").connector.id
                _ = try await client.activate(id: other, url: server.url("/connector.json"))
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<4 {
                        group.addTask { for _ in 0..<50 { _ = try await client.get(id: other) } }
                    }
                    for mode in [ConnectorsV1.ConnectorMode.sync, .deactive, .active, .sync, .deactive] {
                        _ = try await client.setMode(id: other, mode: mode)
                    }
                    try await group.waitForAll()
                }
                #expect(try await client.get(id: other).mode == .deactive)
            }
        }
    }
}
