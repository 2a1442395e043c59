import NIOCore

/// One call handed to the client's channel: the encoded envelope behind a
/// frame header whose stream id the handler fills in.
struct ClientCall {
    /// Where the server's answer goes.
    enum Sink {
        /// A unary call: the response frame's data.
        case unary(EventLoopPromise<ByteBuffer>)
        /// A stream: its messages, then its end.
        case stream(StreamInbox)
    }

    let id: UInt64
    var frame: ByteBuffer
    let deadline: NIODeadline?
    let sink: Sink
}

/// A message the client sends on one of its streams, or the end of its side.
struct ClientStreamMessage {
    let callID: UInt64
    /// The message; nil to close the client's side (`remote closed | no data`).
    let message: ByteBuffer?
}

/// What the client writes to its channel.
enum ClientOutbound {
    case call(ClientCall)
    case message(ClientStreamMessage)
}

/// Asks the handler to give up on a call (the caller was cancelled, or left
/// a stream): its pending answer fails with `error`, later frames are dropped.
struct CancelClientCall {
    let id: UInt64
    var error = RPCError(code: .cancelled, message: "call cancelled")
}

/// The client side of a ttrpc connection: assigns odd, increasing stream ids
/// in write order, matches responses and data frames to calls and streams,
/// enforces deadlines, and fails every pending call and stream when the
/// connection goes away.
///
/// It reads every frame as it comes: a stream whose messages the application
/// does not take fills its own bounded inbox, then fails alone
/// (RESOURCE_EXHAUSTED); the other streams and calls go on.
final class ClientStreamHandler: ChannelDuplexHandler {
    typealias InboundIn = FrameDecoder.Event
    typealias OutboundIn = ClientOutbound
    typealias OutboundOut = ByteBuffer

    private struct Pending {
        let callID: UInt64
        let sink: ClientCall.Sink
        let timeout: Scheduled<Void>?
        /// Whether the client has closed its side (streams that send data).
        var localClosed: Bool
    }

    private var nextStreamID: UInt32 = 1
    private var pending: [UInt32: Pending] = [:]
    private var streamOfCall: [UInt64: UInt32] = [:]

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .call(let call): start(context: context, call: call, promise: promise)
        case .message(let message): send(context: context, message: message, promise: promise)
        }
    }

    private func start(context: ChannelHandlerContext, call: ClientCall, promise: EventLoopPromise<Void>?) {
        var call = call
        guard nextStreamID < UInt32.max - 2 else {
            let error = RPCError(code: .unavailable, message: "stream ids exhausted; reconnecting")
            switch call.sink {
            case .unary(let answer): answer.fail(error)
            case .stream(let inbox): inbox.fail(error)
            }
            promise?.fail(error)
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
        // Only the kinds that send data leave their side open.
        let flags = call.frame.getInteger(at: call.frame.readerIndex + 9, as: UInt8.self) ?? 0
        pending[streamID] = Pending(
            callID: call.id, sink: call.sink, timeout: timeout, localClosed: flags & Frame.Flags.remoteOpen == 0)
        streamOfCall[call.id] = streamID
        context.writeAndFlush(wrapOutboundOut(call.frame), promise: promise)
    }

    private func send(context: ChannelHandlerContext, message: ClientStreamMessage, promise: EventLoopPromise<Void>?) {
        guard let streamID = streamOfCall[message.callID], let stream = pending[streamID], case .stream = stream.sink else {
            promise?.fail(RPCError(code: .cancelled, message: "the stream has ended"))
            return
        }
        guard !stream.localClosed else {
            promise?.fail(RPCError(code: .failedPrecondition, message: "the stream's sending side is closed"))
            return
        }
        let frame: [ByteBuffer]
        if let payload = message.message {
            frame = DataFrame.encode(streamID: streamID, message: payload, allocator: context.channel.allocator)
        } else {
            pending[streamID]?.localClosed = true
            frame = [DataFrame.close(streamID: streamID, allocator: context.channel.allocator)]
        }
        for part in frame.dropLast() { context.write(wrapOutboundOut(part), promise: nil) }
        context.writeAndFlush(wrapOutboundOut(frame.last!), promise: promise)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        if let cancel = event as? CancelClientCall {
            if let streamID = streamOfCall[cancel.id] {
                complete(streamID, with: .failure(cancel.error), droppingMessages: true)
            }
            promise?.succeed()
        } else {
            context.triggerUserOutboundEvent(event, promise: promise)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .frame(let frame) where frame.type == .response:
            guard let call = pending[frame.streamID] else { return }
            switch call.sink {
            case .unary:
                complete(frame.streamID, with: .success(frame.data))
            case .stream(let inbox):
                // The stream's last frame: an error status (delivered after the
                // messages already buffered), or the answer of a client stream.
                let end: Result<Void, RPCError>
                do {
                    let answer = try ResponseEnvelope(decoding: frame.data).result.get()
                    if answer.readableBytes > 0, let error = Self.refusal(inbox.offer(answer), inbox) {
                        return complete(frame.streamID, with: .failure(error), droppingMessages: true)
                    }
                    end = .success(())
                } catch {
                    end = .failure(error)
                }
                inbox.finish(end)
                complete(frame.streamID, with: .success(ByteBuffer()))  // the inbox has ended already
            }
        case .frame(let frame) where frame.type == .data:
            guard let call = pending[frame.streamID], case .stream(let inbox) = call.sink else {
                return  // a unary call's, or a stream's that has ended: nothing to deliver it to
            }
            if frame.flags & Frame.Flags.noData == 0, let error = Self.refusal(inbox.offer(frame.data), inbox) {
                return complete(frame.streamID, with: .failure(error), droppingMessages: true)
            }
            if frame.flags & Frame.Flags.remoteClosed != 0 {
                complete(frame.streamID, with: .success(ByteBuffer()))
            }
        case .frame:
            break  // no other type is defined
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

    /// Ends a call or stream: a unary call gets `result`; a stream ends after
    /// its buffered messages (cleanly on success), or, with
    /// `droppingMessages`, fails at once and frees them.
    private func complete(_ streamID: UInt32, with result: Result<ByteBuffer, RPCError>, droppingMessages: Bool = false) {
        guard let call = pending.removeValue(forKey: streamID) else { return }
        streamOfCall.removeValue(forKey: call.callID)
        call.timeout?.cancel()
        switch call.sink {
        case .unary(let promise):
            promise.completeWith(result.mapError { $0 as any Error })
        case .stream(let inbox):
            switch result {
            case .success: inbox.finish(.success(()))
            case .failure(let error) where droppingMessages: inbox.fail(error)
            case .failure(let error): inbox.finish(.failure(error))
            }
        }
    }

    /// The status a stream fails with when its inbox refused a message; nil if it took it.
    private static func refusal(_ offer: StreamInbox.OfferResult, _ inbox: StreamInbox) -> RPCError? {
        switch offer {
        case .accepted, .ended:
            return nil
        case .full:
            return RPCError(
                code: .resourceExhausted,
                message: "stream buffer full: the application left more than \(inbox.maximumBytes) bytes of messages waiting")
        case .connectionFull:
            return RPCError(
                code: .resourceExhausted,
                message: "connection buffer full: the application left more than \(inbox.connectionBudget.limit) bytes of messages waiting on this connection's streams")
        }
    }

    private func failAll(_ error: RPCError) {
        for streamID in Array(pending.keys) { complete(streamID, with: .failure(error)) }
    }
}
