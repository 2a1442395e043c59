import NIOCore
import Synchronization

/// The messages a peer sent on one stream, waiting for the application to take
/// them: filled from the event loop (or a connection's task), drained by one
/// consumer task.
///
/// Bounded twice: `offer` refuses a message once the waiting messages would
/// cost more than `maximumBytes`, counting each message's bytes plus
/// `overheadPerMessage` (one message is always accepted into an empty inbox,
/// so a message up to the frame limit can pass); and once the messages
/// waiting in all the inboxes of the connection would cost more than their
/// shared `connectionBudget` (which the one message into an empty inbox must
/// fit too: without it, every stream of a connection could hold a message of
/// the frame limit). Refusing is the caller's cue to fail that stream alone;
/// nothing here ever waits for the consumer, so one slow stream cannot hold
/// up the connection. Small messages are copied when buffered, so that a
/// waiting message never keeps a whole read buffer of the connection alive.
final class StreamInbox: Sendable {
    private enum State {
        /// Messages may still come; a consumer may be waiting for one.
        case open(buffer: CircularBuffer<ByteBuffer>, bytes: Int, waiter: CheckedContinuation<ByteBuffer?, any Error>?)
        /// No more messages will come; those buffered are still delivered, then the end.
        case finishing(buffer: CircularBuffer<ByteBuffer>, bytes: Int, end: Result<Void, RPCError>)
        /// Everything delivered (or the consumer gave up): `next()` returns the end.
        case finished(Result<Void, RPCError>)
    }

    /// What `offer` did with a message.
    enum OfferResult {
        case accepted
        /// The stream's bound is reached: the stream should fail.
        case full
        /// The connection's budget is spent: the stream should fail.
        case connectionFull
        /// The stream already ended (or its consumer left); the message was dropped.
        case ended
    }

    /// What a buffered message costs besides its bytes (its buffer's header,
    /// its slot).
    static let overheadPerMessage = 64
    /// Messages below this size are copied out of the read buffer when buffered.
    static let copiedMessageSize = 4096

    let maximumBytes: Int
    /// The bytes buffered in all the inboxes of one connection, counted like
    /// `maximumBytes`: what this inbox holds is added on `offer` and given
    /// back as its messages are taken or dropped.
    let connectionBudget: UsageLimit
    private let state: Mutex<State>

    init(maximumBytes: Int, connectionBudget: UsageLimit) {
        self.maximumBytes = maximumBytes
        self.connectionBudget = connectionBudget
        state = Mutex(.open(buffer: CircularBuffer(initialCapacity: 4), bytes: 0, waiter: nil))
    }

    deinit {
        // Whatever path dropped the last reference, the budget gets its bytes back.
        let held = state.withLock { state in
            switch state {
            case .open(_, let bytes, _), .finishing(_, let bytes, _): bytes
            case .finished: 0
            }
        }
        if held > 0 { connectionBudget.remove(held) }
    }

    /// Hands a message to the consumer, or buffers it within the bounds.
    func offer(_ message: ByteBuffer) -> OfferResult {
        let (result, waiter): (OfferResult, CheckedContinuation<ByteBuffer?, any Error>?) = state.withLock { state in
            guard case .open(var buffer, var bytes, let waiter) = state else { return (.ended, nil) }
            if let waiter {
                state = .open(buffer: buffer, bytes: bytes, waiter: nil)
                return (.accepted, waiter)
            }
            let cost = message.readableBytes + Self.overheadPerMessage
            guard buffer.isEmpty || bytes + cost <= maximumBytes else { return (.full, nil) }
            guard connectionBudget.reserve(cost) else { return (.connectionFull, nil) }
            state = .finished(.success(()))  // drops the state's reference: the append does not copy
            buffer.append(message.readableBytes < Self.copiedMessageSize ? ByteBuffer(bytes: message.readableBytesView) : message)
            bytes += cost
            state = .open(buffer: buffer, bytes: bytes, waiter: nil)
            return (.accepted, nil)
        }
        waiter?.resume(returning: message)
        return result
    }

    /// Ends the stream: after the buffered messages, `next()` returns nil
    /// (success) or throws the error. Later calls are ignored.
    func finish(_ end: Result<Void, RPCError>) {
        let waiter: CheckedContinuation<ByteBuffer?, any Error>? = state.withLock { state in
            guard case .open(let buffer, let bytes, let waiter) = state else { return nil }
            state = buffer.isEmpty ? .finished(end) : .finishing(buffer: buffer, bytes: bytes, end: end)
            return waiter
        }
        guard let waiter else { return }
        switch end {
        case .success: waiter.resume(returning: nil)
        case .failure(let error): waiter.resume(throwing: error)
        }
    }

    /// Ends the stream at once with `error`, dropping what is buffered (the
    /// stream failed, or its consumer is gone). Later calls are ignored.
    func fail(_ error: RPCError) {
        let (waiter, dropped): (CheckedContinuation<ByteBuffer?, any Error>?, Int) = state.withLock { state in
            switch state {
            case .open(_, let bytes, let waiter):
                state = .finished(.failure(error))
                return (waiter, bytes)
            case .finishing(_, let bytes, _):
                state = .finished(.failure(error))
                return (nil, bytes)
            case .finished:
                return (nil, 0)
            }
        }
        if dropped > 0 { connectionBudget.remove(dropped) }
        waiter?.resume(throwing: error)
    }

    /// The error the stream ended with, once it has ended with one.
    var error: RPCError? {
        state.withLock { state in
            switch state {
            case .open: nil
            case .finishing(_, _, let end), .finished(let end):
                if case .failure(let error) = end { error } else { nil }
            }
        }
    }

    /// Whether the stream has ended (messages may still be waiting to be read).
    var hasEnded: Bool {
        state.withLock { state in
            if case .open = state { return false }
            return true
        }
    }

    /// The next message, or nil once the stream ended cleanly.
    /// - Throws: `RPCError`: the stream's error, or CANCELLED if the task is
    ///   cancelled while waiting (the inbox is then failed and its buffers freed).
    func next() async throws(RPCError) -> ByteBuffer? {
        do {
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ByteBuffer?, any Error>) in
                    let (now, taken): (Result<ByteBuffer?, RPCError>?, Int) = state.withLock { state in
                        switch state {
                        case .open(var buffer, var bytes, let waiter):
                            precondition(waiter == nil, "one consumer at a time")
                            state = .finished(.success(()))  // drops the state's reference: the pop does not copy
                            if let message = buffer.popFirst() {
                                let cost = message.readableBytes + Self.overheadPerMessage
                                bytes -= cost
                                state = .open(buffer: buffer, bytes: bytes, waiter: nil)
                                return (.success(message), cost)
                            }
                            if Task.isCancelled {
                                state = .finished(.failure(Self.cancelled))
                                return (.failure(Self.cancelled), 0)
                            }
                            state = .open(buffer: buffer, bytes: bytes, waiter: continuation)
                            return (nil, 0)
                        case .finishing(var buffer, var bytes, let end):
                            state = .finished(.success(()))  // as above
                            let message = buffer.popFirst()!
                            let cost = message.readableBytes + Self.overheadPerMessage
                            bytes -= cost
                            state = buffer.isEmpty ? .finished(end) : .finishing(buffer: buffer, bytes: bytes, end: end)
                            return (.success(message), cost)
                        case .finished(let end):
                            return (end.map { nil }, 0)
                        }
                    }
                    if taken > 0 { connectionBudget.remove(taken) }
                    if let now { continuation.resume(with: now.mapError { $0 as any Error }) }
                }
            } onCancel: {
                fail(Self.cancelled)
            }
        } catch let error as RPCError {
            throw error
        } catch {
            throw RPCError.from(error)
        }
    }

    private static let cancelled = RPCError(code: .cancelled, message: "stream cancelled")
}
