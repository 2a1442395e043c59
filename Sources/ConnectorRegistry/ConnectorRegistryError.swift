/// Why a registry operation failed: a code that says which kind of failure
/// (and so which status a caller gets), a message meant for people, and the
/// underlying error if there is one. For `internal` failures the message and
/// cause are for the operator's log, not for callers.
public struct ConnectorRegistryError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kinds of failure.
    public enum Code: String, Sendable, Hashable {
        /// A malformed field in the request.
        case invalidArgument
        /// No connector with that id.
        case notFound
        /// The name is taken.
        case alreadyExists
        /// The caller is not a superuser.
        case permissionDenied
        /// The schema server answered non-200, or the schema is invalid, or the
        /// connector is not in a state that allows the change.
        case failedPrecondition
        /// Another activation of the same connector is running, or the
        /// connector is not at the revision the change expects.
        case aborted
        /// A revision the history no longer keeps.
        case outOfRange
        /// A watcher that fell behind.
        case resourceExhausted
        /// The connector URL cannot be reached.
        case unavailable
        /// The fetch ran past its deadline.
        case deadlineExceeded
        /// The call was cancelled.
        case cancelled
        /// A fault of the registry itself (storage, key file).
        case `internal`
    }

    public var code: Code
    public var message: String
    /// What went wrong underneath (a database error, a system error), if anything.
    public var cause: (any Error)?

    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        cause.map { "\(message): \($0)" } ?? message
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.code == rhs.code && lhs.message == rhs.message
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(message)
    }
}

extension ConnectorRegistryError {
    static func notFound(id: Int64) -> Self {
        Self(.notFound, "Connector with ID \(id) not found")
    }

    static func nameTaken(_ name: String) -> Self {
        Self(.alreadyExists, "Connector with name '\(name)' already exists")
    }

    /// The message for callers that are not superusers.
    public static let superuserRequired = Self(.permissionDenied, "Access denied. Superuser role required.")
}
