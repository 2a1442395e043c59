public import CProto

/// Memory for building protobuf-c messages: strings, byte fields, structs and
/// pointer arrays, all freed together when the arena's scope ends.
///
/// Encoding builds the C structs inside `withCArena`, packs them, and lets the
/// arena go; no pointer into it escapes.
public struct CArena: ~Copyable {
    private static let blockSize = 16 << 10
    private var blocks: [UnsafeMutableRawPointer] = []
    private var cursor: UnsafeMutableRawPointer? = nil
    private var available = 0

    fileprivate init() {}

    deinit {
        for block in blocks { block.deallocate() }
    }

    /// Uninitialized, 16-byte aligned memory for `byteCount` bytes.
    public mutating func allocate(byteCount: Int) -> UnsafeMutableRawPointer {
        let size = (max(byteCount, 1) + 15) & ~15
        if size > available {
            if size > Self.blockSize / 4 {
                let block = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
                blocks.append(block)
                return block
            }
            let block = UnsafeMutableRawPointer.allocate(byteCount: Self.blockSize, alignment: 16)
            blocks.append(block)
            cursor = block
            available = Self.blockSize
        }
        let pointer = cursor!
        cursor = pointer + size
        available -= size
        return pointer
    }

    /// A NUL-terminated copy of `string`.
    public mutating func cString(_ string: String) -> UnsafeMutablePointer<CChar> {
        if string.isEmpty { return UnsafeMutablePointer(mutating: cproto_empty_string()) }
        var string = string
        return string.withUTF8 { utf8 in
            let memory = allocate(byteCount: utf8.count + 1)
            memory.copyMemory(from: utf8.baseAddress!, byteCount: utf8.count)
            memory.storeBytes(of: 0, toByteOffset: utf8.count, as: UInt8.self)
            return memory.assumingMemoryBound(to: CChar.self)
        }
    }

    /// A NUL-terminated copy of `string` for a string field in a oneof: never
    /// protobuf-c's shared empty string, which protobuf-c takes for unset there.
    public mutating func oneofCString(_ string: String) -> UnsafeMutablePointer<CChar> {
        guard string.isEmpty else { return cString(string) }
        let memory = allocate(byteCount: 1)
        memory.storeBytes(of: 0, as: UInt8.self)
        return memory.assumingMemoryBound(to: CChar.self)
    }

    /// A `bytes` field holding a copy of `bytes`.
    public mutating func binary(_ bytes: some Collection<UInt8>) -> ProtobufCBinaryData {
        let count = bytes.count
        guard count > 0 else { return ProtobufCBinaryData(len: 0, data: nil) }
        let memory = allocate(byteCount: count).bindMemory(to: UInt8.self, capacity: count)
        _ = UnsafeMutableBufferPointer(start: memory, count: count).initialize(from: bytes)
        return ProtobufCBinaryData(len: count, data: memory)
    }

    /// A C array holding a copy of `values`, as protobuf-c's repeated scalar,
    /// enum and bytes fields want.
    public mutating func array<T>(_ values: [T]) -> UnsafeMutablePointer<T>? {
        guard !values.isEmpty else { return nil }
        let memory = allocate(byteCount: MemoryLayout<T>.stride * values.count).bindMemory(to: T.self, capacity: values.count)
        _ = UnsafeMutableBufferPointer(start: memory, count: values.count).initialize(from: values)
        return memory
    }

    /// A C array of NUL-terminated copies of `strings` (a repeated string field).
    public mutating func cStrings(_ strings: [String]) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? {
        guard !strings.isEmpty else { return nil }
        let memory = allocate(byteCount: MemoryLayout<UnsafeMutablePointer<CChar>?>.stride * strings.count)
            .bindMemory(to: UnsafeMutablePointer<CChar>?.self, capacity: strings.count)
        for (index, string) in strings.enumerated() { memory[index] = cString(string) }
        return memory
    }

    /// A C struct initialized by `initialize` (typically the generated `*__init`).
    public mutating func make<T>(_ type: T.Type, _ initialize: (UnsafeMutablePointer<T>) -> Void) -> UnsafeMutablePointer<T> {
        let memory = allocate(byteCount: MemoryLayout<T>.stride).bindMemory(to: T.self, capacity: 1)
        initialize(memory)
        return memory
    }

    /// A C array of pointers, as protobuf-c's repeated message fields want.
    public mutating func pointerArray<T>(_ pointers: [UnsafeMutablePointer<T>]) -> UnsafeMutablePointer<UnsafeMutablePointer<T>?>? {
        guard !pointers.isEmpty else { return nil }
        let memory = allocate(byteCount: MemoryLayout<UnsafeMutablePointer<T>?>.stride * pointers.count)
            .bindMemory(to: UnsafeMutablePointer<T>?.self, capacity: pointers.count)
        for (index, pointer) in pointers.enumerated() { memory[index] = pointer }
        return memory
    }
}

/// Runs `body` with an arena whose memory is freed when `body` returns.
public func withCArena<R, E: Error>(_ body: (inout CArena) throws(E) -> R) throws(E) -> R {
    var arena = CArena()
    return try body(&arena)
}
