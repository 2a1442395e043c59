import ServiceLifecycle

/// One of the daemon's services in its `ServiceGroup`: what it runs, and how
/// it is asked to finish when the group shuts down gracefully.
struct DaemonService: Service, CustomStringConvertible {
    let description: String
    private let body: @Sendable () async throws -> Void
    /// Asks `body` to finish; nil: `body` is cancelled.
    private let onGracefulShutdown: (@Sendable () -> Void)?

    init(
        _ name: String, onGracefulShutdown: (@Sendable () -> Void)? = nil, _ body: @escaping @Sendable () async throws -> Void
    ) {
        description = name
        self.body = body
        self.onGracefulShutdown = onGracefulShutdown
    }

    func run() async throws {
        if let onGracefulShutdown {
            try await withGracefulShutdownHandler(operation: body, onGracefulShutdown: onGracefulShutdown)
        } else {
            try await cancelWhenGracefulShutdown(body)
        }
    }
}
