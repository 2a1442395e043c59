import ConnectorAPI
import ConnectorClient
import NIOCore
import SampleConnectorKit
import TTRPC
import Testing

#if DEBUG
@testable import ConnectorServer
#else
import ConnectorServer
#endif

/// List answers are put together from the cached Get answers of their
/// connectors: they must be byte for byte what protobuf-c packs for the same
/// `ListResponse`, hold exactly the connectors the registry has, and show
/// every change at once.
@Suite(.timeLimit(.minutes(5)))
struct ListAnswerTests {
    /// One List call: the decoded answer and its raw bytes.
    static func list(
        _ transport: TTRPCClient, mode: ConnectorsV1.ConnectorMode, pageSize: UInt32, pageToken: String
    ) async throws -> (response: ConnectorsV1.ListResponse, bytes: [UInt8]) {
        let request = ConnectorsV1.ListRequest(mode: mode, pageSize: pageSize, pageToken: pageToken)
        let answer = try await transport.call(
            service: ConnectorsV1.serviceName, method: ConnectorsV1.Method.list.rawValue, payload: byteBuffer(request))
        let bytes = Array(answer.readableBytesView)
        return (try ConnectorsV1.ListResponse(serializedBytes: bytes), bytes)
    }

    /// Pages through every filter and page size and checks each answer against
    /// `expected` (the connectors as the registry last returned them).
    static func checkEveryListing(
        _ transport: TTRPCClient, expected: [UInt64: ConnectorsV1.Connector], sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let byID = expected.values.sorted { $0.id < $1.id }
        for mode in [ConnectorsV1.ConnectorMode.unspecified, .active, .sync, .deactive] {
            let matching = byID.filter { mode == .unspecified || $0.mode == mode }
            for pageSize in [0, 5, 1000] as [UInt32] {
                let size = pageSize == 0 ? 100 : Int(pageSize)
                var token = ""
                var offset = 0
                repeat {
                    let (page, bytes) = try await list(transport, mode: mode, pageSize: pageSize, pageToken: token)
                    let want = Array(matching[min(offset, matching.count)..<min(offset + size, matching.count)])
                    #expect(page.connectors == want, "mode \(mode), page size \(pageSize), offset \(offset)", sourceLocation: sourceLocation)
                    // What protobuf-c packs for the same message (the answer before it was put together).
                    #expect(bytes == page.serializedBytes(), "mode \(mode), page size \(pageSize)", sourceLocation: sourceLocation)
                    offset += size
                    #expect(page.nextPageToken.isEmpty == (offset >= matching.count), sourceLocation: sourceLocation)
                    token = page.nextPageToken
                } while !token.isEmpty && offset < matching.count + size
            }
        }
    }

    /// Connectors in every mode, with and without a secret, activated or not.
    static func populate(_ client: ConnectorClient, _ server: FixtureHTTPServer) async throws -> [UInt64: ConnectorsV1.Connector] {
        var expected: [UInt64: ConnectorsV1.Connector] = [:]
        for index in 0..<24 {
            let connector = try await client.register(
                name: "listed\(index)", description: "Connector number \(index)", secret: index % 5 == 0 ? "s\(index)" : nil
            ).connector
            expected[connector.id] = connector
        }
        for (offset, id) in expected.keys.sorted().enumerated() where offset % 3 != 0 {
            expected[id] = try await client.activate(id: id, url: server.url("/connector.json")).connector
            if offset % 3 == 2 { expected[id] = try await client.setMode(id: id, mode: offset % 2 == 0 ? .sync : .deactive) }
        }
        return expected
    }

    @Test func listAnswersAreWhatProtobufCPacksForTheStoredConnectors() async throws {
        try await withTempDirectory { directory in
            let configuration = testConfiguration(in: directory)
            let expected = try await withDaemon(configuration) { running in
                try await FixtureHTTPServer.with(routes: SampleConnector.routes) { server in
                    let expected = try await Self.populate(running.client, server)
                    #expect(Set(expected.values.map(\.mode)) == [.active, .sync, .deactive])
                    let transport = TTRPCClient(socketPath: running.socketPath)
                    // Every connector cached by its write; then again with every Get answer encoded.
                    try await Self.checkEveryListing(transport, expected: expected)
                    for id in expected.keys { #expect(try await running.client.get(id: id) == expected[id]) }
                    try await Self.checkEveryListing(transport, expected: expected)
                    await transport.close()
                    return expected
                }
            }
            // A new daemon on the same data: nothing cached, the first listing reads the database.
            try await withDaemon(configuration) { running in
                let transport = TTRPCClient(socketPath: running.socketPath)
                try await Self.checkEveryListing(transport, expected: expected)
                try await Self.checkEveryListing(transport, expected: expected)
                await transport.close()
            }
        }
    }

    @Test func everyChangeShowsInTheNextList() async throws {
        try await withDaemon { running, _ in
            let client = running.client
            try await FixtureHTTPServer.with(routes: SampleConnector.routes) { server in
                let ids = try await (0..<5).asyncMap { try await client.register(name: "w\($0)", description: "before").connector.id }
                let watched = ids[2]
                func listed(_ mode: ConnectorsV1.ConnectorMode = .unspecified) async throws -> [UInt64: ConnectorsV1.Connector] {
                    let page = try await client.list(mode: mode, pageSize: 1000)
                    return Dictionary(uniqueKeysWithValues: page.connectors.map { ($0.id, $0) })
                }
                // Listed and fetched, so that its answers are cached.
                for _ in 0..<3 { #expect(try await listed()[watched]?.mode == .deactive) }
                _ = try await client.get(id: watched)

                _ = try await client.activate(id: watched, url: server.url("/connector.json"))
                var seen = try #require(try await listed()[watched])
                #expect(seen.mode == .active && seen.toolsCount == 3 && seen.version == "1.2.0")
                #expect(try await listed(.active).keys.sorted() == [watched])

                for mode in [ConnectorsV1.ConnectorMode.sync, .deactive, .active, .sync] {
                    _ = try await client.setMode(id: watched, mode: mode)
                    #expect(try await listed()[watched]?.mode == mode)
                    #expect(try await client.get(id: watched).mode == mode)
                    for filter in [ConnectorsV1.ConnectorMode.active, .sync, .deactive] {
                        let page = try await listed(filter)
                        #expect((page[watched] != nil) == (filter == mode), "\(filter) after SetMode \(mode)")
                        #expect(page.values.allSatisfy { $0.mode == filter })
                    }
                }

                // A re-activation with a changed schema replaces what List shows.
                server.setRoute("/connector.json", .json(#"{"version": "2.0.0", "tools": [{"name": "only"}]}"#))
                _ = try await client.activate(id: watched, url: server.url("/connector.json"))
                seen = try #require(try await listed()[watched])
                #expect(seen.version == "2.0.0" && seen.toolsCount == 1 && seen.mode == .active)
                #expect(try await listed(.active)[watched]?.version == "2.0.0")

                _ = try await client.delete(id: watched)
                #expect(try await listed().keys.sorted() == ids.filter { $0 != watched })
                #expect(try await listed(.active).isEmpty)
            }
        }
    }

    #if DEBUG
    @Test func assembledAnswersMatchProtobufCWithLongTokens() throws {
        var connectors: [ConnectorsV1.Connector] = []
        for id in [1, 300, 70_000] as [UInt64] {
            var connector = ConnectorsV1.Connector(id: id, name: "n\(id)")
            connector.toolsJSON = String(repeating: "x", count: Int(id % 1000) * 3)
            connectors.append(connector)
        }
        for token in ["", "a", String(repeating: "t", count: 127), String(repeating: "t", count: 128), String(repeating: "é", count: 9000)] {
            for revision: UInt64 in [0, 1, 127, 128, 300, .max] {
                for count in 0...connectors.count {
                    let page = Array(connectors.prefix(count))
                    let assembled = ListAnswer.encode(
                        getAnswers: page.map { byteBuffer(ConnectorsV1.GetResponse(connector: $0)) }, nextPageToken: token,
                        revision: revision)
                    let packed = ConnectorsV1.ListResponse(connectors: page, nextPageToken: token, revision: revision).serializedBytes()
                    #expect(
                        Array(assembled.readableBytesView) == packed,
                        "\(count) connectors, token of \(token.utf8.count) bytes, revision \(revision)")
                }
            }
        }
    }
    #endif
}

extension Sequence {
    /// `map` with an async transform, in order.
    fileprivate func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
