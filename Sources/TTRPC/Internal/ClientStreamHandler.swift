import NIOCore

/// One call handed to the client's channel: the encoded envelope behind a
/// frame header whose stream id the handler fills in.
struct ClientCall {
    let id: UInt64
    var frame: ByteBuffer
    let deadline: NIODeadline?
    let promise: EventLoopPromise<ByteBuffer>
}

/// Asks the handler to give up on a call (the caller was cancelled).
struct CancelClientCall {
    let id: UInt64
}

/// The client side of a ttrpc connection: assigns odd, increasing stream ids
/// in write order, matches responses to calls, enforces call deadlines, and
/// fails every pending call when the connection goes away.
final class ClientStreamHandler: ChannelDuplexHandler {
    typealias InboundIn = FrameDecoder.Event
    typealias OutboundIn = ClientCall
    typealias OutboundOut = ByteBuffer

    private struct Pending {
        let callID: UInt64
        let promise: EventLoopPromise<ByteBuffer>
        let timeout: Scheduled<Void>?
    }

    private var nextStreamID: UInt32 = 1
    private var pending: [UInt32: Pending] = [:]
    private var streamOfCall: [UInt64: UInt32] = [:]

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var call = unwrapOutboundIn(data)
        guard nextStreamID < UInt32.max - 2 else {
            call.promise.fail(RPCError(code: .unavailable, message: "stream ids exhausted; reconnecting"))
            context.close(promise: nil)
            return
        }
        let streamID = nextStreamID
        nextStreamID += 2
        call.frame.setInteger(streamID, at: call.frame.readerIndex + 4)

        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let timeout = call.deadline.map { deadline in
            context.eventLoop.scheduleTask(deadline: deadline) {
                loopBound.value.complete(streamID, with: .failure(RPCError(code: .deadlineExceeded, message: "deadline exceeded")))
            }
        }
        pending[streamID] = Pending(callID: call.id, promise: call.promise, timeout: timeout)
        streamOfCall[call.id] = streamID
        context.writeAndFlush(wrapOutboundOut(call.frame), promise: promise)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        if let cancel = event as? CancelClientCall {
            if let streamID = streamOfCall[cancel.id] {
                complete(streamID, with: .failure(RPCError(code: .cancelled, message: "call cancelled")))
            }
            promise?.succeed()
        } else {
            context.triggerUserOutboundEvent(event, promise: promise)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .frame(let frame) where frame.type == .response:
            complete(frame.streamID, with: .success(frame.data))
        case .frame:
            break  // data frames: not used by unary calls
        case .oversized(let streamID, _, let length):
            complete(
                streamID,
                with: .failure(RPCError(code: .resourceExhausted, message: "response of \(length) bytes exceeds the maximum message size")))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(RPCError(code: .unavailable, message: "connection closed"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(RPCError(code: .unavailable, message: "connection error: \(error)"))
        context.close(promise: nil)
    }

    private func complete(_ streamID: UInt32, with result: Result<ByteBuffer, RPCError>) {
        guard let call = pending.removeValue(forKey: streamID) else { return }
        streamOfCall.removeValue(forKey: call.callID)
        call.timeout?.cancel()
        call.promise.completeWith(result.mapError { $0 as any Error })
    }

    private func failAll(_ error: RPCError) {
        for streamID in Array(pending.keys) { complete(streamID, with: .failure(error)) }
    }
}
