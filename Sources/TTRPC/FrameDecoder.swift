public import NIOCore

/// Splits a byte stream into ttrpc frames.
///
/// A frame whose declared length exceeds `maximumDataSize` is not buffered: its
/// bytes are skipped as they arrive, and once all are gone the decoder reports
/// `.oversized` so the receiver can answer RESOURCE_EXHAUSTED on that stream and
/// carry on with the next frame.
public struct FrameDecoder: NIOSingleStepByteToMessageDecoder {
    /// What the decoder produces.
    public enum Event: Sendable, Hashable {
        /// A complete frame.
        case frame(Frame)
        /// A frame too large to accept; its data has been read and discarded.
        case oversized(streamID: UInt32, type: Frame.MessageType, length: UInt32)
    }

    public typealias InboundOut = Event

    private let maximumDataSize: Int
    private var discarding: (streamID: UInt32, type: Frame.MessageType, length: UInt32, remaining: Int)?

    /// Creates a decoder that accepts frames of at most `maximumDataSize` bytes of data.
    public init(maximumDataSize: Int = Frame.maximumDataSize) {
        self.maximumDataSize = maximumDataSize
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> Event? {
        if let skip = discarding {
            let step = min(skip.remaining, buffer.readableBytes)
            buffer.moveReaderIndex(forwardBy: step)
            let remaining = skip.remaining - step
            guard remaining == 0 else {
                discarding?.remaining = remaining
                return nil
            }
            discarding = nil
            return .oversized(streamID: skip.streamID, type: skip.type, length: skip.length)
        }

        guard
            let (length, streamID, type, flags) = buffer.getMultipleIntegers(
                at: buffer.readerIndex, as: (UInt32, UInt32, UInt8, UInt8).self)
        else { return nil }

        if Int(length) > maximumDataSize {
            buffer.moveReaderIndex(forwardBy: Frame.headerSize)
            discarding = (streamID, Frame.MessageType(rawValue: type), length, Int(length))
            return try decode(buffer: &buffer)
        }
        guard buffer.readableBytes >= Frame.headerSize + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: Frame.headerSize)
        let data = buffer.readSlice(length: Int(length))!
        return .frame(Frame(streamID: streamID, type: Frame.MessageType(rawValue: type), flags: flags, data: data))
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> Event? {
        try decode(buffer: &buffer)
    }
}
