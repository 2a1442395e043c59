public import ConnectorRegistry
public import TTRPC

extension ConnectorRegistryError: RPCErrorConvertible {
    /// The status a caller gets for this error.
    public var rpcError: RPCError {
        let status: RPCError.Code =
            switch code {
            case .invalidArgument: .invalidArgument
            case .notFound: .notFound
            case .alreadyExists: .alreadyExists
            case .permissionDenied: .permissionDenied
            case .failedPrecondition: .failedPrecondition
            case .aborted: .aborted
            case .outOfRange: .outOfRange
            case .resourceExhausted: .resourceExhausted
            case .unavailable: .unavailable
            case .deadlineExceeded: .deadlineExceeded
            case .cancelled: .cancelled
            case .internal: .internal
            }
        return RPCError(code: status, message: message)
    }
}
