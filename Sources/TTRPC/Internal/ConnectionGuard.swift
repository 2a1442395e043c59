import NIOCore

/// Protects a server from clients that stall it:
/// - a frame begun but not finished within `partialFrameTimeout` (a header
///   then silence) closes the connection;
/// - output that stays blocked for `writeStallTimeout` (a client that sends
///   requests and never reads the answers) closes the connection.
/// Connections idle between frames are left alone.
final class ConnectionGuard: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let partialFrameTimeout: TimeAmount
    private let writeStallTimeout: TimeAmount
    private var headerBytesSeen = 0
    private var lengthBytes: UInt32 = 0
    private var bodyRemaining = 0
    private var partialFrameTimer: Scheduled<Void>?
    private var writeStallTimer: Scheduled<Void>?

    init(partialFrameTimeout: TimeAmount, writeStallTimeout: TimeAmount) {
        self.partialFrameTimeout = partialFrameTimeout
        self.writeStallTimeout = writeStallTimeout
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // The clock runs from the first byte of a frame, however slowly the
        // rest trickles in; it restarts only when a new frame begins.
        let wasInFrame = isInFrame
        let completedFrame = track(unwrapInboundIn(data))
        if completedFrame || !wasInFrame {
            partialFrameTimer?.cancel()
            partialFrameTimer = isInFrame ? schedule(context, after: partialFrameTimeout) : nil
        }
        context.fireChannelRead(data)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            writeStallTimer?.cancel()
            writeStallTimer = nil
        } else if writeStallTimer == nil {
            writeStallTimer = schedule(context, after: writeStallTimeout)
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        partialFrameTimer?.cancel()
        writeStallTimer?.cancel()
        context.fireChannelInactive()
    }

    private var isInFrame: Bool { headerBytesSeen > 0 || bodyRemaining > 0 }

    private func schedule(_ context: ChannelHandlerContext, after delay: TimeAmount) -> Scheduled<Void> {
        let channel = context.channel
        return context.eventLoop.scheduleTask(in: delay) { channel.close(promise: nil) }
    }

    /// Follows frame boundaries through the bytes, without copying them.
    /// - Returns: whether a frame ended within these bytes.
    private func track(_ buffer: ByteBuffer) -> Bool {
        var completed = false
        var remaining = buffer.readableBytes
        var index = buffer.readerIndex
        while remaining > 0 {
            if bodyRemaining > 0 {
                let step = min(bodyRemaining, remaining)
                bodyRemaining -= step
                remaining -= step
                index += step
                completed = completed || bodyRemaining == 0
                continue
            }
            let byte = buffer.getInteger(at: index, as: UInt8.self)!
            if headerBytesSeen < 4 { lengthBytes = lengthBytes << 8 | UInt32(byte) }
            headerBytesSeen += 1
            remaining -= 1
            index += 1
            if headerBytesSeen == Frame.headerSize {
                bodyRemaining = Int(lengthBytes)
                completed = completed || bodyRemaining == 0
                headerBytesSeen = 0
                lengthBytes = 0
            }
        }
        return completed
    }
}
