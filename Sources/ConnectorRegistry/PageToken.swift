import Foundation

/// The opaque `page_token` of List: the last id of the previous page and the
/// mode filter it was made for, base64url-encoded.
enum PageToken {
    static func encode(afterID: Int64, mode: ConnectorMode?) -> String {
        Data("v1:\(afterID):\(mode?.rawValue ?? "")".utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// The id after which the page starts (0 for an empty token).
    /// - Throws: INVALID_ARGUMENT for a token that is not one of ours or was
    ///   made for another mode filter.
    static func decode(_ token: String, mode: ConnectorMode?) throws(ConnectorRegistryError) -> Int64 {
        guard !token.isEmpty else { return 0 }
        let invalid = ConnectorRegistryError(.invalidArgument, "Invalid page token")
        var base64 = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard token.count <= 64, let data = Data(base64Encoded: base64), let text = String(data: data, encoding: .utf8) else {
            throw invalid
        }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "v1", let afterID = Int64(parts[1]), afterID >= 0 else { throw invalid }
        guard parts[2] == (mode?.rawValue ?? "") else {
            throw ConnectorRegistryError(.invalidArgument, "The page token was made for another mode filter")
        }
        return afterID
    }
}
