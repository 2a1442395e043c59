import GeneratedAPI
import ProtobufCKit
import Testing

@Test("every kind of field round-trips")
func everyKindRoundTrips() throws {
    let full = GeneratorTestV1.Everything(
        d: 1.5, f: 2.5, i64: -3, u64: 4, i32: -5, fx64: 6, fx32: 7, b: true, s: "s ü", item: .init(name: "i", size: 9),
        by: [0, 1, 255], u32: 13, color: .darkBlue, sf32: -15, sf64: -16, si32: -17, si64: -18,
        names: ["a", "", "ç"], numbers: [1, 2, 3], flags: [true, false, true], colors: [.red, .minus, .init(rawValue: 9)],
        blobs: [[1], [], [2, 3]], items: [.init(name: "x"), .init(), .init(size: 2)], ds: [0.5, -1],
        revision: 7, label: "l", owner: .init(name: "o"), picked: .red, blob: [4], flag: true,
        default: "d", userIDURLJSON: 37, union: ["u"], class: "k")
    let bytes = full.serializedBytes()
    let decoded = try GeneratorTestV1.Everything(serializedBytes: bytes)
    #expect(decoded == full)
    #expect(decoded.serializedBytes() == bytes)
    #expect(try GeneratorTestV1.Everything(serializedBytes: []) == GeneratorTestV1.Everything())
}

@Test("a oneof field set to its zero value is present; unset is nil")
func presence() throws {
    let zeros = GeneratorTestV1.Everything(revision: 0, label: "", owner: .init(), picked: .unspecified, blob: [], flag: false, class: "")
    let decoded = try GeneratorTestV1.Everything(serializedBytes: zeros.serializedBytes())
    #expect(decoded == zeros)
    #expect(decoded.revision == 0 && decoded.label == "" && decoded.owner == GeneratorTestV1.Item())
    #expect(decoded.picked == .unspecified && decoded.blob == [] && decoded.flag == false && decoded.class == "")
    let unset = try GeneratorTestV1.Everything(serializedBytes: GeneratorTestV1.Everything().serializedBytes())
    #expect(unset.revision == nil && unset.label == nil && unset.owner == nil)
    #expect(unset.picked == nil && unset.blob == nil && unset.flag == nil && unset.class == nil)
}

@Test("enum names and numbers, a negative one included")
func enums() {
    #expect(GeneratorTestV1.Color.minus.rawValue == -1)
    #expect(GeneratorTestV1.Color.darkBlue.description == "COLOR_DARK_BLUE")
    #expect(GeneratorTestV1.Color(rawValue: 7).description == "COLOR_7")
}

@Test("bad strings are refused in repeated and oneof fields")
func badStrings() {
    // names (20) not UTF-8; label (31) not UTF-8, then with a NUL
    for bytes: [UInt8] in [[0xA2, 0x01, 0x01, 0xFF], [0xFA, 0x01, 0x01, 0xFF], [0xFA, 0x01, 0x02, 0x61, 0x00]] {
        #expect(throws: ProtobufDecodingError.self) { _ = try GeneratorTestV1.Everything(serializedBytes: bytes) }
    }
}
