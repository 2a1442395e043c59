import Dispatch
import Glibc

/// SIGINT and SIGTERM as events a command waits for, instead of the end of
/// the process: a long-running command (watch) ends cleanly on either.
final class TerminationSignals {
    /// One element per signal caught (the latest kept until taken).
    let received: AsyncStream<Int32>
    private let sources: [any DispatchSourceSignal]

    /// Catches SIGINT and SIGTERM from now on, until this is released.
    init() {
        let (stream, continuation) = AsyncStream.makeStream(of: Int32.self, bufferingPolicy: .bufferingNewest(1))
        received = stream
        sources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            return source
        }
    }

    deinit {
        for source in sources { source.cancel() }
    }
}
