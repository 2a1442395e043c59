/// Polls `condition` until it holds and returns true; returns false if it
/// still does not hold after `timeout`.
///
/// The timeout guards against a hang; it is not a measure of speed, so it is
/// long (a loaded two-core machine can stall a process for seconds). Tests
/// that check a promised time measure it themselves, in the timing step.
public func eventually(
    timeout: Duration = .seconds(60), every interval: Duration = .milliseconds(10), _ condition: () async throws -> Bool
) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
        guard ContinuousClock.now < deadline else { return false }
        try? await Task.sleep(for: interval)
    }
    return true
}
