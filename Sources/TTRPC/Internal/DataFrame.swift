import NIOCore

/// Encodes data frames: a stream message as is, after the 10-byte header.
enum DataFrame {
    /// A data frame carrying `message`, as the buffers to write one after the
    /// other: one, or the header then the message's own buffer for a large
    /// message (not copied).
    static func encode(streamID: UInt32, flags: UInt8 = 0, message: ByteBuffer, allocator: ByteBufferAllocator) -> [ByteBuffer] {
        if message.readableBytes >= ResponseFrame.gatheredPayloadSize {
            var head = allocator.buffer(capacity: Frame.headerSize)
            head.writeMultipleIntegers(UInt32(message.readableBytes), streamID, Frame.MessageType.data.rawValue, flags)
            return [head, message]
        }
        var buffer = allocator.buffer(capacity: Frame.headerSize + message.readableBytes)
        buffer.writeMultipleIntegers(UInt32(message.readableBytes), streamID, Frame.MessageType.data.rawValue, flags)
        buffer.writeImmutableBuffer(message)
        return [buffer]
    }

    /// The frame that ends a stream cleanly: `remote closed | no data`, empty.
    static func close(streamID: UInt32, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: Frame.headerSize)
        buffer.writeMultipleIntegers(
            UInt32(0), streamID, Frame.MessageType.data.rawValue, Frame.Flags.remoteClosed | Frame.Flags.noData)
        return buffer
    }
}
