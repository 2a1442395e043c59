import ConnectorAPI
import NIOCore
import ProtobufCKit
import TTRPC
import TestSupport
import Testing

/// Decoding any byte sequence never crashes: random bytes, truncations and
/// bit flips of valid encodings, through every decoder. Seeds are fixed so a
/// failure reproduces.
@Suite("Decoding never crashes")
struct FuzzTests {
    /// Valid encodings to truncate and mutate.
    static var validRequests: [[UInt8]] {
        var metadata = Metadata()
        metadata.add("k", "v")
        metadata.add("trace-id", "0123456789")
        return [
            requestEnvelope(method: "Echo"),
            requestEnvelope(
                service: "connectors.v1.ConnectorRegistry", method: "List", payload: Array(0...200),
                timeoutNanoseconds: 123_456_789, metadata: metadata),
            requestEnvelope(method: "é✓", payload: [0xFF, 0xFE], timeoutNanoseconds: -1),
        ]
    }

    static var validResponses: [[UInt8]] {
        [
            ResponseEnvelope(.success(ByteBuffer(bytes: Array(0...255)))),
            ResponseEnvelope(.failure(RPCError(code: .notFound, message: "Connector with ID 7 not found"))),
            ResponseEnvelope(.failure(RPCError(code: .init(rawValue: -3), message: "ü"))),
        ].map { envelope in
            var buffer = ByteBuffer()
            envelope.encode(into: &buffer)
            return Array(buffer.readableBytesView)
        }
    }

    static var sampleConnector: ConnectorsV1.Connector {
        var connector = ConnectorsV1.Connector(id: 77, name: "weather")
        connector.description = "Weather forecasts ☀️"
        connector.url = "https://example.com/connector.json"
        connector.mode = .active
        connector.version = "1.2.3"
        connector.logoURL = "https://example.com/logo.png"
        connector.hasLogo = true
        connector.hasSecret = true
        connector.toolsCount = 3
        connector.templatesCount = 1
        connector.toolsJSON = #"[{"name":"forecast"}]"#
        connector.templatesJSON = "[]"
        connector.serverConfigJSON = "{}"
        connector.createdAt = "2025-10-13T20:00:00.000000Z"
        connector.updatedAt = "2025-10-13T20:00:01.000000Z"
        return connector
    }

    /// Every (decoder, valid sample) pair of the connectors.v1 messages.
    static var messageDecoders: [(name: String, sample: [UInt8], decode: ([UInt8]) throws(ProtobufDecodingError) -> Void)] {
        let connector = sampleConnector
        func entry<M: ProtoMessage>(_ sample: M) -> (String, [UInt8], ([UInt8]) throws(ProtobufDecodingError) -> Void) {
            ("\(M.self)", sample.serializedBytes(), { bytes throws(ProtobufDecodingError) in _ = try M(serializedBytes: bytes) })
        }
        return [
            entry(connector),
            entry(ConnectorsV1.RegisterRequest(name: "weather", description: "d", secret: "s")),
            entry(ConnectorsV1.RegisterResponse(connector: connector, message: "m", nextStep: "n")),
            entry(ConnectorsV1.ActivateRequest(connectorID: 1, connectorURL: "http://x")),
            entry(ConnectorsV1.ActivateResponse(connector: connector, message: "m")),
            entry(ConnectorsV1.ListRequest(mode: .sync, pageSize: 10, pageToken: "t")),
            entry(ConnectorsV1.ListResponse(connectors: [connector, connector], nextPageToken: "next")),
            entry(ConnectorsV1.GetRequest(connectorID: 9)),
            entry(ConnectorsV1.GetResponse(connector: connector)),
            entry(ConnectorsV1.SetModeRequest(connectorID: 9, mode: .deactive)),
            entry(ConnectorsV1.SetModeResponse(connector: connector)),
            entry(ConnectorsV1.DeleteRequest(connectorID: 9)),
            entry(ConnectorsV1.DeleteResponse(connectorID: 9, message: "m")),
            entry(ConnectorsV1.GetLogoRequest(connectorID: 9)),
            entry(ConnectorsV1.GetLogoResponse(contentType: "image/png", data: Array(0...255))),
            entry(ConnectorsV1.CreateRequest(connectorURL: "http://x", secret: "s")),
            entry(ConnectorsV1.CreateResponse(connector: connector, message: "m")),
        ]
    }

    /// Random byte strings, biased towards protobuf-looking bytes.
    static func randomInputs(seed: UInt64, count: Int, maxLength: Int = 80) -> [[UInt8]] {
        var random = SeededGenerator(seed: seed)
        let interesting: [UInt8] = [0x00, 0x08, 0x0A, 0x10, 0x12, 0x18, 0x1A, 0x22, 0x2A, 0x7F, 0x80, 0xFF, 0x01, 0x02]
        return (0..<count).map { index in
            let length = Int.random(in: 0...maxLength, using: &random)
            if index % 2 == 0 { return random.bytes(count: length) }
            return (0..<length).map { _ in
                Bool.random(using: &random) ? interesting.randomElement(using: &random)! : UInt8.random(in: 0...255, using: &random)
            }
        }
    }

    /// Every prefix, and bit-flipped copies, of each sample.
    static func mutations(of samples: [[UInt8]], seed: UInt64, flipsPerSample: Int = 300) -> [[UInt8]] {
        var random = SeededGenerator(seed: seed)
        var out: [[UInt8]] = []
        for sample in samples {
            for cut in 0..<sample.count { out.append(Array(sample[..<cut])) }
            guard !sample.isEmpty else { continue }
            for _ in 0..<flipsPerSample {
                var mutated = sample
                for _ in 0..<Int.random(in: 1...3, using: &random) {
                    let index = Int.random(in: 0..<mutated.count, using: &random)
                    mutated[index] ^= UInt8(1) << UInt8.random(in: 0...7, using: &random)
                }
                out.append(mutated)
            }
        }
        return out
    }

    @Test("RequestEnvelope(decoding:) only ever returns or throws INVALID_ARGUMENT")
    func requestEnvelopeDecoding() {
        let inputs = Self.randomInputs(seed: 1, count: 5000) + Self.mutations(of: Self.validRequests, seed: 2)
        var decoded = 0
        for input in inputs {
            do {
                _ = try RequestEnvelope(decoding: ByteBuffer(bytes: input))
                decoded += 1
            } catch {
                #expect(error.code == .invalidArgument)
                #expect(error.message.hasPrefix("unmarshal request error: "))
            }
        }
        #expect(decoded > 0)
        #expect(decoded < inputs.count)
    }

    @Test("ResponseEnvelope(decoding:) only ever returns or throws INTERNAL")
    func responseEnvelopeDecoding() {
        let inputs = Self.randomInputs(seed: 3, count: 5000) + Self.mutations(of: Self.validResponses, seed: 4)
        for input in inputs {
            do {
                _ = try ResponseEnvelope(decoding: ByteBuffer(bytes: input))
            } catch {
                #expect(error.code == .internal)
            }
        }
    }

    @Test("truncations of valid envelopes never decode as something else silently crashing")
    func truncatedEnvelopes() {
        for sample in Self.validRequests {
            for cut in 0..<sample.count {
                _ = try? RequestEnvelope(decoding: ByteBuffer(bytes: sample[..<cut]))
            }
            #expect((try? RequestEnvelope(decoding: ByteBuffer(bytes: sample))) != nil)
        }
    }

    @Test("every connectors.v1 message decoder only ever returns or throws ProtobufDecodingError")
    func connectorMessages() {
        for (index, decoder) in Self.messageDecoders.enumerated() {
            let inputs =
                Self.randomInputs(seed: 100 + UInt64(index), count: 1500)
                + Self.mutations(of: [decoder.sample], seed: 200 + UInt64(index), flipsPerSample: 500)
            var failures = 0
            for input in inputs {
                do throws(ProtobufDecodingError) {
                    try decoder.decode(input)
                } catch {
                    failures += 1
                    #expect(!error.reason.isEmpty)
                }
            }
            // The valid sample decodes.
            #expect(throws: Never.self, "\(decoder.name)") { try decoder.decode(decoder.sample) }
            #expect(failures > 0, "\(decoder.name): every mutation decoded")
        }
    }

    @Test("ListResponse and RegisterRequest: random bytes throw ProtobufDecodingError, never crash")
    func namedMessages() {
        for input in Self.randomInputs(seed: 55, count: 5000, maxLength: 200) {
            do {
                _ = try ConnectorsV1.ListResponse(serializedBytes: input)
            } catch {
                #expect(!error.reason.isEmpty)
            }
            do {
                _ = try ConnectorsV1.RegisterRequest(serializedBytes: input)
            } catch {
                #expect(!error.reason.isEmpty)
            }
        }
    }

    @Test("FrameDecoder: random streams in random chunks never crash and never exceed the limit")
    func frameDecoder() throws {
        var random = SeededGenerator(seed: 77)
        let limit = 48
        for round in 0..<300 {
            // Random bytes, with a sprinkling of plausible headers.
            var stream: [UInt8] = []
            while stream.count < 2000 {
                if Bool.random(using: &random) {
                    let length = UInt32.random(in: 0...UInt32(limit * 2), using: &random)
                    stream += rawFrame(
                        streamID: UInt32.random(in: 0...9, using: &random), type: UInt8.random(in: 0...4, using: &random),
                        length: length, data: random.bytes(count: Int.random(in: 0...Int(length), using: &random)))
                } else {
                    stream += random.bytes(count: Int.random(in: 1...40, using: &random))
                }
            }
            let processor = NIOSingleStepByteToMessageProcessor(FrameDecoder(maximumDataSize: limit))
            var offset = 0
            var consumed = 0
            while offset < stream.count {
                let end = min(stream.count, offset + Int.random(in: 1...300, using: &random))
                try processor.process(buffer: ByteBuffer(bytes: stream[offset..<end])) { event in
                    switch event {
                    case .frame(let frame):
                        #expect(frame.data.readableBytes <= limit)
                        consumed += Frame.headerSize + frame.data.readableBytes
                    case .oversized(_, _, let length):
                        #expect(Int(length) > limit)
                        consumed += Frame.headerSize + Int(length)
                    }
                }
                offset = end
            }
            try processor.finishProcessing(seenEOF: true) { _ in }
            #expect(consumed <= stream.count, "round \(round)")
        }
    }

    // MARK: Invalid UTF-8

    static let invalidUTF8: [[UInt8]] = [[0xFF, 0xFE], [0xC3, 0x28], [0xE2, 0x82], [0xED, 0xA0, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80]]

    /// A length-delimited field: tag, length, bytes.
    static func field(_ number: UInt8, _ bytes: [UInt8]) -> [UInt8] {
        [number << 3 | 2, UInt8(bytes.count)] + bytes
    }

    @Test("a string field holding invalid UTF-8 is rejected by the connectors.v1 decoders")
    func invalidUTF8InMessages() {
        for bad in Self.invalidUTF8 {
            // RegisterRequest.name (1), .description (2), .secret (3)
            for number: UInt8 in 1...3 {
                #expect(throws: ProtobufDecodingError.self) {
                    _ = try ConnectorsV1.RegisterRequest(serializedBytes: Self.field(number, bad))
                }
            }
            #expect(throws: ProtobufDecodingError.self) {
                _ = try ConnectorsV1.ActivateRequest(serializedBytes: [0x08, 0x01] + Self.field(2, bad))
            }
            #expect(throws: ProtobufDecodingError.self) {
                _ = try ConnectorsV1.ListRequest(serializedBytes: Self.field(3, bad))
            }
            // A connector nested in ListResponse.connectors (1) with a bad name (2).
            let connector = [0x08, 0x05] + Self.field(2, bad)
            #expect(throws: ProtobufDecodingError.self) {
                _ = try ConnectorsV1.ListResponse(serializedBytes: Self.field(1, connector))
            }
            // ... and with a bad updated_at (16: a two-byte tag).
            let late: [UInt8] = [0x82, 0x01, UInt8(bad.count)] + bad
            #expect(throws: ProtobufDecodingError.self) {
                _ = try ConnectorsV1.GetResponse(serializedBytes: Self.field(1, late))
            }
            #expect(throws: ProtobufDecodingError.self) {
                _ = try ConnectorsV1.ListResponse(serializedBytes: Self.field(2, bad))
            }
        }
        // The same encodings with valid UTF-8 decode.
        #expect(throws: Never.self) {
            let request = try ConnectorsV1.RegisterRequest(serializedBytes: Self.field(1, Array("é".utf8)))
            #expect(request.name == "é")
        }
    }

    @Test("a request envelope with invalid UTF-8 in a string is INVALID_ARGUMENT")
    func invalidUTF8InEnvelope() {
        for bad in Self.invalidUTF8 {
            for envelope in [
                Self.field(1, bad) + Self.field(2, Array("Echo".utf8)),
                Self.field(1, Array("s".utf8)) + Self.field(2, bad),
                Self.field(5, Self.field(1, bad) + Self.field(2, [0x61])),
                Self.field(5, Self.field(1, [0x61]) + Self.field(2, bad)),
            ] {
                #expect {
                    _ = try RequestEnvelope(decoding: ByteBuffer(bytes: envelope))
                } throws: { error in
                    (error as? RPCError)?.code == .invalidArgument
                }
            }
        }
    }

    @Test("a string with an embedded NUL is rejected, not silently truncated")
    func embeddedNUL() throws {
        // RegisterRequest { name: "good\0evil" }: valid UTF-8, valid protobuf.
        // protobuf-c keeps strings NUL-terminated, so decoding it as a C string
        // would quietly yield "good".
        let bytes = Self.field(1, Array("good\u{0}evil".utf8))
        #expect(throws: ProtobufDecodingError.self) {
            let decoded = try ConnectorsV1.RegisterRequest(serializedBytes: bytes)
            Issue.record("decoded as \(decoded.name.debugDescription)")
        }
        // Nested too: ListResponse { connectors { description: "a\0b" } }.
        let connector = Self.field(3, Array("a\u{0}b".utf8))
        #expect(throws: ProtobufDecodingError.self) {
            _ = try ConnectorsV1.ListResponse(serializedBytes: Self.field(1, connector))
        }
        // And in the ttrpc envelope (metadata value).
        let envelope = Self.field(1, [0x73]) + Self.field(2, [0x6D]) + Self.field(5, Self.field(1, [0x6B]) + Self.field(2, [0x61, 0x00, 0x62]))
        #expect {
            _ = try RequestEnvelope(decoding: ByteBuffer(bytes: envelope))
        } throws: { error in
            (error as? RPCError)?.code == .invalidArgument
        }
    }

    @Test("encoding a string with an embedded NUL does not drop what follows")
    func embeddedNULEncoding() {
        // protobuf-c packs string fields with strlen(): "a\0b" goes out as "a".
        // No encoding fix is possible through protobuf-c's char * strings;
        // callers must refuse NUL before encoding (see the report).
        withKnownIssue("protobuf-c encodes C strings: the text after a NUL is dropped") {
            let original = ConnectorsV1.RegisterRequest(name: "a\u{0}b", description: "d")
            let roundTripped = try? ConnectorsV1.RegisterRequest(serializedBytes: original.serializedBytes())
            #expect(roundTripped == original)
        }
    }
}
