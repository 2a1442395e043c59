public import ProtobufCKit

/// The `connectors.v1` protocol: the service's names and its messages as Swift
/// values, encoded and decoded through the protobuf-c code generated from
/// `proto/connectors/v1/connectors.proto`.
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
    }
}

/// A `connectors.v1` message that converts to and from protobuf bytes.
public protocol ProtoMessage: Sendable, Hashable {
    /// Decodes the message from its protobuf encoding.
    /// - Throws: `ProtobufDecodingError` if the bytes are not a valid encoding
    ///   or a string is not UTF-8.
    init(decoding bytes: UnsafeRawBufferPointer) throws(ProtobufDecodingError)

    /// Encodes the message: `write` receives the encoded size and a function
    /// that packs the message into memory of at least that size.
    func encode<Result>(_ write: (_ size: Int, _ pack: (UnsafeMutableRawPointer) -> Void) -> Result) -> Result
}

extension ProtoMessage {
    /// Decodes the message from a byte array.
    public init(serializedBytes bytes: [UInt8]) throws(ProtobufDecodingError) {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(ProtobufDecodingError) in try Self(decoding: raw) }
        }
        self = try result.get()
    }

    /// The message's protobuf encoding.
    public func serializedBytes() -> [UInt8] {
        encode { size, pack in
            [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
                if size > 0 { pack(buffer.baseAddress!) }
                count = size
            }
        }
    }
}
