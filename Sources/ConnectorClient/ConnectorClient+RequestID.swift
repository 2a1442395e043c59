public import TTRPC

extension ConnectorClient {
    /// A new request id: 128 random bits as 32 lowercase hex digits.
    ///
    /// Give the same id to a change sent again (by another process, after a
    /// restart) to have it done at most once.
    public static func makeRequestID() -> String {
        var generator = SystemRandomNumberGenerator()
        return [generator.next(), generator.next()].map { (half: UInt64) in
            let hex = String(half, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }
}

extension RPCError {
    /// Whether the client's connection dropped (or could not send) after the
    /// request may have been sent and before an answer came: the daemon may
    /// or may not have done it. False for every status the daemon answered
    /// (its UNAVAILABLE too: e.g. a connector URL it could not reach), and for
    /// a connection that could not be opened (nothing was sent).
    ///
    /// TTRPCClient tells these apart only by its messages ("connection closed",
    /// "connection error: …", "cannot send to …"), which this matches.
    public var isDroppedConnection: Bool {
        guard code == .unavailable else { return false }
        return message == "connection closed" || message.hasPrefix("connection error: ") || message.hasPrefix("cannot send to ")
    }
}
