/// Connector ids in ascending order, for pages by id. Ids are handed out in
/// ascending order, so an insert is nearly always an append.
struct SortedIDs: Sendable {
    private var ids: [Int64] = []

    init() {}

    var count: Int { ids.count }

    /// The position of the first id above `id`.
    private func indexAbove(_ id: Int64) -> Int {
        if let last = ids.last, last <= id { return ids.count }
        var low = 0
        var high = ids.count
        while low < high {
            let middle = (low + high) / 2
            if ids[middle] <= id { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Whether `id` is held.
    func contains(_ id: Int64) -> Bool {
        let index = indexAbove(id)
        return index > 0 && ids[index - 1] == id
    }

    mutating func insert(_ id: Int64) {
        let index = indexAbove(id)
        if index > 0, ids[index - 1] == id { return }
        ids.insert(id, at: index)
    }

    mutating func remove(_ id: Int64) {
        let index = indexAbove(id)
        if index > 0, ids[index - 1] == id { ids.remove(at: index - 1) }
    }

    /// Up to `limit` ids above `afterID`, ascending.
    func ids(after afterID: Int64, limit: Int) -> ArraySlice<Int64> {
        let start = indexAbove(afterID)
        return ids[start..<min(ids.count, start + limit)]
    }
}
