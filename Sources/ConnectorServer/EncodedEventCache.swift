import ConnectorAPI
import ConnectorRegistry
import NIOCore
import Synchronization

/// Encoded Watch events of the latest changes, by revision: a change goes to
/// every watcher as the same bytes, encoded once, not once per watcher.
final class EncodedEventCache: Sendable {
    private struct State {
        var events: [UInt64: ByteBuffer] = [:]
        /// The revisions held, oldest first.
        var order: [UInt64] = []
    }

    private let state = Mutex(State())
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// The encoded `WatchEvent` of `event`: a change's is shared by revision;
    /// snapshots and bookmarks are encoded each time.
    func encoded(_ event: ConnectorEvent) -> ByteBuffer {
        guard case .change = event.kind else { return ConnectorsV1.WatchEvent(event).byteBuffer() }
        if let held = state.withLock({ $0.events[event.revision] }) { return held }
        let encoded = ConnectorsV1.WatchEvent(event).byteBuffer()
        state.withLock { state in
            guard state.events.updateValue(encoded, forKey: event.revision) == nil else { return }
            state.order.append(event.revision)
            if state.order.count > capacity {
                state.events.removeValue(forKey: state.order.removeFirst())
            }
        }
        return encoded
    }
}
