import ConnectorAPI
import ConnectorClient
import ConnectorServer
import Foundation
import Glibc
import SampleConnectorKit
import TTRPC
import Testing

/// The seed's two-step flow, end to end over a real Unix socket: an in-process
/// `ConnectorDaemon`, the typed `ConnectorClient`, and the sample connector
/// served by a fixture HTTP server on 127.0.0.1.
@Suite(.timeLimit(.minutes(5)))
struct SeedFlowTests {
    @Test func registerActivateListGetLogoSetModeDelete() async throws {
        try await withDaemon { running, _ in
            try await FixtureHTTPServer.with(routes: SampleConnector.routes) { server in
                let client = running.client

                // Step 1: register.
                let registered = try await client.register(
                    name: "postgres_connector", description: "PostgreSQL database connector")
                #expect(registered.message == "Connector 'postgres_connector' registered successfully")
                #expect(registered.nextStep.hasPrefix("Activate the connector by providing the connector URL"))
                #expect(registered.nextStep.contains("\(registered.connector.id)"))
                let record = registered.connector
                let id = record.id
                #expect(id > 0)
                #expect(record.name == "postgres_connector")
                #expect(record.description == "PostgreSQL database connector")
                #expect(record.mode == .deactive)
                #expect(record.version == "0.0.0")
                #expect(record.url == "")
                #expect(record.hasSecret == false)
                #expect(record.hasLogo == false)
                #expect(record.toolsCount == 0)
                #expect(record.templatesCount == 0)
                #expect(isRFC3339Micros(record.createdAt), "created_at: \(record.createdAt)")
                #expect(isRFC3339Micros(record.updatedAt), "updated_at: \(record.updatedAt)")

                // The record is visible in the list, not activated.
                let afterRegister = try await client.list()
                #expect(afterRegister.connectors == [record])
                #expect(afterRegister.nextPageToken == "")
                #expect(try await client.list(mode: .deactive).connectors.map(\.id) == [id])
                #expect(try await client.list(mode: .active).connectors.isEmpty)
                #expect(try await client.get(id: id) == record)

                // Step 2: activate.
                let schemaURL = server.url("/connector.json")
                let activated = try await client.activate(id: id, url: schemaURL)
                #expect(activated.message == "Connector 'postgres_connector' activated successfully")
                let active = activated.connector
                #expect(active.id == id)
                #expect(active.name == "postgres_connector")
                #expect(active.url == schemaURL)
                #expect(active.mode == .active)
                #expect(active.version == "1.2.0")
                #expect(active.toolsCount == UInt32(SampleConnector.toolsCount))
                #expect(active.toolsCount == 3)
                #expect(active.templatesCount == UInt32(SampleConnector.templatesCount))
                #expect(active.templatesCount == 2)
                // The schema's description differs and is not empty: it replaces the registered one.
                #expect(active.description == "Sample PostgreSQL connector: query tables and describe schemas")
                #expect(active.hasLogo)
                #expect(!active.logoURL.isEmpty)
                #expect(active.hasSecret == false)
                #expect(try names(inJSONArray: active.toolsJSON) == ["run_query", "list_tables", "describe_table"])
                #expect(try names(inJSONArray: active.templatesJSON) == ["daily_report", "schema_overview"])
                let config = try #require(try parseJSON(active.serverConfigJSON) as? [String: Any])
                #expect(config["params"] is [String: Any])
                #expect(config["ui_schema"] is [String: Any])
                #expect(active.createdAt == record.createdAt, "created_at does not change on activation")
                #expect(isRFC3339Micros(active.updatedAt), "updated_at: \(active.updatedAt)")
                #expect(active.updatedAt >= active.createdAt)
                #expect(server.hitCount("/connector.json") == 1)
                #expect(server.hitCount("/logo.svg") == 1)

                // List shows it active with its counts, under the mode filter.
                let activeList = try await client.list(mode: .active)
                #expect(activeList.connectors == [active])
                #expect(activeList.connectors.first?.toolsCount == 3)
                #expect(activeList.connectors.first?.templatesCount == 2)
                #expect(try await client.list(mode: .deactive).connectors.isEmpty)
                #expect(try await client.list(mode: .sync).connectors.isEmpty)
                #expect(try await client.get(id: id) == active)

                // The logo.
                let logo = try await client.logo(id: id)
                #expect(logo.contentType == "image/svg+xml")
                #expect(logo.data == Array(SampleConnector.logoSVG.utf8))

                // Manual mode changes: sync, deactive, back to active.
                let synced = try await client.setMode(id: id, mode: .sync)
                #expect(synced.mode == .sync)
                #expect(synced.version == "1.2.0")
                #expect(try await client.list(mode: .sync).connectors.map(\.id) == [id])
                let deactivated = try await client.setMode(id: id, mode: .deactive)
                #expect(deactivated.mode == .deactive)
                #expect(try await client.list(mode: .deactive).connectors.map(\.id) == [id])
                let reactivated = try await client.setMode(id: id, mode: .active)
                #expect(reactivated.mode == .active)
                #expect(reactivated.toolsCount == 3)
                #expect(reactivated.url == schemaURL)
                #expect(isRFC3339Micros(reactivated.updatedAt))
                #expect(reactivated.updatedAt >= active.updatedAt)
                #expect(try await client.get(id: id).mode == .active)

                // Delete.
                let deleted = try await client.delete(id: id)
                #expect(deleted.connectorID == id)
                #expect(deleted.message == "Connector 'postgres_connector' deleted successfully")
                await expectRPCError(.notFound, "Connector with ID \(id) not found") { try await client.get(id: id) }
                await expectRPCError(.notFound, "Connector with ID \(id) not found") { try await client.logo(id: id) }
                await expectRPCError(.notFound, "Connector with ID \(id) not found") { try await client.delete(id: id) }
                #expect(try await client.list().connectors.isEmpty)
            }
        }
    }

    @Test func listPagesByAscendingIDWithAndWithoutAModeFilter() async throws {
        try await withDaemon { running, _ in
            try await FixtureHTTPServer.with(routes: SampleConnector.routes) { server in
                let client = running.client
                var ids: [UInt64] = []
                for index in 0..<7 {
                    ids.append(try await client.register(name: "paged_\(index)", description: "Connector \(index)").connector.id)
                }
                #expect(ids == ids.sorted())
                // Activate three of them (ids[1], ids[3], ids[5]).
                for index in [1, 3, 5] {
                    _ = try await client.activate(id: ids[index], url: server.url("/connector.json"))
                }

                // Every mode, two per page: 2 + 2 + 2 + 1.
                var pages: [[UInt64]] = []
                var token = ""
                repeat {
                    let page = try await client.list(pageSize: 2, pageToken: token)
                    pages.append(page.connectors.map(\.id))
                    token = page.nextPageToken
                    #expect(pages.count <= 4)
                } while !token.isEmpty && pages.count <= 4
                #expect(pages == [[ids[0], ids[1]], [ids[2], ids[3]], [ids[4], ids[5]], [ids[6]]])

                // Mode filter, two per page: the three active ones.
                var activePages: [[UInt64]] = []
                token = ""
                repeat {
                    let page = try await client.list(mode: .active, pageSize: 2, pageToken: token)
                    #expect(page.connectors.allSatisfy { $0.mode == .active })
                    activePages.append(page.connectors.map(\.id))
                    token = page.nextPageToken
                } while !token.isEmpty && activePages.count <= 3
                #expect(activePages == [[ids[1], ids[3]], [ids[5]]])

                // A page size that fits exactly gives no next token... or an empty last page; either way nothing repeats.
                let exact = try await client.list(mode: .deactive, pageSize: 4)
                #expect(exact.connectors.map(\.id) == [ids[0], ids[2], ids[4], ids[6]])
                if !exact.nextPageToken.isEmpty {
                    let rest = try await client.list(mode: .deactive, pageSize: 4, pageToken: exact.nextPageToken)
                    #expect(rest.connectors.isEmpty)
                    #expect(rest.nextPageToken == "")
                }

                // The default page size (0 means 100) answers everything at once.
                let all = try await client.list()
                #expect(all.connectors.map(\.id) == ids)
                #expect(all.nextPageToken == "")
                #expect(try await client.listAll().map(\.id) == ids)
                #expect(try await client.listAll(mode: .active).map(\.id) == [ids[1], ids[3], ids[5]])

                // A token is tied to its mode filter.
                let first = try await client.list(mode: .active, pageSize: 1)
                #expect(!first.nextPageToken.isEmpty)
                await expectRPCError(.invalidArgument) {
                    try await client.list(mode: .deactive, pageSize: 1, pageToken: first.nextPageToken)
                }
            }
        }
    }

    @Test func daemonStopsWhenAskedAndRemovesItsSocket() async throws {
        try await withTempDirectory { directory in
            let configuration = testConfiguration(in: directory)
            try await withDaemon(configuration) { running in
                #expect(fileExists(running.socketPath))
                // The socket file has the configured mode (0660 by default).
                #expect(permissions(running.socketPath) == 0o660)
                _ = try await running.client.list()
            }
            #expect(!fileExists(configuration.socketPath))
            // A client now finds nobody listening.
            let client = ConnectorClient(socketPath: configuration.socketPath)
            await expectRPCError(.unavailable) { try await client.list() }
            await client.close()
        }
    }

    @Test func socketModeIsConfigurable() async throws {
        try await withDaemon(configure: { $0.socketMode = 0o666 }) { running, _ in
            #expect(permissions(running.socketPath) == 0o666)
            _ = try await running.client.list()
        }
    }

    @Test func socketInADirectoryThatDoesNotExistYet() async throws {
        try await withTempDirectory { directory in
            var configuration = testConfiguration(in: directory)
            configuration.socketPath = directory("run/d.sock")
            try await withDaemon(configuration) { running in
                let list = try await running.client.list()
                #expect(list.connectors.isEmpty)
            }
        }
    }
}
