public import ProtobufCKit

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
