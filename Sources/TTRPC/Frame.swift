public import NIOCore

/// One ttrpc frame: a 10-byte header (length, stream id, type, flags; big-endian)
/// and its data.
public struct Frame: Sendable, Hashable {
    /// The kind of frame, from header byte 8.
    public struct MessageType: RawRepresentable, Hashable, Sendable {
        public var rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }

        public static let request = MessageType(rawValue: 1)
        public static let response = MessageType(rawValue: 2)
        public static let data = MessageType(rawValue: 3)
    }

    /// Header byte 9: what the flags of request and data frames mean (protocol 1.2).
    public enum Flags {
        /// Request: the client sends no data frames (server streaming). Data:
        /// the sender's last frame on the stream.
        public static let remoteClosed: UInt8 = 0x01
        /// Request: the client will send data frames (client or bidirectional streaming).
        public static let remoteOpen: UInt8 = 0x02
        /// Data: the frame carries no message (a zero-length data frame without
        /// it is an empty message).
        public static let noData: UInt8 = 0x04
    }

    /// The size of the header in bytes.
    public static let headerSize = 10
    /// The largest data a frame may carry: 4 MiB.
    public static let maximumDataSize = 4 << 20

    public var streamID: UInt32
    public var type: MessageType
    public var flags: UInt8
    public var data: ByteBuffer

    public init(streamID: UInt32, type: MessageType, flags: UInt8 = 0, data: ByteBuffer) {
        self.streamID = streamID
        self.type = type
        self.flags = flags
        self.data = data
    }
}

extension ByteBuffer {
    /// Writes a frame header followed by the bytes that `writeData` appends,
    /// filling in the length afterwards (no intermediate copy of the data).
    @inlinable
    @discardableResult
    public mutating func writeFrame(
        streamID: UInt32,
        type: Frame.MessageType,
        flags: UInt8 = 0,
        _ writeData: (inout ByteBuffer) throws -> Void
    ) rethrows -> Int {
        let start = writerIndex
        writeInteger(UInt32(0))
        writeInteger(streamID)
        writeInteger(type.rawValue)
        writeInteger(flags)
        try writeData(&self)
        let length = writerIndex - start - Frame.headerSize
        setInteger(UInt32(length), at: start)
        return length
    }
}
