import NIOCore
import Synchronization

/// The messages a peer sent on one stream, waiting for the application to take
/// them: filled from the event loop (or a connection's task), drained by one
/// consumer task.
///
/// Bounded: `offer` refuses a message once the waiting messages would cost
/// more than `maximumBytes`, counting each message's bytes plus
/// `overheadPerMessage` (one message is always accepted into an empty inbox,
/// so a message up to the frame limit can pass). Refusing is the caller's cue
/// to fail that stream alone; nothing here ever waits for the consumer, so
/// one slow stream cannot hold up the connection. Small messages are copied
/// when buffered, so that a waiting message never keeps a whole read buffer
/// of the connection alive.
final class StreamInbox: Sendable {
    private enum State {
        /// Messages may still come; a consumer may be waiting for one.
        case open(buffer: CircularBuffer<ByteBuffer>, bytes: Int, waiter: CheckedContinuation<ByteBuffer?, any Error>?)
        /// No more messages will come; those buffered are still delivered, then the end.
        case finishing(buffer: CircularBuffer<ByteBuffer>, end: Result<Void, RPCError>)
        /// Everything delivered (or the consumer gave up): `next()` returns the end.
        case finished(Result<Void, RPCError>)
    }

    /// What `offer` did with a message.
    enum OfferResult {
        case accepted
        /// The bound is reached: the stream should fail.
        case full
        /// The stream already ended (or its consumer left); the message was dropped.
        case ended
    }

    /// What a buffered message costs besides its bytes (its buffer's header,
    /// its slot).
    static let overheadPerMessage = 64
    /// Messages below this size are copied out of the read buffer when buffered.
    static let copiedMessageSize = 4096

    let maximumBytes: Int
    private let state: Mutex<State>

    init(maximumBytes: Int) {
        self.maximumBytes = maximumBytes
        state = Mutex(.open(buffer: CircularBuffer(initialCapacity: 4), bytes: 0, waiter: nil))
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
            guard case .open(let buffer, _, let waiter) = state else { return nil }
            state = buffer.isEmpty ? .finished(end) : .finishing(buffer: buffer, end: end)
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
        let waiter: CheckedContinuation<ByteBuffer?, any Error>? = state.withLock { state in
            switch state {
            case .open(_, _, let waiter):
                state = .finished(.failure(error))
                return waiter
            case .finishing:
                state = .finished(.failure(error))
                return nil
            case .finished:
                return nil
            }
        }
        waiter?.resume(throwing: error)
    }

    /// The error the stream ended with, once it has ended with one.
    var error: RPCError? {
        state.withLock { state in
            switch state {
            case .open: nil
            case .finishing(_, let end), .finished(let end):
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
                    let now: Result<ByteBuffer?, RPCError>? = state.withLock { state in
                        switch state {
                        case .open(var buffer, var bytes, let waiter):
                            precondition(waiter == nil, "one consumer at a time")
                            state = .finished(.success(()))  // drops the state's reference: the pop does not copy
                            if let message = buffer.popFirst() {
                                bytes -= message.readableBytes + Self.overheadPerMessage
                                state = .open(buffer: buffer, bytes: bytes, waiter: nil)
                                return .success(message)
                            }
                            if Task.isCancelled {
                                state = .finished(.failure(Self.cancelled))
                                return .failure(Self.cancelled)
                            }
                            state = .open(buffer: buffer, bytes: bytes, waiter: continuation)
                            return nil
                        case .finishing(var buffer, let end):
                            state = .finished(.success(()))  // as above
                            let message = buffer.popFirst()!
                            state = buffer.isEmpty ? .finished(end) : .finishing(buffer: buffer, end: end)
                            return .success(message)
                        case .finished(let end):
                            return end.map { nil }
                        }
                    }
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
