import Glibc

/// A deterministic random number generator (SplitMix64): a random test
/// prints its seed, and the same seed replays the same run.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in `0..<bound`.
    public mutating func next(below bound: Int) -> Int { Int(next() % UInt64(bound)) }
}

extension SeededGenerator {
    /// The seed of a random test: `CONNECTORD_TEST_SEED` when set (to replay
    /// a run), else a new one; printed with the test's name either way.
    public static func testSeed(_ test: String = #function) -> UInt64 {
        let seed = getenv("CONNECTORD_TEST_SEED").flatMap { UInt64(String(cString: $0)) } ?? UInt64.random(in: 1...UInt64(UInt32.max))
        print("\(test): seed \(seed) (CONNECTORD_TEST_SEED)")
        return seed
    }
}
