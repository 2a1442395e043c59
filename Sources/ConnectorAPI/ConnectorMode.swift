import CProto

extension ConnectorsV1 {
    /// `connectors.v1.ConnectorMode`. Numbers this version does not know are kept
    /// as they came, so the receiver can refuse them.
    public struct ConnectorMode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public var rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }

        public static let unspecified = ConnectorMode(rawValue: 0)
        public static let sync = ConnectorMode(rawValue: 1)
        public static let active = ConnectorMode(rawValue: 2)
        public static let deactive = ConnectorMode(rawValue: 3)

        /// The proto enum value's name, e.g. `CONNECTOR_MODE_ACTIVE`.
        public var description: String {
            switch self {
            case .unspecified: "CONNECTOR_MODE_UNSPECIFIED"
            case .sync: "CONNECTOR_MODE_SYNC"
            case .active: "CONNECTOR_MODE_ACTIVE"
            case .deactive: "CONNECTOR_MODE_DEACTIVE"
            default: "CONNECTOR_MODE_\(rawValue)"
            }
        }

        init(_ c: Connectors__V1__ConnectorMode) { self.init(rawValue: Int32(bitPattern: c.rawValue)) }

        var c: Connectors__V1__ConnectorMode { Connectors__V1__ConnectorMode(rawValue: UInt32(bitPattern: rawValue)) }
    }
}
