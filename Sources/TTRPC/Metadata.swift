/// The key-value pairs sent with a request. Keys are lower-case; a key may repeat.
public struct Metadata: Sendable, Hashable, ExpressibleByDictionaryLiteral {
    /// One metadata pair.
    public struct Entry: Sendable, Hashable {
        public var key: String
        public var value: String

        public init(key: String, value: String) {
            self.key = key.lowercased()
            self.value = value
        }
    }

    /// The pairs, in the order they were sent.
    public private(set) var entries: [Entry]

    public init(_ entries: [Entry] = []) { self.entries = entries }

    public init(dictionaryLiteral elements: (String, String)...) {
        self.entries = elements.map { Entry(key: $0.0, value: $0.1) }
    }

    /// Appends a pair; the key is lower-cased.
    public mutating func add(_ key: String, _ value: String) {
        entries.append(Entry(key: key, value: value))
    }

    /// Every value sent under `key` (compared lower-case).
    public subscript(key: String) -> [String] {
        let key = key.lowercased()
        return entries.filter { $0.key == key }.map(\.value)
    }

    public var isEmpty: Bool { entries.isEmpty }
}
