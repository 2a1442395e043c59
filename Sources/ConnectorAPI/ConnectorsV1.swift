/// The `connectors.v1` protocol: the service's names and its messages as Swift
/// values, encoded and decoded through the protobuf-c code generated from
/// `proto/connectors/v1/connectors.proto`. The message types are generated
/// too, in `Generated/` (`scripts/generate-proto.sh`).
public enum ConnectorsV1 {
    /// The fully qualified name of the registry service.
    public static let serviceName = "connectors.v1.ConnectorRegistry"

    /// The methods of `connectors.v1.ConnectorRegistry`.
    public enum Method: String, Sendable, CaseIterable {
        case register = "Register"
        case activate = "Activate"
        case list = "List"
        case get = "Get"
        case setMode = "SetMode"
        case delete = "Delete"
        case getLogo = "GetLogo"
        /// Deprecated single-step registration.
        case create = "Create"
        /// The changes as they are committed (server-streaming).
        case watch = "Watch"
        case listChanges = "ListChanges"
        case getHistory = "GetHistory"
        case verifyHistory = "VerifyHistory"
    }
}
