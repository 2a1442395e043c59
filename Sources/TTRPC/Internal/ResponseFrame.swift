import NIOCore

/// Encodes response frames.
enum ResponseFrame {
    /// Answers from this size on are not copied into the frame: the frame is
    /// written as its header and envelope prefix, then the answer's own buffer.
    static let gatheredPayloadSize = 64 << 10

    /// A response frame for `result`, as the buffers to write one after the
    /// other: one, or two for a large answer (not copied). An answer larger
    /// than the frame limit becomes RESOURCE_EXHAUSTED.
    static func encode(
        streamID: UInt32, result: Result<ByteBuffer, RPCError>, allocator: ByteBufferAllocator, maximumFrameSize: Int
    ) -> [ByteBuffer] {
        if case .success(let payload) = result, payload.readableBytes >= gatheredPayloadSize {
            // `ttrpc.Response { bytes payload = 2; }` with no status: the field's
            // tag and length, then the payload itself.
            let length = ProtobufField.headerSize(length: payload.readableBytes) + payload.readableBytes
            guard length <= maximumFrameSize else { return [tooLarge(streamID: streamID, allocator: allocator)] }
            var head = allocator.buffer(capacity: Frame.headerSize + 16)
            head.writeFrame(streamID: streamID, type: .response) { data in
                ProtobufField.writeHeader(field: 2, length: payload.readableBytes, to: &data)
            }
            head.setInteger(UInt32(length), at: head.readerIndex)
            return [head, payload]
        }
        let payloadSize = (try? result.get().readableBytes) ?? 64
        var buffer = allocator.buffer(capacity: Frame.headerSize + payloadSize + 16)
        let length = buffer.writeFrame(streamID: streamID, type: .response) { data in
            ResponseEnvelope(result).encode(into: &data)
        }
        guard length <= maximumFrameSize else { return [tooLarge(streamID: streamID, allocator: allocator)] }
        return [buffer]
    }

    private static func tooLarge(streamID: UInt32, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 128)
        buffer.writeFrame(streamID: streamID, type: .response) { data in
            ResponseEnvelope(.failure(RPCError(code: .resourceExhausted, message: "response exceeds the maximum message size")))
                .encode(into: &data)
        }
        return buffer
    }
}
