import NIOCore

/// The encoded `ListResponse` of a page, put together from the encoded
/// `GetResponse` of each of its connectors.
///
/// `GetResponse { Connector connector = 1; }` and
/// `ListResponse { repeated Connector connectors = 1; string next_page_token = 2; }`
/// share field 1, so a `ListResponse` is encoded as its connectors'
/// `GetResponse` encodings one after the other, then field 2 (tag `0x12`,
/// varint length, UTF-8 bytes) when the token is not empty: byte for byte what
/// protobuf-c packs for the same message.
enum ListAnswer {
    /// The `ListResponse` made of `getAnswers` (encoded `GetResponse`s, in
    /// page order) and `nextPageToken`.
    static func encode(getAnswers: [ByteBuffer], nextPageToken: String) -> ByteBuffer {
        let tokenLength = nextPageToken.utf8.count
        var size = getAnswers.reduce(0) { $0 + $1.readableBytes }
        if tokenLength > 0 { size += 1 + varintLength(tokenLength) + tokenLength }
        var buffer = ByteBufferAllocator().buffer(capacity: size)
        for answer in getAnswers { buffer.writeImmutableBuffer(answer) }
        if tokenLength > 0 {
            buffer.writeInteger(UInt8(0x12))  // field 2, length-delimited
            writeVarint(tokenLength, to: &buffer)
            buffer.writeString(nextPageToken)
        }
        return buffer
    }

    private static func varintLength(_ value: Int) -> Int {
        var value = UInt64(value)
        var length = 1
        while value >= 0x80 {
            value >>= 7
            length += 1
        }
        return length
    }

    private static func writeVarint(_ value: Int, to buffer: inout ByteBuffer) {
        var value = UInt64(value)
        while value >= 0x80 {
            buffer.writeInteger(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        buffer.writeInteger(UInt8(value))
    }
}
