import CProto
import ConnectorAPI
import ProtobufCKit
import Testing

/// Checks on the generated `connectors.v1` types (scripts/protoc-gen-pbcswift.py)
/// that fail if the generator drops or mixes up a field. The field lists come
/// from the descriptors protoc-c generated from the same proto, so a new field
/// is covered without touching these tests.
@Suite("generated connectors.v1 code")
struct GeneratedCodeTests {
    /// Every message of connectors.proto with its protoc-c descriptor.
    static func messages() -> [(type: any ProtoMessage.Type, descriptor: ProtobufCMessageDescriptor)] {
        [
            (ConnectorsV1.Connector.self, connectors__v1__connector__descriptor),
            (ConnectorsV1.RegisterRequest.self, connectors__v1__register_request__descriptor),
            (ConnectorsV1.RegisterResponse.self, connectors__v1__register_response__descriptor),
            (ConnectorsV1.ActivateRequest.self, connectors__v1__activate_request__descriptor),
            (ConnectorsV1.ActivateResponse.self, connectors__v1__activate_response__descriptor),
            (ConnectorsV1.ListRequest.self, connectors__v1__list_request__descriptor),
            (ConnectorsV1.ListResponse.self, connectors__v1__list_response__descriptor),
            (ConnectorsV1.GetRequest.self, connectors__v1__get_request__descriptor),
            (ConnectorsV1.GetResponse.self, connectors__v1__get_response__descriptor),
            (ConnectorsV1.SetModeRequest.self, connectors__v1__set_mode_request__descriptor),
            (ConnectorsV1.SetModeResponse.self, connectors__v1__set_mode_response__descriptor),
            (ConnectorsV1.DeleteRequest.self, connectors__v1__delete_request__descriptor),
            (ConnectorsV1.DeleteResponse.self, connectors__v1__delete_response__descriptor),
            (ConnectorsV1.GetLogoRequest.self, connectors__v1__get_logo_request__descriptor),
            (ConnectorsV1.GetLogoResponse.self, connectors__v1__get_logo_response__descriptor),
            (ConnectorsV1.CreateRequest.self, connectors__v1__create_request__descriptor),
            (ConnectorsV1.CreateResponse.self, connectors__v1__create_response__descriptor),
        ]
    }

    @Test("every message has one Swift property per proto field")
    func propertyCounts() throws {
        for (type, descriptor) in Self.messages() {
            let name = String(cString: descriptor.name)
            let empty = try type.init(serializedBytes: [])
            #expect(Mirror(reflecting: empty).children.count == Int(descriptor.n_fields), "\(name)")
        }
    }

    @Test("every message with every field set decodes and encodes back to the same bytes")
    func everyFieldSurvives() throws {
        for (type, descriptor) in Self.messages() {
            let name = String(cString: descriptor.name)
            let bytes = WireBuilder.everyField(of: descriptor)
            let decoded = try type.init(serializedBytes: bytes)
            #expect(decoded.serializedBytes() == bytes, "\(name): a field is lost between decode and encode")
            #expect(!decoded.isEmpty, "\(name)")
            // Each field on its own is read and written back. (The bytes may
            // differ: an absent nested message is written as an empty one.)
            for index in 0..<Int(descriptor.n_fields) {
                let field = descriptor.fields[index]
                let single = try type.init(serializedBytes: WireBuilder.field(field, depth: 0))
                #expect(!single.isEmpty, "\(name).\(String(cString: field.name)) is not read")
                #expect(single.roundTrips, "\(name).\(String(cString: field.name)) is not written back")
            }
        }
    }

    @Test("a Connector built by hand, field by field, decodes into the right properties")
    func connectorByHand() throws {
        var bytes: [UInt8] = [0x08, 0x2A]  // id (1): 42
        for (number, text) in [(2, "n"), (3, "d"), (4, "u")] {
            bytes += [UInt8(number << 3 | 2), 0x01] + Array(text.utf8)
        }
        bytes += [0x28, 0x03]  // mode (5): DEACTIVE
        for (number, text) in [(6, "v"), (7, "l")] {
            bytes += [UInt8(number << 3 | 2), 0x01] + Array(text.utf8)
        }
        bytes += [0x40, 0x01, 0x48, 0x01]  // has_logo (8), has_secret (9): true
        bytes += [0x50, 0x0A, 0x58, 0x0B]  // tools_count (10): 10, templates_count (11): 11
        for (number, text) in [(12, "tj"), (13, "pj"), (14, "cj"), (15, "ca")] {
            bytes += [UInt8(number << 3 | 2), 0x02] + Array(text.utf8)
        }
        bytes += [0x82, 0x01, 0x02] + Array("ua".utf8)  // updated_at (16): a two-byte key
        let connector = try ConnectorsV1.Connector(serializedBytes: bytes)
        let expected = ConnectorsV1.Connector(
            id: 42, name: "n", description: "d", url: "u", mode: .deactive, version: "v", logoURL: "l",
            hasLogo: true, hasSecret: true, toolsCount: 10, templatesCount: 11, toolsJSON: "tj", templatesJSON: "pj",
            serverConfigJSON: "cj", createdAt: "ca", updatedAt: "ua")
        #expect(connector == expected)
        #expect(connector.serializedBytes() == bytes)
    }

    @Test("responses built by hand decode their nested connector and other fields")
    func responsesByHand() throws {
        let connector: [UInt8] = [0x08, 0x07, 0x12, 0x01, 0x78]  // Connector { id: 7, name: "x" }
        // RegisterResponse { connector (1), message (2): "m", next_step (3): "s" }
        let register = try ConnectorsV1.RegisterResponse(
            serializedBytes: [0x0A, UInt8(connector.count)] + connector + [0x12, 0x01, 0x6D, 0x1A, 0x01, 0x73])
        #expect(register == .init(connector: .init(id: 7, name: "x"), message: "m", nextStep: "s"))
        // DeleteResponse { connector_id (1): 9, message (2): "gone" }
        let delete = try ConnectorsV1.DeleteResponse(serializedBytes: [0x08, 0x09, 0x12, 0x04] + Array("gone".utf8))
        #expect(delete == .init(connectorID: 9, message: "gone"))
        // CreateRequest { connector_url (1): "h", secret (2): "k" }
        let create = try ConnectorsV1.CreateRequest(serializedBytes: [0x0A, 0x01, 0x68, 0x12, 0x01, 0x6B])
        #expect(create == .init(connectorURL: "h", secret: "k"))
    }

    @Test("a string with invalid UTF-8 or a NUL is refused in every string field of every message")
    func everyStringFieldIsChecked() {
        for (type, descriptor) in Self.messages() {
            for index in 0..<Int(descriptor.n_fields) {
                let field = descriptor.fields[index]
                guard field.type == PROTOBUF_C_TYPE_STRING else { continue }
                let label = "\(String(cString: descriptor.name)).\(String(cString: field.name))"
                for bad: [UInt8] in [[0xFF, 0xFE], [0x61, 0x00, 0x62]] {
                    let bytes = WireBuilder.key(field.id, wireType: 2) + WireBuilder.varint(UInt64(bad.count)) + bad
                    #expect(throws: ProtobufDecodingError.self, "\(label)") { _ = try type.init(serializedBytes: bytes) }
                }
            }
        }
    }
}

extension ProtoMessage {
    /// Whether the message decodes from its own encoding unchanged.
    fileprivate var roundTrips: Bool {
        (try? Self(serializedBytes: serializedBytes())) == self
    }

    /// Whether the message equals the one decoded from no bytes.
    fileprivate var isEmpty: Bool {
        (try? Self(serializedBytes: [])) == self
    }
}

/// Encodes messages with every field set, from a protoc-c descriptor, in the
/// canonical form protobuf-c packs (fields by number, repeated scalars packed).
private enum WireBuilder {
    static func varint(_ value: UInt64) -> [UInt8] {
        var value = value
        var bytes: [UInt8] = []
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        return bytes + [UInt8(value)]
    }

    static func key(_ number: UInt32, wireType: UInt64) -> [UInt8] {
        varint(UInt64(number) << 3 | wireType)
    }

    static func delimited(_ number: UInt32, _ payload: [UInt8]) -> [UInt8] {
        key(number, wireType: 2) + varint(UInt64(payload.count)) + payload
    }

    static func everyField(of descriptor: ProtobufCMessageDescriptor, depth: Int = 0) -> [UInt8] {
        (0..<Int(descriptor.n_fields)).flatMap { field(descriptor.fields[$0], depth: depth) }
    }

    /// One field set to a value that is not its default (two values if repeated).
    static func field(_ field: ProtobufCFieldDescriptor, depth: Int) -> [UInt8] {
        let repeated = field.label == PROTOBUF_C_LABEL_REPEATED
        let values = repeated ? [value(field, 1, depth: depth), value(field, 2, depth: depth)] : [value(field, 1, depth: depth)]
        if repeated && field.flags & PROTOBUF_C_FIELD_FLAG_PACKED.rawValue != 0 {
            return delimited(field.id, values.flatMap(\.payload))
        }
        return values.flatMap { value in
            value.wireType == 2 ? delimited(field.id, value.payload) : key(field.id, wireType: value.wireType) + value.payload
        }
    }

    /// The `nth` non-default value of a field: its wire type and encoded payload.
    static func value(_ field: ProtobufCFieldDescriptor, _ nth: UInt64, depth: Int) -> (wireType: UInt64, payload: [UInt8]) {
        let seed = UInt64(field.id) * 10 + nth
        switch field.type {
        case PROTOBUF_C_TYPE_BOOL: return (0, [1])
        case PROTOBUF_C_TYPE_ENUM: return (0, varint(nth + 1))
        case PROTOBUF_C_TYPE_INT32, PROTOBUF_C_TYPE_UINT32: return (0, varint(1000 + seed))
        case PROTOBUF_C_TYPE_INT64, PROTOBUF_C_TYPE_UINT64: return (0, varint(1 << 40 + seed))
        case PROTOBUF_C_TYPE_SINT32, PROTOBUF_C_TYPE_SINT64: return (0, varint(seed * 2 + 1))  // zigzag: negative
        case PROTOBUF_C_TYPE_FIXED32, PROTOBUF_C_TYPE_SFIXED32, PROTOBUF_C_TYPE_FLOAT:
            return (5, withUnsafeBytes(of: UInt32(seed).littleEndian) { Array($0) })
        case PROTOBUF_C_TYPE_FIXED64, PROTOBUF_C_TYPE_SFIXED64, PROTOBUF_C_TYPE_DOUBLE:
            return (1, withUnsafeBytes(of: seed.littleEndian) { Array($0) })
        case PROTOBUF_C_TYPE_STRING: return (2, Array("f\(seed) ü✓".utf8))
        case PROTOBUF_C_TYPE_BYTES: return (2, [0x00, 0xFF, UInt8(truncatingIfNeeded: seed)])
        case PROTOBUF_C_TYPE_MESSAGE:
            let nested = field.descriptor.assumingMemoryBound(to: ProtobufCMessageDescriptor.self).pointee
            return (2, depth < 3 ? everyField(of: nested, depth: depth + 1) : [])
        default:
            Issue.record("field \(String(cString: field.name)) has a type this test does not know: \(field.type)")
            return (0, [])
        }
    }
}
