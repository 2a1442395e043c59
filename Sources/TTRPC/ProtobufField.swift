public import NIOCore

/// The key and length that start a length-delimited protobuf field (bytes,
/// string or message), for messages put together from parts already encoded.
public enum ProtobufField {
    /// The bytes `writeHeader` writes for a field of `length` bytes.
    public static func headerSize(length: Int) -> Int {
        var value = UInt64(length)
        var size = 2  // the key, and the length's last byte
        while value >= 0x80 {
            value >>= 7
            size += 1
        }
        return size
    }

    /// Writes the key of field `number` (1 to 15), wire type 2, then `length` as a varint.
    public static func writeHeader(field number: Int, length: Int, to buffer: inout ByteBuffer) {
        precondition((1...15).contains(number), "a one-byte key")
        buffer.writeInteger(UInt8(number << 3 | 2))
        var value = UInt64(length)
        while value >= 0x80 {
            buffer.writeInteger(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        buffer.writeInteger(UInt8(value))
    }

    /// The bytes `writeVarint` writes for `value` in a field numbered 1 to 15.
    public static func varintSize(_ value: UInt64) -> Int {
        var value = value
        var size = 2  // the key, and the value's last byte
        while value >= 0x80 {
            value >>= 7
            size += 1
        }
        return size
    }

    /// Writes the key of field `number` (1 to 15), wire type 0, then `value` as a varint.
    public static func writeVarint(field number: Int, _ value: UInt64, to buffer: inout ByteBuffer) {
        precondition((1...15).contains(number), "a one-byte key")
        buffer.writeInteger(UInt8(number << 3))
        var value = value
        while value >= 0x80 {
            buffer.writeInteger(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        buffer.writeInteger(UInt8(value))
    }
}
