import CProto
public import ProtobufCKit

extension ConnectorsV1 {
    /// `connectors.v1.RegisterRequest`: step 1, store a connector in mode `deactive`.
    public struct RegisterRequest: Sendable, Hashable {
        /// Connector name: 1-64 characters of [A-Za-z0-9_.-], starting with a letter or digit.
        public var name: String
        /// Required, at most 4,096 characters.
        public var description: String
        /// Optional (empty for none), at most 4,096 bytes; stored sealed, never returned.
        public var secret: String

        public init(name: String = "", description: String = "", secret: String = "") {
            self.name = name
            self.description = description
            self.secret = secret
        }
    }
}

extension ConnectorsV1.RegisterRequest: ProtoMessage {
    public init(decoding bytes: UnsafeRawBufferPointer) throws(ProtobufDecodingError) {
        self = try unpackProtobufC(
            bytes, "RegisterRequest", unpack: connectors__v1__register_request__unpack, free: connectors__v1__register_request__free_unpacked
        ) { c throws(ProtobufDecodingError) in
            ConnectorsV1.RegisterRequest(
                name: try String(protobufC: c.name, field: "name"),
                description: try String(protobufC: c.description, field: "description"),
                secret: try String(protobufC: c.secret, field: "secret"))
        }
    }

    public func encode<Result>(_ write: (Int, (UnsafeMutableRawPointer) -> Void) -> Result) -> Result {
        withCArena { arena in
            let c = arena.make(Connectors__V1__RegisterRequest.self, connectors__v1__register_request__init)
            c.pointee.name = arena.cString(name)
            c.pointee.description = arena.cString(description)
            c.pointee.secret = arena.cString(secret)
            return packProtobufC(c, write: write)
        }
    }
}

extension ConnectorsV1 {
    /// `connectors.v1.RegisterResponse`.
    public struct RegisterResponse: Sendable, Hashable {
        public var connector: Connector
        /// `Connector 'NAME' registered successfully`
        public var message: String
        /// What to do next: activate with the connector URL.
        public var nextStep: String

        public init(connector: Connector = Connector(), message: String = "", nextStep: String = "") {
            self.connector = connector
            self.message = message
            self.nextStep = nextStep
        }
    }
}

extension ConnectorsV1.RegisterResponse: ProtoMessage {
    public init(decoding bytes: UnsafeRawBufferPointer) throws(ProtobufDecodingError) {
        self = try unpackProtobufC(
            bytes, "RegisterResponse", unpack: connectors__v1__register_response__unpack, free: connectors__v1__register_response__free_unpacked
        ) { c throws(ProtobufDecodingError) in
            ConnectorsV1.RegisterResponse(
                connector: try ConnectorsV1.Connector.from(c.connector),
                message: try String(protobufC: c.message, field: "message"),
                nextStep: try String(protobufC: c.next_step, field: "next_step"))
        }
    }

    public func encode<Result>(_ write: (Int, (UnsafeMutableRawPointer) -> Void) -> Result) -> Result {
        withCArena { arena in
            let c = arena.make(Connectors__V1__RegisterResponse.self, connectors__v1__register_response__init)
            c.pointee.connector = connector.build(&arena)
            c.pointee.message = arena.cString(message)
            c.pointee.next_step = arena.cString(nextStep)
            return packProtobufC(c, write: write)
        }
    }
}
