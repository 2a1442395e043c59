import ConnectorRegistry
import Foundation
import SampleConnectorKit
import Testing

/// List: ascending ids, an optional mode filter, page sizes, and opaque page
/// tokens that neither lose nor repeat connectors while others register.
@Suite(.timeLimit(.minutes(5)))
struct ListTests {
    /// Registers `count` connectors named `prefix0`, `prefix1`, ... concurrently; returns their ids.
    static func registerMany(_ registry: ConnectorRegistry, _ count: Int, prefix: String = "c") async throws -> [Int64] {
        try await withThrowingTaskGroup(of: Int64.self) { group in
            for index in 0..<count {
                group.addTask { try await register(registry, "\(prefix)\(index)").id }
            }
            var ids: [Int64] = []
            for try await id in group { ids.append(id) }
            return ids.sorted()
        }
    }

    /// Every connector, page by page.
    static func listAll(_ registry: ConnectorRegistry, mode: ConnectorMode? = nil, pageSize: Int) async throws -> (ids: [Int64], pages: Int) {
        var ids: [Int64] = []
        var token = ""
        var pages = 0
        repeat {
            let page = try await registry.list(mode: mode, pageSize: pageSize, pageToken: token)
            #expect(page.connectors.count <= (pageSize == 0 ? 100 : pageSize))
            ids += page.connectors.map(\.id)
            token = page.nextPageToken
            pages += 1
        } while !token.isEmpty && pages < 10_000
        return (ids, pages)
    }

    @Test func emptyRegistryListsNothing() async throws {
        try await withRegistry { registry, _ in
            let page = try await registry.list(mode: nil, pageSize: 0, pageToken: "")
            #expect(page.connectors.isEmpty)
            #expect(page.nextPageToken == "")
            #expect(try await registry.list(mode: .active, pageSize: 10, pageToken: "").connectors.isEmpty)
        }
    }

    @Test func listIsByAscendingIDWithAModeFilter() async throws {
        try await withRegistryAndServer(SampleConnector.routes) { registry, server, _ in
            // Registered in an order that is not alphabetical.
            let names = ["zeta", "alpha", "mid", "beta", "omega"]
            var connectors: [Connector] = []
            for name in names { connectors.append(try await register(registry, name)) }
            _ = try await registry.activate(id: connectors[1].id, url: server.url("/connector.json"))
            _ = try await registry.activate(id: connectors[3].id, url: server.url("/connector.json"))
            _ = try await registry.activate(id: connectors[4].id, url: server.url("/connector.json"))
            _ = try await registry.setMode(id: connectors[4].id, to: .sync)

            let all = try await registry.list(mode: nil, pageSize: 0, pageToken: "")
            #expect(all.connectors.map(\.name) == names)
            #expect(all.connectors.map(\.id) == connectors.map(\.id))
            #expect(all.nextPageToken == "")
            #expect(all.connectors.map(\.mode) == [.deactive, .active, .deactive, .active, .sync])

            #expect(try await registry.list(mode: .active, pageSize: 0, pageToken: "").connectors.map(\.name) == ["alpha", "beta"])
            #expect(try await registry.list(mode: .deactive, pageSize: 0, pageToken: "").connectors.map(\.name) == ["zeta", "mid"])
            #expect(try await registry.list(mode: .sync, pageSize: 0, pageToken: "").connectors.map(\.name) == ["omega"])

            // Listed records are the full records, as Get gives them.
            for connector in all.connectors {
                #expect(try await registry.connector(id: connector.id) == connector)
            }

            // Paging within a mode filter.
            let first = try await registry.list(mode: .active, pageSize: 1, pageToken: "")
            #expect(first.connectors.map(\.name) == ["alpha"])
            #expect(!first.nextPageToken.isEmpty)
            let second = try await registry.list(mode: .active, pageSize: 1, pageToken: first.nextPageToken)
            #expect(second.connectors.map(\.name) == ["beta"])
            #expect(second.nextPageToken == "")
        }
    }

    @Test func pageSizesDefaultTo100AndStopAt1000() async throws {
        try await withRegistry { registry, _ in
            let ids = try await Self.registerMany(registry, 250)
            #expect(ids.count == 250)

            let defaultPage = try await registry.list(mode: nil, pageSize: 0, pageToken: "")
            #expect(defaultPage.connectors.map(\.id) == Array(ids.prefix(100)))
            #expect(!defaultPage.nextPageToken.isEmpty)

            let largest = try await registry.list(mode: nil, pageSize: 1000, pageToken: "")
            #expect(largest.connectors.map(\.id) == ids)
            #expect(largest.nextPageToken == "")

            let exact = try await registry.list(mode: nil, pageSize: 250, pageToken: "")
            #expect(exact.connectors.count == 250)
            #expect(exact.nextPageToken == "")  // no empty last page

            for size in [1001, -1, Int.max] {
                await expectError(.invalidArgument, "page_size must be between 1 and 1000, not \(size)") {
                    try await registry.list(mode: nil, pageSize: size, pageToken: "")
                }
            }

            // All 250, exactly once, in three pages of 100, 100 and 50.
            let (paged, pages) = try await Self.listAll(registry, pageSize: 100)
            #expect(paged == ids)
            #expect(pages == 3)

            // With an odd page size too.
            let (pagedBy7, pagesBy7) = try await Self.listAll(registry, pageSize: 7)
            #expect(pagedBy7 == ids)
            #expect(pagesBy7 == 36)
        }
    }

    @Test func pagingWhileOthersRegisterLosesAndRepeatsNothing() async throws {
        try await withRegistry { registry, _ in
            let before = try await Self.registerMany(registry, 120, prefix: "before")

            // Registrations interleaved with the pages, deterministically...
            var seen: [Int64] = []
            var token = ""
            var added: [Int64] = []
            var pages = 0
            repeat {
                let page = try await registry.list(mode: nil, pageSize: 10, pageToken: token)
                seen += page.connectors.map(\.id)
                token = page.nextPageToken
                pages += 1
                if pages <= 8 {
                    for index in 0..<3 { added.append(try await register(registry, "during\(pages)_\(index)").id) }
                }
            } while !token.isEmpty && pages < 1000
            #expect(seen == seen.sorted())
            #expect(Set(seen).count == seen.count)  // nothing repeated
            #expect(Set(before).isSubset(of: Set(seen)))  // nothing lost
            #expect(seen == before + added)  // and the new ones come after, in order
        }
    }

    @Test func pagingWhileAnotherTaskRegistersLosesAndRepeatsNothing() async throws {
        try await withRegistry { registry, _ in
            let before = try await Self.registerMany(registry, 150, prefix: "before")
            async let writer: [Int64] = {
                var ids: [Int64] = []
                for index in 0..<100 { ids.append(try await register(registry, "concurrent\(index)").id) }
                return ids
            }()
            var seen: [Int64] = []
            var token = ""
            var pages = 0
            repeat {
                let page = try await registry.list(mode: nil, pageSize: 5, pageToken: token)
                seen += page.connectors.map(\.id)
                token = page.nextPageToken
                pages += 1
                await Task.yield()
            } while !token.isEmpty && pages < 1000
            let written = try await writer
            #expect(seen == seen.sorted())
            #expect(Set(seen).count == seen.count)
            #expect(seen.filter { before.contains($0) } == before)
            #expect(Set(seen).isSubset(of: Set(before + written)))
            // After the writer finished, a full listing has everything once.
            let (all, _) = try await Self.listAll(registry, pageSize: 100)
            #expect(all == (before + written).sorted())
        }
    }

    @Test func pagingWhileOthersAreDeletedLosesNothingElse() async throws {
        try await withRegistry { registry, _ in
            let ids = try await Self.registerMany(registry, 60)
            var seen: [Int64] = []
            var deleted: Set<Int64> = []
            var token = ""
            repeat {
                let page = try await registry.list(mode: nil, pageSize: 10, pageToken: token)
                seen += page.connectors.map(\.id)
                token = page.nextPageToken
                // Delete the last one seen (the token's anchor) and one not yet seen.
                if let last = page.connectors.last, !token.isEmpty {
                    _ = try await registry.delete(id: last.id)
                    deleted.insert(last.id)
                    if let unseen = ids.first(where: { $0 > last.id && !deleted.contains($0) }) {
                        _ = try await registry.delete(id: unseen)
                        deleted.insert(unseen)
                    }
                }
            } while !token.isEmpty
            #expect(Set(seen).count == seen.count)
            #expect(seen == seen.sorted())
            let expected = ids.filter { !deleted.contains($0) || seen.contains($0) }
            #expect(seen == expected)
        }
    }

    @Test func badPageTokensAreInvalidArgument() async throws {
        try await withRegistryAndServer(SampleConnector.routes) { registry, server, _ in
            let ids = try await Self.registerMany(registry, 3)
            for id in ids { _ = try await registry.activate(id: id, url: server.url("/connector.json")) }

            let garbage = [
                "garbage!!",
                "not a token",
                Data("hello".utf8).base64EncodedString(),
                Data("v1:abc:".utf8).base64EncodedString(),
                Data("v1:-5:".utf8).base64EncodedString(),
                Data("v2:1:".utf8).base64EncodedString(),
                String(repeating: "A", count: 200),
            ]
            for token in garbage {
                await expectError(.invalidArgument, "Invalid page token") {
                    try await registry.list(mode: nil, pageSize: 1, pageToken: token)
                }
            }

            // A token made for one mode filter is refused with another.
            let activePage = try await registry.list(mode: .active, pageSize: 1, pageToken: "")
            #expect(!activePage.nextPageToken.isEmpty)
            for other in [nil, ConnectorMode.sync, .deactive] {
                await expectError(.invalidArgument, "The page token was made for another mode filter") {
                    try await registry.list(mode: other, pageSize: 1, pageToken: activePage.nextPageToken)
                }
            }
            let unfiltered = try await registry.list(mode: nil, pageSize: 1, pageToken: "")
            await expectError(.invalidArgument, "The page token was made for another mode filter") {
                try await registry.list(mode: .active, pageSize: 1, pageToken: unfiltered.nextPageToken)
            }
            // The same token with its own filter works.
            #expect(try await registry.list(mode: .active, pageSize: 1, pageToken: activePage.nextPageToken).connectors.map(\.id) == [ids[1]])
        }
    }
}
