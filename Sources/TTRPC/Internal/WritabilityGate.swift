import NIOCore

/// Tells a connection's task when its channel is not writable (more than the
/// high watermark of answers waits for a client that does not read), so the
/// task starts no new call until the client reads. The same condition, held
/// for `writeStallTimeout`, makes `ConnectionGuard` close the connection.
final class WritabilityGate: ChannelInboundHandler {
    typealias InboundIn = Never

    /// 1 while the channel is not writable, else 0; closed with the channel.
    private let blocked: UsageLimit

    init(_ blocked: UsageLimit) {
        self.blocked = blocked
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            blocked.remove(1)
        } else {
            blocked.add(1)
        }
        context.fireChannelWritabilityChanged()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        blocked.close()  // the channel closed: a task waiting must not wait forever
    }
}
