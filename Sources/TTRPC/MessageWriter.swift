public import NIOCore

/// Sends messages on one stream: a server handler's messages to the client,
/// or a client's messages to the server. Each message is one data frame.
public struct MessageWriter: Sendable {
    private let send: @Sendable (ByteBuffer) async throws(RPCError) -> Void

    init(_ send: @escaping @Sendable (ByteBuffer) async throws(RPCError) -> Void) {
        self.send = send
    }

    /// Sends one encoded message; returns once it is on its way (it waits
    /// while the connection's output is full).
    /// - Throws: `RPCError`: RESOURCE_EXHAUSTED for a message over the frame
    ///   limit or a stream that could not send for too long, the stream's
    ///   status once it has ended (CANCELLED, DEADLINE_EXCEEDED, ...), or
    ///   UNAVAILABLE when the connection is gone.
    public func write(_ message: ByteBuffer) async throws(RPCError) {
        try await send(message)
    }
}
