#if DEBUG
import ConnectorAPI
import ConnectorRegistry
import ConnectorServer
import NIOCore
import Testing

@testable import TTRPC

/// List on the event loop: a page held in memory is answered inline, of any
/// mode or all of them, and a kept answer is never served after a change.
@Suite(.timeLimit(.minutes(5)))
struct ListInlineTests {
    /// The inline answer to `request`, decoded; nil when the handler defers.
    static func inline(_ router: Router, _ request: ConnectorsV1.ListRequest) throws -> ConnectorsV1.ListResponse? {
        let inline = try #require(try router.route(service: ConnectorsV1.serviceName, method: "List").get().inline)
        let context = ServerContext(service: ConnectorsV1.serviceName, method: "List", peer: PeerCredentials(pid: 1, uid: 0, gid: 0))
        guard let answer = inline(ByteBuffer(bytes: request.serializedBytes()), context) else { return nil }
        return try ConnectorsV1.ListResponse(serializedBytes: Array(try answer.get().readableBytesView))
    }

    @Test func everyModeAndEachModeAreAnsweredInlineAndFollowChanges() async throws {
        try await withTempDirectory { directory in
            try await withConnectorRegistry(databasePath: directory("r.sqlite"), keyFilePath: directory("secret.key")) { registry in
                var router = Router()
                ConnectorService(registry: registry, policy: AccessPolicy()).register(into: &router)
                var ids: [Int64] = []
                for index in 0..<5 { ids.append(try await registry.register(name: "c\(index)", description: "d", secret: nil).connector.id) }

                // No mode (UNSPECIFIED): every connector, inline.
                let all = try #require(try Self.inline(router, ConnectorsV1.ListRequest()), "an unfiltered List is answered inline")
                #expect(all.connectors.map(\.id) == ids.map(UInt64.init))
                #expect(all.revision == 5)
                let deactive = try #require(try Self.inline(router, ConnectorsV1.ListRequest(mode: .deactive, pageSize: 2)))
                #expect(deactive.connectors.map(\.id) == ids.prefix(2).map(UInt64.init))
                #expect(!deactive.nextPageToken.isEmpty)
                #expect(try Self.inline(router, ConnectorsV1.ListRequest(mode: .active))?.connectors.isEmpty == true)

                // The same request after a change: the new state, not the kept answer.
                _ = try await registry.delete(id: ids[0])
                let after = try #require(try Self.inline(router, ConnectorsV1.ListRequest()))
                #expect(after.connectors.map(\.id) == ids.dropFirst().map(UInt64.init))
                #expect(after.revision == 6)
                // Requests the registry refuses are left to the handler, which says why.
                #expect(try Self.inline(router, ConnectorsV1.ListRequest(pageToken: "garbage!")) == nil)
                #expect(try Self.inline(router, ConnectorsV1.ListRequest(mode: ConnectorsV1.ConnectorMode(rawValue: 9))) == nil)
            }
        }
    }
}
#endif
