/// How a method's messages flow: one each way, or a stream on either side.
public enum MethodKind: Sendable, Hashable, CustomStringConvertible {
    /// One request, one response (request flags 0).
    case unary
    /// One request, a stream of responses (request flag `remote closed`).
    case serverStreaming
    /// A stream of requests, one response (request flag `remote open`).
    case clientStreaming
    /// Streams both ways (request flag `remote open`).
    case bidirectionalStreaming

    /// The flags of the request frame that opens a call of this kind.
    public var requestFlags: UInt8 {
        switch self {
        case .unary: 0
        case .serverStreaming: Frame.Flags.remoteClosed
        case .clientStreaming, .bidirectionalStreaming: Frame.Flags.remoteOpen
        }
    }

    /// Whether the client sends data frames.
    var clientSendsData: Bool { self == .clientStreaming || self == .bidirectionalStreaming }

    /// Whether the server answers with data frames (else with one response frame).
    var serverSendsData: Bool { self == .serverStreaming || self == .bidirectionalStreaming }

    public var description: String {
        switch self {
        case .unary: "unary"
        case .serverStreaming: "server streaming"
        case .clientStreaming: "client streaming"
        case .bidirectionalStreaming: "bidirectional streaming"
        }
    }
}
