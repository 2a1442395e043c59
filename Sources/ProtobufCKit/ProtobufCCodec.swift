public import CProto

/// Why bytes did not decode as a protobuf-c message.
public struct ProtobufDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, for the INVALID_ARGUMENT message.
    public var reason: String

    public init(reason: String) { self.reason = reason }

    public var description: String { reason }
}

/// The generated `*__unpack` function of a message type.
public typealias ProtobufCUnpack<Message> = (
    UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?
) -> UnsafeMutablePointer<Message>?

/// The generated `*__free_unpacked` function of a message type.
public typealias ProtobufCFree<Message> = (UnsafeMutablePointer<Message>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void

/// Unpacks `bytes` with protobuf-c, hands the C message to `read` (which must
/// copy out what it keeps), and frees it.
/// - Throws: `ProtobufDecodingError` if the bytes are not a valid encoding, or
///   whatever `read` throws.
public func unpackProtobufC<Message, Result>(
    _ bytes: UnsafeRawBufferPointer,
    _ name: String,
    unpack: ProtobufCUnpack<Message>,
    free: ProtobufCFree<Message>,
    read: (borrowing Message) throws(ProtobufDecodingError) -> Result
) throws(ProtobufDecodingError) -> Result {
    // protobuf-c wants a non-null pointer even for an empty message.
    var empty: UInt8 = 0
    let message: UnsafeMutablePointer<Message>? = withUnsafePointer(to: &empty) { emptyPointer in
        let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? emptyPointer
        return unpack(nil, bytes.count, base)
    }
    guard let message else {
        throw ProtobufDecodingError(reason: "\(name) does not decode")
    }
    defer { free(message, nil) }
    let descriptor = UnsafeRawPointer(message).assumingMemoryBound(to: ProtobufCMessage.self).pointee.descriptor
    if let base = bytes.baseAddress, let descriptor,
        let field = cproto_string_with_nul(descriptor, base.assumingMemoryBound(to: UInt8.self), bytes.count, 0)
    {
        throw ProtobufDecodingError(reason: "field '\(String(cString: field))' contains a NUL byte")
    }
    return try read(message.pointee)
}

/// Packs a protobuf-c message: `write` receives the encoded size and a function
/// that packs into memory of at least that size.
public func packProtobufC<Message, Result>(
    _ message: UnsafeMutablePointer<Message>,
    write: (_ size: Int, _ pack: (UnsafeMutableRawPointer) -> Void) throws -> Result
) rethrows -> Result {
    try message.withMemoryRebound(to: ProtobufCMessage.self, capacity: 1) { base in
        let size = protobuf_c_message_get_packed_size(base)
        return try write(size) { out in
            _ = protobuf_c_message_pack(base, out.assumingMemoryBound(to: UInt8.self))
        }
    }
}

/// Packs a protobuf-c message into a new byte array.
public func packProtobufC<Message>(_ message: UnsafeMutablePointer<Message>) -> [UInt8] {
    packProtobufC(message) { size, pack in
        [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            if size > 0 { pack(buffer.baseAddress!) }
            count = size
        }
    }
}

extension String {
    /// Copies a protobuf-c string field, refusing bytes that are not UTF-8.
    /// - Throws: `ProtobufDecodingError` naming `field`.
    public init(protobufC pointer: UnsafePointer<CChar>?, field: String) throws(ProtobufDecodingError) {
        guard let pointer else {
            self = ""
            return
        }
        guard let string = String(validatingCString: pointer) else {
            throw ProtobufDecodingError(reason: "field '\(field)' is not valid UTF-8")
        }
        self = string
    }
}

extension ProtobufCBinaryData {
    /// The bytes of a `bytes` field, borrowed for the duration of `body`.
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : len))
    }
}
