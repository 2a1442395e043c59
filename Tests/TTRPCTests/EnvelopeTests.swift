import NIOCore
import TTRPC
import Testing

@Suite("Status codes and envelopes")
struct EnvelopeTests {
    static let canonicalNames = [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
        "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
        "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
    ]

    @Test("codes 0-16 have gRPC's canonical numbers and names")
    func codeNames() {
        let constants: [RPCError.Code] = [
            .ok, .cancelled, .unknown, .invalidArgument, .deadlineExceeded, .notFound, .alreadyExists,
            .permissionDenied, .resourceExhausted, .failedPrecondition, .aborted, .outOfRange, .unimplemented,
            .internal, .unavailable, .dataLoss, .unauthenticated,
        ]
        for (number, code) in constants.enumerated() {
            #expect(code.rawValue == Int32(number))
            #expect(code.name == Self.canonicalNames[number])
            #expect(code.description == Self.canonicalNames[number])
            #expect(RPCError.Code(rawValue: Int32(number)) == code)
        }
        #expect(RPCError.Code(rawValue: 17).name == "CODE_17")
        #expect(RPCError.Code(rawValue: -1).name == "CODE_-1")
        #expect(RPCError(code: .notFound, message: "gone").description == "NOT_FOUND: gone")
    }

    @Test("every error code and its message survive a Response encode/decode", arguments: 1...16)
    func errorRoundTrip(code: Int32) throws {
        let error = RPCError(code: RPCError.Code(rawValue: code), message: "failure \(code): é ✓ \u{1F600}")
        var buffer = ByteBuffer()
        ResponseEnvelope(.failure(error)).encode(into: &buffer)
        let decoded = try ResponseEnvelope(decoding: buffer)
        #expect(decoded.result == .failure(error))
    }

    @Test("codes outside 0-16 and empty messages round-trip too")
    func unusualErrors() throws {
        for error in [
            RPCError(code: .init(rawValue: 99), message: ""), RPCError(code: .init(rawValue: -7), message: "negative"),
            RPCError(code: .init(rawValue: .max), message: String(repeating: "x", count: 10_000)),
        ] {
            var buffer = ByteBuffer()
            ResponseEnvelope(.failure(error)).encode(into: &buffer)
            #expect(try ResponseEnvelope(decoding: buffer).result == .failure(error))
        }
    }

    @Test("success omits the status; an empty output is a zero-length response")
    func successEncoding() throws {
        var empty = ByteBuffer()
        ResponseEnvelope(.success(ByteBuffer())).encode(into: &empty)
        #expect(empty.readableBytes == 0)
        #expect(try ResponseEnvelope(decoding: empty).result == .success(ByteBuffer()))

        let payload = ByteBuffer(bytes: Array(0...255) + Array(repeating: 0, count: 1000))
        var buffer = ByteBuffer()
        ResponseEnvelope(.success(payload)).encode(into: &buffer)
        // Field 2 (payload), length-delimited: tag 0x12; no field 1 (status).
        #expect(buffer.getInteger(at: 0, as: UInt8.self) == 0x12)
        #expect(try ResponseEnvelope(decoding: buffer).result == .success(payload))
    }

    @Test("a status with code 0 decodes as success")
    func explicitOKStatus() throws {
        // Response { status { code: 0, message: "fine" } payload: "hi" }
        let status: [UInt8] = [0x08, 0x00, 0x12, 0x04] + Array("fine".utf8)
        let bytes: [UInt8] = [0x0A, UInt8(status.count)] + status + [0x12, 0x02] + Array("hi".utf8)
        #expect(try ResponseEnvelope(decoding: ByteBuffer(bytes: bytes)).result == .success(ByteBuffer(bytes: Array("hi".utf8))))
    }

    @Test("the status of a reference-encoded error response decodes")
    func handEncodedError() throws {
        // Response { status { code: 5, message: "Connector with ID 7 not found" } }
        let message = Array("Connector with ID 7 not found".utf8)
        let status: [UInt8] = [0x08, 0x05, 0x12, UInt8(message.count)] + message
        let bytes: [UInt8] = [0x0A, UInt8(status.count)] + status
        #expect(
            try ResponseEnvelope(decoding: ByteBuffer(bytes: bytes)).result
                == .failure(RPCError(code: .notFound, message: "Connector with ID 7 not found")))
    }

    @Test("a request envelope round-trips, metadata keys lower-cased and repeated keys kept in order")
    func requestRoundTrip() throws {
        var metadata = Metadata()
        metadata.add("X-Trace", "one")
        metadata.add("x-trace", "two")
        metadata.add("Other", "ünïcödé")
        let request = RequestEnvelope(
            service: "connectors.v1.ConnectorRegistry", method: "List",
            payload: ByteBuffer(bytes: [0, 1, 2, 255]), timeoutNanoseconds: 1_500_000_000, metadata: metadata)
        var buffer = ByteBuffer()
        request.encode(into: &buffer)
        let decoded = try RequestEnvelope(decoding: buffer)
        #expect(decoded == request)
        #expect(decoded.metadata["X-TRACE"] == ["one", "two"])
        #expect(decoded.metadata.entries.map(\.key) == ["x-trace", "x-trace", "other"])
    }

    @Test("an empty request decodes to empty names, no payload, no timeout")
    func emptyRequest() throws {
        let decoded = try RequestEnvelope(decoding: ByteBuffer())
        #expect(decoded == RequestEnvelope(service: "", method: "", payload: ByteBuffer()))
    }

    @Test("a request that does not decode is INVALID_ARGUMENT 'unmarshal request error: ...'")
    func badRequest() {
        // Field 1, length 16, but only 1 byte follows.
        let bytes: [UInt8] = [0x0A, 0x10, 0x61]
        #expect {
            _ = try RequestEnvelope(decoding: ByteBuffer(bytes: bytes))
        } throws: { error in
            guard let error = error as? RPCError else { return false }
            return error.code == .invalidArgument && error.message.hasPrefix("unmarshal request error: ")
        }
    }

    @Test("a response that does not decode is INTERNAL")
    func badResponse() {
        let bytes: [UInt8] = [0x0A, 0x7F, 0x08]
        #expect {
            _ = try ResponseEnvelope(decoding: ByteBuffer(bytes: bytes))
        } throws: { error in
            (error as? RPCError)?.code == .internal
        }
    }
}
