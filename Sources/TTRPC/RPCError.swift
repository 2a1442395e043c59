/// An error carried on the wire as a `google.rpc.Status`: a canonical code and a message.
public struct RPCError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The canonical status code.
    public var code: Code
    /// A human-readable message; sent to the peer as is.
    public var message: String

    /// Creates an error with a code and a message.
    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}

extension RPCError {
    /// A canonical gRPC/ttrpc status code (0-16). Unknown numbers from a peer are kept.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }

        public static let ok = Code(rawValue: 0)
        public static let cancelled = Code(rawValue: 1)
        public static let unknown = Code(rawValue: 2)
        public static let invalidArgument = Code(rawValue: 3)
        public static let deadlineExceeded = Code(rawValue: 4)
        public static let notFound = Code(rawValue: 5)
        public static let alreadyExists = Code(rawValue: 6)
        public static let permissionDenied = Code(rawValue: 7)
        public static let resourceExhausted = Code(rawValue: 8)
        public static let failedPrecondition = Code(rawValue: 9)
        public static let aborted = Code(rawValue: 10)
        public static let outOfRange = Code(rawValue: 11)
        public static let unimplemented = Code(rawValue: 12)
        public static let `internal` = Code(rawValue: 13)
        public static let unavailable = Code(rawValue: 14)
        public static let dataLoss = Code(rawValue: 15)
        public static let unauthenticated = Code(rawValue: 16)

        private static let names = [
            "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
            "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
            "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
            "UNAUTHENTICATED",
        ]

        /// The canonical name, e.g. `NOT_FOUND`, or `CODE_<n>` for a number outside 0-16.
        public var name: String {
            Self.names.indices.contains(Int(rawValue)) ? Self.names[Int(rawValue)] : "CODE_\(rawValue)"
        }

        public var description: String { name }
    }
}

/// A domain error that knows its wire status; handlers may throw these.
public protocol RPCErrorConvertible: Error {
    /// The error as it goes on the wire.
    var rpcError: RPCError { get }
}

extension RPCError: RPCErrorConvertible {
    public var rpcError: RPCError { self }
}

extension RPCError {
    /// Maps any error thrown by a handler to the status sent to the caller.
    static func from(_ error: any Error) -> RPCError {
        switch error {
        case let convertible as any RPCErrorConvertible: convertible.rpcError
        case is CancellationError: RPCError(code: .cancelled, message: "call cancelled")
        default: RPCError(code: .internal, message: "internal error")
        }
    }
}
