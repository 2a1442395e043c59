import NIOCore
import TTRPC
import TestSupport
import Testing

// NIOTestUtils' ByteToMessageDecoderVerifier is not available: NIOTestUtils is
// not a dependency of the TTRPCTests target (Package.swift is not ours to
// edit). `decodeAllWays` below checks the same core property by hand: the
// same bytes, fed whole, one byte at a time, and in many random chunkings,
// decode to the same events, and nothing is left over at the end.

/// Decodes `input` fed in chunks of the given sizes (the remainder last).
private func decode(
    _ input: [UInt8], chunks: [Int], maximumDataSize: Int = Frame.maximumDataSize
) throws -> (events: [FrameDecoder.Event], leftover: [FrameDecoder.Event]) {
    let processor = NIOSingleStepByteToMessageProcessor(FrameDecoder(maximumDataSize: maximumDataSize))
    var events: [FrameDecoder.Event] = []
    var offset = 0
    for size in chunks where offset < input.count {
        let end = min(offset + size, input.count)
        try processor.process(buffer: ByteBuffer(bytes: input[offset..<end])) { events.append($0) }
        offset = end
    }
    if offset < input.count {
        try processor.process(buffer: ByteBuffer(bytes: input[offset...])) { events.append($0) }
    }
    var leftover: [FrameDecoder.Event] = []
    try processor.finishProcessing(seenEOF: true) { leftover.append($0) }
    return (events, leftover)
}

/// Decodes `input` whole, byte by byte and in random chunks; all must agree.
private func decodeAllWays(
    _ input: [UInt8], maximumDataSize: Int = Frame.maximumDataSize, seed: UInt64 = 1
) throws -> [FrameDecoder.Event] {
    let whole = try decode(input, chunks: [input.count], maximumDataSize: maximumDataSize)
    #expect(whole.leftover.isEmpty)
    let byteByByte = try decode(input, chunks: Array(repeating: 1, count: input.count), maximumDataSize: maximumDataSize)
    #expect(byteByByte.events == whole.events)
    #expect(byteByByte.leftover.isEmpty)
    var random = SeededGenerator(seed: seed)
    for _ in 0..<20 {
        var chunks: [Int] = []
        var total = 0
        while total < input.count {
            let size = Int.random(in: 1...max(1, min(input.count, 4096)), using: &random)
            chunks.append(size)
            total += size
        }
        let chunked = try decode(input, chunks: chunks, maximumDataSize: maximumDataSize)
        #expect(chunked.events == whole.events)
        #expect(chunked.leftover.isEmpty)
    }
    return whole.events
}

private func frameEvent(_ streamID: UInt32, type: Frame.MessageType = .request, flags: UInt8 = 0, _ data: [UInt8])
    -> FrameDecoder.Event
{
    .frame(Frame(streamID: streamID, type: type, flags: flags, data: ByteBuffer(bytes: data)))
}

@Suite("FrameDecoder")
struct FrameDecoderTests {
    @Test("a header alone decodes nothing until the data is complete")
    func partialFrame() throws {
        let bytes = rawFrame(streamID: 1, data: [1, 2, 3, 4])
        for cut in 0..<bytes.count {
            let result = try decode(Array(bytes[..<cut]), chunks: [cut])
            #expect(result.events.isEmpty, "cut at \(cut)")
        }
        #expect(try decode(bytes, chunks: [bytes.count]).events == [frameEvent(1, [1, 2, 3, 4])])
    }

    @Test("header fields are read big-endian")
    func headerFields() throws {
        let bytes: [UInt8] = [0, 0, 0, 2, 0x12, 0x34, 0x56, 0x79, 3, 5, 0xAA, 0xBB]
        let events = try decodeAllWays(bytes)
        #expect(events == [frameEvent(0x1234_5679, type: .data, flags: 5, [0xAA, 0xBB])])
    }

    @Test("a sequence of frames decodes the same whole, byte by byte and in random chunks")
    func framesSplitAcrossReads() throws {
        var input: [UInt8] = []
        var expected: [FrameDecoder.Event] = []
        var random = SeededGenerator(seed: 7)
        for index in 0..<40 {
            let streamID = UInt32(2 * index + 1)
            let data = random.bytes(count: Int.random(in: 0...3000, using: &random))
            let type: Frame.MessageType = [.request, .response, .data][index % 3]
            input += rawFrame(streamID: streamID, type: type.rawValue, flags: UInt8(index % 6), data: data)
            expected.append(frameEvent(streamID, type: type, flags: UInt8(index % 6), data))
        }
        #expect(try decodeAllWays(input) == expected)
    }

    @Test("zero-length frames decode")
    func emptyFrames() throws {
        let input = rawFrame(streamID: 1, data: []) + rawFrame(streamID: 3, type: 2, data: [])
        #expect(try decodeAllWays(input) == [frameEvent(1, []), frameEvent(3, type: .response, [])])
    }

    @Test("a frame of exactly the maximum size is accepted, one byte more is not")
    func limitBoundary() throws {
        let limit = 64
        let atLimit = [UInt8](repeating: 7, count: limit)
        let overLimit = [UInt8](repeating: 8, count: limit + 1)
        let input = rawFrame(streamID: 1, data: atLimit) + rawFrame(streamID: 3, data: overLimit)
        let events = try decodeAllWays(input, maximumDataSize: limit)
        #expect(events == [frameEvent(1, atLimit), .oversized(streamID: 3, type: .request, length: UInt32(limit + 1))])
    }

    @Test("an oversized frame is discarded across several reads, then the next frame decodes")
    func oversizedDiscardedAcrossReads() throws {
        let limit = Frame.maximumDataSize
        let oversizedLength = 5 << 20
        let processor = NIOSingleStepByteToMessageProcessor(FrameDecoder())
        var events: [FrameDecoder.Event] = []

        // The header announces 5 MiB; the data arrives in 64 KiB reads.
        try processor.process(buffer: ByteBuffer(bytes: rawFrame(streamID: 9, length: UInt32(oversizedLength), data: []))) {
            events.append($0)
        }
        let chunk = ByteBuffer(repeating: 0xEE, count: 64 << 10)
        var sent = 0
        while sent + chunk.readableBytes < oversizedLength {
            try processor.process(buffer: chunk) { events.append($0) }
            sent += chunk.readableBytes
            #expect(events.isEmpty)
        }
        // The last piece of the oversized data and the start of the next frame share a read.
        let next = rawFrame(streamID: 11, data: [1, 2, 3])
        var tail = ByteBuffer(repeating: 0xEE, count: oversizedLength - sent)
        tail.writeBytes(next[..<4])
        try processor.process(buffer: tail) { events.append($0) }
        #expect(events == [.oversized(streamID: 9, type: .request, length: UInt32(oversizedLength))])
        try processor.process(buffer: ByteBuffer(bytes: next[4...])) { events.append($0) }
        #expect(events == [.oversized(streamID: 9, type: .request, length: UInt32(oversizedLength)), frameEvent(11, [1, 2, 3])])
        #expect(limit == 4_194_304)
    }

    @Test("oversized frames mixed with normal ones decode the same however they are split")
    func oversizedMixed() throws {
        let limit = 100
        var input: [UInt8] = []
        var expected: [FrameDecoder.Event] = []
        var random = SeededGenerator(seed: 11)
        for index in 0..<60 {
            let streamID = UInt32(2 * index + 1)
            let size = Int.random(in: 0...(3 * limit), using: &random)
            let data = random.bytes(count: size)
            input += rawFrame(streamID: streamID, data: data)
            expected.append(
                size > limit ? .oversized(streamID: streamID, type: .request, length: UInt32(size)) : frameEvent(streamID, data))
        }
        #expect(try decodeAllWays(input, maximumDataSize: limit, seed: 12) == expected)
    }

    @Test("a header with length 0xFFFFFFFF is discarded, not buffered")
    func hugeLength() throws {
        let processor = NIOSingleStepByteToMessageProcessor(FrameDecoder(), maximumBufferSize: 1 << 20)
        var events: [FrameDecoder.Event] = []
        try processor.process(buffer: ByteBuffer(bytes: rawFrame(streamID: 1, length: .max, data: []))) { events.append($0) }
        // Several MiB of its data go by without the buffer limit being hit.
        for _ in 0..<8 {
            try processor.process(buffer: ByteBuffer(repeating: 0, count: 1 << 20)) { events.append($0) }
        }
        #expect(events.isEmpty)
    }

    @Test("writeFrame and the decoder agree")
    func writeFrameRoundTrip() throws {
        var buffer = ByteBuffer()
        let length = buffer.writeFrame(streamID: 77, type: .response, flags: 1) { $0.writeBytes([9, 8, 7]) }
        #expect(length == 3)
        #expect(Array(buffer.readableBytesView) == rawFrame(streamID: 77, type: 2, flags: 1, data: [9, 8, 7]))
        #expect(try decodeAllWays(Array(buffer.readableBytesView)) == [frameEvent(77, type: .response, flags: 1, [9, 8, 7])])
    }

    @Test("a truncated frame at end of stream yields nothing and does not crash")
    func truncatedAtEOF() throws {
        let bytes = rawFrame(streamID: 1, data: [UInt8](repeating: 1, count: 50))
        for cut in [1, 5, 9, 10, 11, 59] {
            let result = try decode(Array(bytes[..<cut]), chunks: [cut])
            #expect(result.events.isEmpty)
            #expect(result.leftover.isEmpty)
        }
    }
}
