public import NIOCore
import CProto
import ProtobufCKit

/// The decoded `ttrpc.Request` of a request frame.
public struct RequestEnvelope: Sendable, Hashable {
    public var service: String
    public var method: String
    /// The method's input message, encoded.
    public var payload: ByteBuffer
    /// Time left until the caller's deadline, in nanoseconds; 0 for none.
    public var timeoutNanoseconds: Int64
    public var metadata: Metadata

    public init(service: String, method: String, payload: ByteBuffer, timeoutNanoseconds: Int64 = 0, metadata: Metadata = [:]) {
        self.service = service
        self.method = method
        self.payload = payload
        self.timeoutNanoseconds = timeoutNanoseconds
        self.metadata = metadata
    }

    /// Decodes a `ttrpc.Request`.
    /// - Throws: `RPCError` INVALID_ARGUMENT if the bytes are not a valid request.
    public init(decoding data: ByteBuffer) throws(RPCError) {
        do {
            self = try data.withUnsafeReadableBytes { bytes throws(ProtobufDecodingError) in
                try unpackProtobufC(bytes, "request", unpack: ttrpc__request__unpack, free: ttrpc__request__free_unpacked) {
                    message throws(ProtobufDecodingError) in
                    var metadata = Metadata()
                    for index in 0..<message.n_metadata {
                        guard let pair = message.metadata[index]?.pointee else { continue }
                        metadata.add(
                            try String(protobufC: pair.key, field: "metadata.key"),
                            try String(protobufC: pair.value, field: "metadata.value"))
                    }
                    return RequestEnvelope(
                        service: try String(protobufC: message.service, field: "service"),
                        method: try String(protobufC: message.method, field: "method"),
                        payload: message.payload.withBytes { ByteBuffer(bytes: $0) },
                        timeoutNanoseconds: message.timeout_nano,
                        metadata: metadata)
                }
            }
        } catch {
            throw RPCError(code: .invalidArgument, message: "unmarshal request error: \(error.reason)")
        }
    }

    /// Appends the encoded `ttrpc.Request` to `buffer`.
    public func encode(into buffer: inout ByteBuffer) {
        withCArena { arena in
            let message = arena.make(Ttrpc__Request.self, ttrpc__request__init)
            message.pointee.service = arena.cString(service)
            message.pointee.method = arena.cString(method)
            message.pointee.timeout_nano = timeoutNanoseconds
            let pairs = metadata.entries.map { entry in
                arena.make(Ttrpc__KeyValue.self, ttrpc__key_value__init).with {
                    $0.pointee.key = arena.cString(entry.key)
                    $0.pointee.value = arena.cString(entry.value)
                }
            }
            message.pointee.n_metadata = pairs.count
            message.pointee.metadata = arena.pointerArray(pairs)
            // Packed straight from the payload's storage, which outlives the pack.
            payload.withUnsafeReadableBytes { bytes in
                message.pointee.payload = ProtobufCBinaryData(
                    len: bytes.count, data: UnsafeMutablePointer(mutating: bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)))
                buffer.writePacked(message)
            }
        }
    }
}

/// The decoded `ttrpc.Response` of a response frame.
public struct ResponseEnvelope: Sendable, Hashable {
    /// Success, with the method's output message, or an error status.
    public var result: Result<ByteBuffer, RPCError>

    public init(_ result: Result<ByteBuffer, RPCError>) { self.result = result }

    /// Decodes a `ttrpc.Response`.
    /// - Throws: `RPCError` INTERNAL if the bytes are not a valid response.
    public init(decoding data: ByteBuffer) throws(RPCError) {
        do {
            self = try data.withUnsafeReadableBytes { bytes throws(ProtobufDecodingError) in
                try unpackProtobufC(bytes, "response", unpack: ttrpc__response__unpack, free: ttrpc__response__free_unpacked) {
                    message throws(ProtobufDecodingError) in
                    if let status = message.status?.pointee, status.code != 0 {
                        let text = (try? String(protobufC: status.message, field: "status.message")) ?? ""
                        return ResponseEnvelope(.failure(RPCError(code: RPCError.Code(rawValue: status.code), message: text)))
                    }
                    return ResponseEnvelope(.success(message.payload.withBytes { ByteBuffer(bytes: $0) }))
                }
            }
        } catch {
            throw RPCError(code: .internal, message: "unmarshal response error: \(error.reason)")
        }
    }

    /// Appends the encoded `ttrpc.Response` to `buffer`. Success omits the status,
    /// as the reference implementation does.
    public func encode(into buffer: inout ByteBuffer) {
        withCArena { arena in
            let message = arena.make(Ttrpc__Response.self, ttrpc__response__init)
            switch result {
            case .success(let payload):
                // Packed straight from the payload's storage, which outlives the pack.
                payload.withUnsafeReadableBytes { bytes in
                    message.pointee.payload = ProtobufCBinaryData(
                        len: bytes.count, data: UnsafeMutablePointer(mutating: bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)))
                    buffer.writePacked(message)
                }
            case .failure(let error):
                message.pointee.status = arena.make(Google__Rpc__Status.self, google__rpc__status__init).with {
                    $0.pointee.code = error.code.rawValue
                    $0.pointee.message = arena.cString(error.message)
                }
                buffer.writePacked(message)
            }
        }
    }
}

extension UnsafeMutablePointer {
    /// Runs `body` on the pointer and returns it (for building C structs inline).
    func with(_ body: (Self) -> Void) -> Self {
        body(self)
        return self
    }
}

extension ByteBuffer {
    /// Packs a protobuf-c message straight into the buffer's writable bytes.
    mutating func writePacked<Message>(_ message: UnsafeMutablePointer<Message>) {
        packProtobufC(message) { size, pack in
            guard size > 0 else { return }
            writeWithUnsafeMutableBytes(minimumWritableBytes: size) { out in
                pack(out.baseAddress!)
                return size
            }
        }
    }
}
