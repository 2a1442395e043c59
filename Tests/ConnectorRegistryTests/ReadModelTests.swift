#if DEBUG
@testable import ConnectorRegistry
import Testing

/// The read model's memory: bounded, the connector held longest evicted
/// first, so a page just filled stays whole and is answered from memory.
@Suite struct ReadModelTests {
    static func connector(_ id: Int64, revision: UInt64, mode: ConnectorMode = .deactive) -> Connector {
        var connector = Connector()
        connector.id = id
        connector.name = "c\(id)"
        connector.mode = mode
        connector.revision = revision
        return connector
    }

    @Test func aPageJustFilledStaysWholeWhenTheModelIsFull() {
        let ids = Array(Int64(1)...40)
        let model = ReadModel(revision: 40, index: ids.map { ($0, ConnectorMode.deactive) }, capacity: 16)
        // Fill the model with the first 16, then read pages of 10 over and over.
        model.fill(ids.prefix(16).map { Self.connector($0, revision: UInt64($0)) }, readAt: 40)
        for round in 0..<6 {
            let start = (round * 10) % 30
            let page = Array(ids[start..<start + 10])
            model.fill(page.map { Self.connector($0, revision: UInt64($0)) }, readAt: 40)
            let held = model.page(afterID: page[0] - 1, mode: nil, size: 10)
            #expect(held?.entries.map(\.id) == page, "round \(round): the page just filled is held whole")
        }
    }

    @Test func replacedAndDeletedConnectorsDoNotPileUp() {
        let model = ReadModel(revision: 0, index: [], capacity: 8)
        var revision: UInt64 = 0
        for round in 0..<10_000 {
            revision += 1
            let id = Int64(round % 12)
            if round % 5 == 4 {
                model.apply([.deleted(id: id, revision: revision)])
            } else {
                model.apply([.stored(Self.connector(id, revision: revision))])
            }
        }
        #expect(model.heldCount <= 8)
        #expect(model.insertionCount <= 3 * 64, "the insertion order is compacted")
        #expect(model.revision == revision)
    }
}
#endif
