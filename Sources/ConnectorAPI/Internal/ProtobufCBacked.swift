import ProtobufCKit

/// A `connectors.v1` message whose Swift value maps to the C struct protoc-c
/// generated for it. The generated code (`Generated/`, from
/// `scripts/protoc-gen-pbcswift.py`) says how each field maps; this is the one
/// place that unpacks and packs, for every message.
protocol ProtobufCBacked: ProtoMessage {
    /// The protoc-c struct of the message.
    associatedtype CMessage

    /// The message's proto name, for errors.
    static var protoName: String { get }
    /// The generated `*__unpack` function.
    static var cUnpack: ProtobufCUnpack<CMessage> { get }
    /// The generated `*__free_unpacked` function.
    static var cFree: ProtobufCFree<CMessage> { get }

    /// Copies an unpacked C message into Swift values.
    /// - Throws: `ProtobufDecodingError` if a string is not UTF-8.
    init(_ c: CMessage) throws(ProtobufDecodingError)

    /// The message as a C struct in `arena`, ready to pack.
    func build(_ arena: inout CArena) -> UnsafeMutablePointer<CMessage>
}

extension ProtobufCBacked {
    public init(decoding bytes: UnsafeRawBufferPointer) throws(ProtobufDecodingError) {
        self = try unpackProtobufC(bytes, Self.protoName, unpack: Self.cUnpack, free: Self.cFree) {
            c throws(ProtobufDecodingError) in try Self(copy c)
        }
    }

    public func encode<Result>(_ write: (Int, (UnsafeMutableRawPointer) -> Void) -> Result) -> Result {
        withCArena { arena in packProtobufC(build(&arena), write: write) }
    }

    /// Decodes a nested message field, or nil if it is absent.
    static func from(_ c: UnsafeMutablePointer<CMessage>?) throws(ProtobufDecodingError) -> Self? {
        guard let c else { return nil }
        return try Self(c.pointee)
    }
}
