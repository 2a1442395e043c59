import NIOCore

/// Counts the bytes of answers a connection's task has written until the
/// kernel takes them, so the task can stop starting calls while a client that
/// does not read leaves too many unsent.
///
/// It sits between the dispatcher and the task's writer: answers the event
/// loop gives inline do not pass it (those are only given while the channel
/// is writable).
final class UnwrittenAnswerCounter: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let unwritten: UsageLimit

    init(_ unwritten: UsageLimit) {
        self.unwritten = unwritten
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let size = unwrapOutboundIn(data).readableBytes
        let written = promise ?? context.eventLoop.makePromise()
        let unwritten = unwritten
        written.futureResult.whenComplete { _ in unwritten.remove(size) }
        context.write(data, promise: written)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        unwritten.close()  // the channel closed: a task waiting for room must not wait forever
    }
}
