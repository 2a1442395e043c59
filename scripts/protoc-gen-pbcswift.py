#!/usr/bin/env python3
"""protoc plugin: Swift value types for protoc-c messages.

    protoc --plugin=protoc-gen-pbcswift=scripts/protoc-gen-pbcswift.py \\
        --pbcswift_out=OUT -I proto connectors/v1/connectors.proto

writes OUT/connectors/v1/connectors.pb-c.swift: for every message of the
file, a public Sendable, Hashable struct in the package's namespace enum
(`connectors.v1` -> `ConnectorsV1`, declared by hand beside the output) with
a memberwise init whose arguments default to the proto defaults, and a
conformance to `ProtobufCBacked` (hand-written in ConnectorAPI): `init(_:)`
copies the C struct protoc-c unpacked into Swift values, `build(_:)` fills one
in a `CArena` for packing. Every enum becomes a RawRepresentable struct that
keeps numbers it does not know. Doc comments come from the proto's comments.
Decoding refuses strings that are not UTF-8 (naming the field: `name`, or
`connector.name` in a message other messages hold); ProtobufCKit refuses a
NUL in any string before that.

What protoc-c 1.4.1 and this generator support, in proto3: scalars, string,
bytes, enums and messages of the same package, repeated fields of those, and
one-field oneofs (protoc-c's stand-in for `optional`) as Swift optionals.
Anything else (nested types, maps, real oneofs, proto2, imports of message
types from another package) stops the generator with an error rather than
being skipped.

Only the Python standard library: protoc hands over the parsed files as a
CodeGeneratorRequest on stdin, read here with a minimal protobuf wire reader;
the answer is a CodeGeneratorResponse on stdout.
"""

import sys
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Optional

GENERATOR = "scripts/protoc-gen-pbcswift.py"

# --- protobuf wire format: just enough to read descriptors -------------------


def read_varint(data: bytes, pos: int):
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


class Fields:
    """The fields of one encoded message, by number, in the order they came."""

    def __init__(self, data: bytes):
        self.values = defaultdict(list)
        pos = 0
        while pos < len(data):
            key, pos = read_varint(data, pos)
            number, wire_type = key >> 3, key & 7
            if wire_type == 0:
                value, pos = read_varint(data, pos)
            elif wire_type == 2:
                length, pos = read_varint(data, pos)
                value, pos = data[pos : pos + length], pos + length
            elif wire_type in (1, 5):
                size = 8 if wire_type == 1 else 4
                value, pos = data[pos : pos + size], pos + size
            else:
                raise ValueError(f"unexpected wire type {wire_type}")
            self.values[number].append(value)

    def string(self, number: int, default: str = "") -> str:
        values = self.values.get(number)
        return values[-1].decode() if values else default

    def int(self, number: int, default: int = 0) -> int:
        values = self.values.get(number)
        return values[-1] if values else default

    def has(self, number: int) -> bool:
        return number in self.values

    def messages(self, number: int) -> list:
        return [Fields(value) for value in self.values.get(number, [])]

    def message(self, number: int) -> "Fields":
        values = self.values.get(number)
        return Fields(values[-1] if values else b"")

    def packed_ints(self, number: int) -> list:
        result = []
        for value in self.values.get(number, []):
            if isinstance(value, int):
                result.append(value)
                continue
            pos = 0
            while pos < len(value):
                item, pos = read_varint(value, pos)
                result.append(item)
        return result


def encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode_field(number: int, payload) -> bytes:
    """A field of wire type 2 (bytes), or of wire type 0 for an int."""
    if isinstance(payload, int):
        return encode_varint(number << 3) + encode_varint(payload)
    if isinstance(payload, str):
        payload = payload.encode()
    return encode_varint(number << 3 | 2) + encode_varint(len(payload)) + payload


# --- descriptor.proto field numbers used below -------------------------------

# FieldDescriptorProto.Type
DOUBLE, FLOAT, INT64, UINT64, INT32, FIXED64, FIXED32, BOOL, STRING = range(1, 10)
GROUP, MESSAGE, BYTES, UINT32, ENUM, SFIXED32, SFIXED64, SINT32, SINT64 = range(10, 19)
LABEL_REPEATED = 3

SWIFT_SCALARS = {
    DOUBLE: "Double", FLOAT: "Float",
    INT64: "Int64", SFIXED64: "Int64", SINT64: "Int64",
    UINT64: "UInt64", FIXED64: "UInt64",
    INT32: "Int32", SFIXED32: "Int32", SINT32: "Int32",
    UINT32: "UInt32", FIXED32: "UInt32",
}  # fmt: skip

# Words written in capitals in Swift names (Swift's API guidelines).
ACRONYMS = {"id", "url", "uri", "json", "http", "https", "uid", "gid", "pid", "ttl", "sha", "etag", "utf8", "ip"}
SWIFT_KEYWORDS = {"default", "protocol", "self", "Self", "Type", "init", "deinit", "func", "var", "let", "class",
                  "struct", "enum", "extension", "import", "internal", "public", "private", "return", "static",
                  "subscript", "switch", "case", "where", "while", "for", "in", "if", "else", "repeat", "operator",
                  "is", "as", "try", "throw", "throws", "nil", "true", "false", "super", "any", "some"}  # fmt: skip


# protoc-c appends "_" to a field named after one of these (C and C++ keywords).
C_KEYWORDS = {"and", "and_eq", "asm", "auto", "bitand", "bitor", "bool", "break", "case", "catch", "char", "class",
              "compl", "const", "const_cast", "continue", "default", "delete", "do", "double", "dynamic_cast", "else",
              "enum", "explicit", "extern", "false", "float", "for", "friend", "goto", "if", "inline", "int", "long",
              "mutable", "namespace", "new", "not", "not_eq", "operator", "or", "or_eq", "private", "protected",
              "public", "register", "reinterpret_cast", "return", "short", "signed", "sizeof", "static",
              "static_cast", "struct", "switch", "template", "this", "throw", "true", "try", "typedef", "typeid",
              "typename", "union", "unsigned", "using", "virtual", "void", "volatile", "wchar_t", "while", "xor",
              "xor_eq"}  # fmt: skip


class Unsupported(Exception):
    pass


@dataclass
class Field:
    name: str  # as in the proto: connector_id
    number: int
    type: int
    type_name: str  # .connectors.v1.Connector for messages and enums
    repeated: bool
    comment: str
    presence_oneof: Optional[str] = None  # the one-field oneof giving it presence

    @property
    def c_name(self) -> str:
        """The member of the protoc-c struct."""
        name = self.name.lower()
        return name + "_" if name in C_KEYWORDS else name


@dataclass
class Message:
    name: str
    fields: list
    comment: str
    deprecated: bool


@dataclass
class EnumValue:
    name: str
    number: int
    comment: str


@dataclass
class Enum:
    name: str
    values: list
    comment: str


@dataclass
class ProtoFile:
    name: str
    package: str
    messages: list = field(default_factory=list)
    enums: list = field(default_factory=list)


def comments_by_path(source_code_info: Fields) -> dict:
    """Leading (else trailing) comments keyed by their descriptor path."""
    result = {}
    for location in source_code_info.messages(1):
        text = location.string(3) or location.string(4)
        if text:
            lines = [line[1:] if line.startswith(" ") else line for line in text.rstrip("\n").split("\n")]
            result[tuple(location.packed_ints(1))] = "\n".join(lines).strip("\n")
    return result


def signed(number: int) -> int:
    """An int32 read as a varint (negative numbers take ten bytes)."""
    return number - (1 << 64) if number >= 1 << 63 else number


def read_file(descriptor: Fields) -> ProtoFile:
    """The enums and messages of a FileDescriptorProto."""
    proto = ProtoFile(name=descriptor.string(1), package=descriptor.string(2))  # name, package
    where = proto.name
    if descriptor.string(12, "proto2") != "proto3":  # syntax
        raise Unsupported(f"{where}: only proto3 is supported")
    comments = comments_by_path(descriptor.message(9))  # source_code_info
    # Comment paths: enum_type (5) or message_type (4), its index, then
    # value (2) or field (2) and its index.
    for index, enum in enumerate(descriptor.messages(5)):  # EnumDescriptorProto
        values = [  # EnumValueDescriptorProto: name, number
            EnumValue(value.string(1), signed(value.int(2)), comments.get((5, index, 2, position), ""))
            for position, value in enumerate(enum.messages(2))
        ]
        proto.enums.append(Enum(enum.string(1), values, comments.get((5, index), "")))
    for index, message in enumerate(descriptor.messages(4)):  # DescriptorProto
        name = message.string(1)
        if message.has(3) or message.has(4):  # nested_type, enum_type
            raise Unsupported(f"{where}: {name}: nested types are not supported")
        oneofs = [oneof.string(1) for oneof in message.messages(8)]  # oneof_decl
        members = defaultdict(list)
        fields = []
        for position, f in enumerate(message.messages(2)):  # FieldDescriptorProto
            if f.int(17):  # proto3_optional
                raise Unsupported(f"{where}: {name}.{f.string(1)}: proto3 optional (protoc-c 1.4.1 rejects it too)")
            if f.int(5) == GROUP:
                raise Unsupported(f"{where}: {name}.{f.string(1)}: groups are not supported")
            item = Field(
                name=f.string(1), number=f.int(3), type=f.int(5), type_name=f.string(6),
                repeated=f.int(4) == LABEL_REPEATED, comment=comments.get((4, index, 2, position), ""),
            )  # fmt: skip
            if f.has(9):  # oneof_index
                item.presence_oneof = oneofs[f.int(9)]
                members[item.presence_oneof].append(item.name)
            fields.append(item)
        for oneof, names in members.items():
            if len(names) != 1:
                raise Unsupported(
                    f"{where}: {name}: oneof {oneof} has {len(names)} fields; only one-field oneofs are supported"
                )
        deprecated = message.message(7).int(3) != 0  # options.deprecated
        proto.messages.append(Message(name, fields, comments.get((4, index), ""), deprecated))
    return proto


# --- names --------------------------------------------------------------------


def words(snake: str) -> list:
    return [word for word in snake.split("_") if word]


def lower_camel(snake: str) -> str:
    parts = [word.lower() for word in words(snake)]
    result = parts[0] + "".join(word.upper() if word in ACRONYMS else word.capitalize() for word in parts[1:])
    return f"`{result}`" if result in SWIFT_KEYWORDS else result


def upper_snake(camel: str) -> str:
    out = ""
    for index, char in enumerate(camel):
        if char.isupper() and index > 0 and not camel[index - 1].isupper():
            out += "_"
        out += char.upper()
    return out


def c_camel(piece: str) -> str:
    """protoc-c's ToCamel: underscores dropped, the letter after one capitalized."""
    out, upper = "", True
    for char in piece:
        if char == "_":
            upper = True
        elif upper:
            out, upper = out + char.upper(), False
        else:
            out += char
    return out


def c_lower(piece: str) -> str:
    """protoc-c's CamelToLower: an underscore before each run of capitals."""
    out, was_upper = "", True
    for char in piece:
        if char.isupper():
            out += ("" if was_upper else "_") + char.lower()
        else:
            out += char
        was_upper = char.isupper()
    return out


class Names:
    """The Swift and C names of a package's types."""

    def __init__(self, package: str):
        self.package = package
        self.namespace = "".join(c_camel(part) for part in package.split("."))  # connectors.v1: ConnectorsV1

    def local(self, type_name: str, where: str) -> str:
        prefix = f".{self.package}."
        if not type_name.startswith(prefix) or "." in type_name[len(prefix) :]:
            raise Unsupported(f"{where}: type {type_name} is not a top-level type of package {self.package}")
        return type_name[len(prefix) :]

    def swift(self, name: str) -> str:
        return f"{self.namespace}.{name}"

    def c_type(self, name: str) -> str:
        return "__".join(c_camel(piece) for piece in f"{self.package}.{name}".split("."))

    def c_function(self, name: str, suffix: str) -> str:
        return "__".join(c_lower(piece) for piece in f"{self.package}.{name}".split(".")) + "__" + suffix


# --- Swift --------------------------------------------------------------------


def doc(text: str, indent: str) -> list:
    return [f"{indent}///" + (f" {line}" if line else "") for line in text.split("\n")]


class MessageWriter:
    """The Swift of one message: the struct and its ProtobufCBacked conformance."""

    def __init__(self, message: Message, names: Names, enums: dict, nested: set, where: str):
        self.message, self.names, self.enums = message, names, enums
        self.where = f"{where}: {message.name}"
        # Fields of a message used inside others are named with it in errors
        # ("connector.name"); a top-level request's by their own name.
        self.label_prefix = c_lower(message.name) + "." if message.name in nested else ""

    def kind(self, f: Field) -> str:
        if f.type in SWIFT_SCALARS:
            return "scalar"
        kinds = {BOOL: "bool", STRING: "string", BYTES: "bytes", ENUM: "enum", MESSAGE: "message"}
        if f.type not in kinds:
            raise Unsupported(f"{self.where}.{f.name}: field type {f.type} is not supported")
        return kinds[f.type]

    def element_type(self, f: Field) -> str:
        kind = self.kind(f)
        if kind in ("enum", "message"):
            return self.names.swift(self.names.local(f.type_name, f"{self.where}.{f.name}"))
        return {"scalar": SWIFT_SCALARS.get(f.type), "bool": "Bool", "string": "String", "bytes": "[UInt8]"}[kind]

    def swift_type(self, f: Field) -> str:
        element = self.element_type(f)
        if f.repeated:
            return f"[{element}]"
        return f"{element}?" if f.presence_oneof else element

    def default(self, f: Field) -> str:
        if f.repeated:
            return "[]"
        if f.presence_oneof:
            return "nil"
        kind = self.kind(f)
        if kind == "enum":
            enum = self.enums[self.names.local(f.type_name, self.where)]
            zero = next((value for value in enum.values if value.number == 0), None)
            return f".{enum_case_name(enum, zero)}" if zero else ".init(rawValue: 0)"
        message = f"{self.element_type(f)}()"
        return {"scalar": "0", "bool": "false", "string": '""', "bytes": "[]", "message": message}[kind]

    def decode(self, f: Field, value: str) -> tuple:
        """A Swift expression reading one value of `f` from C `value`, and whether it throws."""
        kind = self.kind(f)
        label = self.label_prefix + f.name
        if kind == "message":
            # Absent: nil for a oneof, else the empty message; never NULL in a repeated field.
            if f.repeated:
                return f"{self.element_type(f)}({value}!.pointee)", True
            fallback = "" if f.presence_oneof else f" ?? {self.default(f)}"
            return f"{self.element_type(f)}.from({value}){fallback}", True
        return {
            "scalar": (value, False),
            "bool": (f"{value} != 0", False),
            "string": (f'String(protobufC: {value}, field: "{label}")', True),
            "bytes": (f"{value}.withBytes {{ [UInt8]($0) }}", False),
            "enum": (f"{self.element_type(f)}({value})", False),
        }[kind]

    def encode(self, f: Field, value: str, in_oneof: bool = False) -> str:
        """A Swift expression giving the C form of one Swift value of `f`."""
        kind = self.kind(f)
        return {
            "scalar": value,
            "bool": f"{value} ? 1 : 0",
            "string": f"arena.{'oneofCString' if in_oneof else 'cString'}({value})",
            "bytes": f"arena.binary({value})",
            "enum": f"{value}.c",
            "message": f"{value}.build(&arena)",
        }[kind]

    def struct(self) -> list:
        m = self.message
        summary = f"`{self.names.package}.{m.name}`" + (" (deprecated)" if m.deprecated else "") + "."
        lines = doc(summary + ("\n\n" + m.comment if m.comment else ""), "    ")
        lines.append(f"    public struct {m.name}: Sendable, Hashable {{")
        for f in m.fields:
            where = f"`{f.name}` = {f.number}"
            if f.presence_oneof:
                where += f", in oneof `{f.presence_oneof}`: nil when unset"
            lines += doc((f.comment + "\n\n" if f.comment else "") + f"Proto field {where}.", "        ")
            lines.append(f"        public var {lower_camel(f.name)}: {self.swift_type(f)}")
        if m.fields:
            lines.append("")
        lines.append("        /// Creates the message; fields not given have their proto defaults.")
        arguments = [f"{lower_camel(f.name)}: {self.swift_type(f)} = {self.default(f)}" for f in m.fields]
        signature = f"        public init({', '.join(arguments)}) {{"
        if len(signature) > 120:
            signature = "        public init(\n" + ",\n".join(f"            {a}" for a in arguments) + "\n        ) {"
        lines.append(signature)
        for f in m.fields:
            name = lower_camel(f.name)
            lines.append(f"            self.{name} = {name}")
        lines += ["        }", "    }"]
        return lines

    def init_from_c(self) -> list:
        c_type = self.names.c_type(self.message.name)
        lines = [f"    init(_ c: {c_type}) throws(ProtobufDecodingError) {{"]
        for f in self.message.fields:
            name = lower_camel(f.name)
            if f.repeated:
                element, throws = self.decode(f, f"c.{f.c_name}[index]")
                signature = "index throws(ProtobufDecodingError) in" if throws else "index in"
                expression = f"(0..<c.n_{f.c_name}).map {{ {signature} {'try ' if throws else ''}{element} }}"
            else:
                expression, throws = self.decode(f, f"c.{f.c_name}")
                if f.presence_oneof:
                    expression = f"c.{f.presence_oneof}_case.rawValue == {f.number} ? {expression} : nil"
            lines.append(f"        {name} = {'try ' if throws else ''}{expression}")
        lines.append("    }")
        return lines

    def build(self) -> list:
        c_type = self.names.c_type(self.message.name)
        init = self.names.c_function(self.message.name, "init")
        lines = [
            f"    func build(_ arena: inout CArena) -> UnsafeMutablePointer<{c_type}> {{",
            f"        let c = arena.make({c_type}.self, {init})",
        ]
        for f in self.message.fields:
            name = lower_camel(f.name)
            if f.repeated:
                lines.append(f"        c.pointee.n_{f.c_name} = {name}.count")
                if self.kind(f) == "message":
                    built = f"{name}.map {{ $0.build(&arena) }}"
                    lines.append(f"        c.pointee.{f.c_name} = arena.pointerArray({built})")
                elif self.kind(f) == "string":
                    lines.append(f"        c.pointee.{f.c_name} = arena.cStrings({name})")
                else:
                    element = self.encode(f, "$0")
                    mapped = name if element == "$0" else f"{name}.map {{ {element} }}"
                    lines.append(f"        c.pointee.{f.c_name} = arena.array({mapped})")
            elif f.presence_oneof:
                lines += [
                    f"        if let {name} {{",
                    f"            c.pointee.{f.presence_oneof}_case = .init(rawValue: {f.number})",
                    f"            c.pointee.{f.c_name} = {self.encode(f, name, in_oneof=True)}",
                    "        }",
                ]
            else:
                lines.append(f"        c.pointee.{f.c_name} = {self.encode(f, name)}")
        lines += ["        return c", "    }"]
        return lines

    def conformance(self) -> list:
        m, names = self.message, self.names
        c_type = names.c_type(m.name)
        return [
            f"extension {names.swift(m.name)}: ProtoMessage, ProtobufCBacked {{",
            f'    static var protoName: String {{ "{m.name}" }}',
            f"    static var cUnpack: ProtobufCUnpack<{c_type}> {{ {names.c_function(m.name, 'unpack')} }}",
            f"    static var cFree: ProtobufCFree<{c_type}> {{ {names.c_function(m.name, 'free_unpacked')} }}",
            "",
            *self.init_from_c(),
            "",
            *self.build(),
            "}",
        ]


def enum_case_name(enum: Enum, value: EnumValue) -> str:
    prefix = upper_snake(enum.name) + "_"
    name = value.name[len(prefix) :] if value.name.startswith(prefix) else value.name
    if not name or name[0].isdigit():
        name = value.name
    return lower_camel(name.lower())


def enum_lines(enum: Enum, names: Names) -> list:
    prefix = upper_snake(enum.name) + "_"
    c_type = names.c_type(enum.name)
    summary = f"`{names.package}.{enum.name}`." + (f"\n\n{enum.comment}" if enum.comment else "")
    summary += "\n\nNumbers this version does not know are kept as they came, so the receiver can refuse them."
    lines = doc(summary, "    ")
    lines += [
        f"    public struct {enum.name}: RawRepresentable, Sendable, Hashable, CustomStringConvertible {{",
        "        public var rawValue: Int32",
        "",
        "        /// The value with this number, known to this version or not.",
        "        public init(rawValue: Int32) { self.rawValue = rawValue }",
        "",
    ]
    for value in enum.values:
        text = (value.comment + "\n\n" if value.comment else "") + f"`{value.name}` = {value.number}."
        lines += doc(text, "        ")
        lines.append(f"        public static let {enum_case_name(enum, value)} = {enum.name}(rawValue: {value.number})")
    lines += [
        "",
        f"        /// The proto enum value's name, e.g. `{enum.values[-1].name}`.",
        "        public var description: String {",
        "            switch self {",
    ]
    for value in enum.values:
        lines.append(f'            case .{enum_case_name(enum, value)}: "{value.name}"')
    # Clang gives a C enum with a negative value a signed raw type, else unsigned.
    if any(value.number < 0 for value in enum.values):
        c_conversions = [
            f"        init(_ c: {c_type}) {{ self.init(rawValue: c.rawValue) }}",
            "",
            f"        var c: {c_type} {{ {c_type}(rawValue: rawValue) }}",
        ]
    else:
        c_conversions = [
            f"        init(_ c: {c_type}) {{ self.init(rawValue: Int32(bitPattern: c.rawValue)) }}",
            "",
            f"        var c: {c_type} {{ {c_type}(rawValue: UInt32(bitPattern: rawValue)) }}",
        ]
    fallback = prefix if all(value.name.startswith(prefix) for value in enum.values) else ""
    lines += [
        f'            default: "{fallback}\\(rawValue)"',
        "            }",
        "        }",
        "",
        *c_conversions,
        "    }",
    ]
    return lines


def swift_file(proto: ProtoFile) -> str:
    names = Names(proto.package)
    enums = {enum.name: enum for enum in proto.enums}
    nested = {
        names.local(f.type_name, f"{proto.name}: {m.name}.{f.name}")
        for m in proto.messages
        for f in m.fields
        if f.type == MESSAGE
    }
    lines = [
        f"// Generated by {GENERATOR} from {proto.name}. DO NOT EDIT.",
        "// Regenerate with scripts/generate-proto.sh; scripts/generate-proto.sh --check verifies it is current.",
        "",
        "import CProto",
        "import ProtobufCKit",
    ]
    for enum in proto.enums:
        lines += ["", f"extension {names.namespace} {{", *enum_lines(enum, names), "}"]
    for message in proto.messages:
        writer = MessageWriter(message, names, enums, nested, proto.name)
        lines += ["", f"extension {names.namespace} {{", *writer.struct(), "}", "", *writer.conformance()]
    return "\n".join(lines) + "\n"


# --- plugin -------------------------------------------------------------------


def main() -> int:
    request = Fields(sys.stdin.buffer.read())
    wanted = [value.decode() for value in request.values.get(1, [])]
    files = {descriptor.string(1): descriptor for descriptor in request.messages(15)}
    response = encode_field(2, 1)  # supported_features: FEATURE_PROTO3_OPTIONAL (refused above, with a reason)
    try:
        for name in wanted:
            proto = read_file(files[name])
            if not proto.messages and not proto.enums:
                continue
            output = name.removesuffix(".proto") + ".pb-c.swift"
            response += encode_field(15, encode_field(1, output) + encode_field(15, swift_file(proto)))
    except Unsupported as error:
        response = encode_field(1, f"{GENERATOR}: {error}")
    sys.stdout.buffer.write(response)
    return 0


if __name__ == "__main__":
    sys.exit(main())
