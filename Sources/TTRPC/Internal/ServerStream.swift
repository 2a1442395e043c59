import NIOCore
import Synchronization

/// One call in flight on a server connection, unary or streaming, as the
/// connection's task and the call's own task share it.
///
/// - The connection's task feeds the client's messages to `inbox` and may end
///   the stream early (`end`): a protocol error, a full buffer, a send stall.
///   The call's task waits for that (`waitForEnd`) beside its handler and its
///   deadline, and writes the stream's last frame itself, so nothing it sends
///   can follow that frame.
/// - A unary call's answer is claimed once (`claimAnswer`), by the call's task
///   or by the connection's task answering a protocol error on the stream.
final class ServerStream: Sendable {
    private struct State {
        var endedWith: RPCError?
        var waiter: CheckedContinuation<RPCError?, Never>?
        var waiterCancelled = false
        var answered = false
        /// When the send under way began, if one is.
        var sendingSince: NIODeadline?
    }

    let kind: MethodKind
    /// The client's messages, for the kinds where the client sends them.
    let inbox: StreamInbox?
    /// Whether the client sent `remote closed` (kept by the connection's task only).
    let remoteClosed = Atomic<Bool>(false)
    private let state = Mutex(State())

    init(kind: MethodKind, inbox: StreamInbox?) {
        self.kind = kind
        self.inbox = inbox
    }

    /// Ends the stream with `error` (the first call wins): its handler is
    /// cancelled and its last frame carries the error.
    func end(_ error: RPCError) {
        let waiter = state.withLock { state -> CheckedContinuation<RPCError?, Never>? in
            guard state.endedWith == nil else { return nil }
            state.endedWith = error
            return state.waiter.take()
        }
        inbox?.fail(error)
        waiter?.resume(returning: error)
    }

    /// The error the stream was ended with, if it was.
    var endedWith: RPCError? { state.withLock { $0.endedWith } }

    /// Returns the error once `end` is called, or nil when the task is cancelled.
    func waitForEnd() async -> RPCError? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<RPCError?, Never>) in
                let now: RPCError?? = state.withLock { state in
                    if let error = state.endedWith { return .some(error) }
                    if state.waiterCancelled { return .some(nil) }
                    state.waiter = continuation
                    return nil
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                state.waiterCancelled = true
                return state.waiter.take()
            }
            waiter?.resume(returning: nil)
        }
    }

    /// Marks a send of the handler as begun (until `endSend`).
    func beginSend() {
        state.withLock { $0.sendingSince = .now() }
    }

    func endSend() {
        state.withLock { $0.sendingSince = nil }
    }

    /// Whether a send has been under way for more than `timeout`.
    func isSendStalled(longerThan timeout: TimeAmount) -> Bool {
        state.withLock { state in state.sendingSince.map { NIODeadline.now() - $0 > timeout } ?? false }
    }

    /// Takes the right to send the stream's answer; true once, false after.
    func claimAnswer() -> Bool {
        state.withLock { state in
            defer { state.answered = true }
            return !state.answered
        }
    }
}
