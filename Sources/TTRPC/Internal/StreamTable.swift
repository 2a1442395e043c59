import Synchronization

/// The calls in flight on one server connection, by stream id: added by the
/// connection's task, removed by each call's task once its last frame is sent.
final class StreamTable: Sendable {
    private struct State {
        var streams: [UInt32: ServerStream] = [:]
        /// How many of them are streaming (not unary) calls.
        var streaming = 0
    }

    private let state = Mutex(State())

    init() {}

    func add(_ streamID: UInt32, _ stream: ServerStream) {
        state.withLock { state in
            state.streams[streamID] = stream
            if stream.kind != .unary { state.streaming += 1 }
        }
    }

    func remove(_ streamID: UInt32) {
        state.withLock { state in
            guard let stream = state.streams.removeValue(forKey: streamID) else { return }
            if stream.kind != .unary { state.streaming -= 1 }
        }
    }

    subscript(streamID: UInt32) -> ServerStream? {
        state.withLock { $0.streams[streamID] }
    }

    /// How many calls are in flight, unary and streaming.
    var count: Int { state.withLock { $0.streams.count } }

    /// Whether any streaming call is open.
    var hasStreams: Bool { state.withLock { $0.streaming > 0 } }

    /// Every call in flight.
    var all: [ServerStream] { state.withLock { Array($0.streams.values) } }
}
