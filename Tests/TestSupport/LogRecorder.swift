public import Logging
import Synchronization

/// A log handler that keeps every record (level, message and metadata) as
/// text, for tests of what is logged and what never is.
public final class LogRecorder: LogHandler, Sendable {
    private let stored = Mutex<[String]>([])

    public init() {}

    /// Every record so far.
    public var records: [String] { stored.withLock { $0 } }

    public var metadata: Logger.Metadata {
        get { [:] }
        set {}
    }
    public var logLevel: Logger.Level {
        get { .trace }
        set {}
    }
    public subscript(metadataKey _: String) -> Logger.Metadata.Value? {
        get { nil }
        set {}
    }

    public func log(event: LogEvent) {
        let fields = (event.metadata ?? [:]).map { "\($0.key)=\($0.value)" }.sorted().joined(separator: " ")
        stored.withLock { $0.append("\(event.level) \(event.message) \(fields)") }
    }
}
