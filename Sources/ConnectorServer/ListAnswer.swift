import NIOCore
import TTRPC

/// The encoded `ListResponse` of a page, put together from the encoded
/// `GetResponse` of each of its connectors.
///
/// `GetResponse { Connector connector = 1; }` and
/// `ListResponse { repeated Connector connectors = 1; string next_page_token = 2; uint64 revision = 3; }`
/// share field 1, so a `ListResponse` is encoded as its connectors'
/// `GetResponse` encodings one after the other, then field 2 (tag `0x12`,
/// varint length, UTF-8 bytes) when the token is not empty, then field 3
/// (tag `0x18`, varint) when the revision is not 0: byte for byte what
/// protobuf-c packs for the same message.
enum ListAnswer {
    /// The `ListResponse` made of `getAnswers` (encoded `GetResponse`s, in
    /// page order), `nextPageToken` and `revision`.
    static func encode(getAnswers: [ByteBuffer], nextPageToken: String, revision: UInt64) -> ByteBuffer {
        let tokenLength = nextPageToken.utf8.count
        var size = getAnswers.reduce(0) { $0 + $1.readableBytes }
        if tokenLength > 0 { size += ProtobufField.headerSize(length: tokenLength) + tokenLength }
        if revision != 0 { size += ProtobufField.varintSize(revision) }
        var buffer = ByteBufferAllocator().buffer(capacity: size)
        for answer in getAnswers { buffer.writeImmutableBuffer(answer) }
        if tokenLength > 0 {
            ProtobufField.writeHeader(field: 2, length: tokenLength, to: &buffer)
            buffer.writeString(nextPageToken)
        }
        if revision != 0 { ProtobufField.writeVarint(field: 3, revision, to: &buffer) }
        return buffer
    }
}
