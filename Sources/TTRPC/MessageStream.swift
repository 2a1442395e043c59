public import NIOCore

/// The messages the peer sends on one stream, in order: a server handler's
/// view of the client's messages, or a client's view of the server's.
///
/// It ends (returns nil) when the peer closes the stream cleanly, or throws
/// the stream's `RPCError`: the server's status, DEADLINE_EXCEEDED,
/// RESOURCE_EXHAUSTED when the messages were not taken fast enough and the
/// buffer bound was reached, UNAVAILABLE when the connection closed, or
/// CANCELLED when the consuming task was cancelled. Iterate it from one task.
public struct MessageStream: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    public typealias Failure = RPCError

    let inbox: StreamInbox

    init(_ inbox: StreamInbox) { self.inbox = inbox }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(inbox: inbox) }

    /// Iterates the messages of a `MessageStream`.
    public struct AsyncIterator: AsyncIteratorProtocol {
        public typealias Element = ByteBuffer
        public typealias Failure = RPCError

        let inbox: StreamInbox

        /// The next message, or nil at the clean end of the stream.
        /// - Throws: `RPCError`, the status the stream ended with.
        public mutating func next() async throws(RPCError) -> ByteBuffer? {
            try await inbox.next()
        }

        public mutating func next(isolation actor: isolated (any Actor)?) async throws(RPCError) -> ByteBuffer? {
            try await inbox.next()
        }
    }
}
