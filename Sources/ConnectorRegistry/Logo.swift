import Foundation

/// A connector's logo image, checked by its content.
public struct Logo: Sendable, Hashable {
    /// `image/png`, `image/jpeg`, `image/gif`, `image/webp` or `image/svg+xml`.
    public var contentType: String
    public var data: [UInt8]

    public init(contentType: String, data: [UInt8]) {
        self.contentType = contentType
        self.data = data
    }

    /// Recognizes an image by its bytes, whatever the server said it was.
    /// - Returns: the logo, or nil if the bytes are not a supported image.
    static func sniff(_ data: [UInt8]) -> Logo? {
        func starts(with prefix: [UInt8], at offset: Int = 0) -> Bool {
            data.count >= offset + prefix.count && Array(data[offset..<offset + prefix.count]) == prefix
        }
        let type: String? =
            if starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { "image/png" }
            else if starts(with: [0xFF, 0xD8, 0xFF]) { "image/jpeg" }
            else if starts(with: Array("GIF87a".utf8)) || starts(with: Array("GIF89a".utf8)) { "image/gif" }
            else if starts(with: Array("RIFF".utf8)) && starts(with: Array("WEBP".utf8), at: 8) { "image/webp" }
            else if isSVG(data) { "image/svg+xml" }
            else { nil }
        return type.map { Logo(contentType: $0, data: data) }
    }

    /// An SVG document: UTF-8 text whose first element is `<svg`, after an
    /// optional byte order mark, XML declaration, comments and doctype.
    private static func isSVG(_ data: [UInt8]) -> Bool {
        guard var text = String(validating: data.prefix(4096), as: UTF8.self) ?? String(validating: data, as: UTF8.self)
        else { return false }
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
        var rest = Substring(text)
        while true {
            rest = rest.drop(while: \.isWhitespace)
            if rest.hasPrefix("<?") || rest.hasPrefix("<!--") || rest.hasPrefix("<!") {
                let terminator = rest.hasPrefix("<!--") ? "-->" : ">"
                guard let end = rest.range(of: terminator) else { return false }
                rest = rest[end.upperBound...]
                continue
            }
            return rest.hasPrefix("<svg") && (rest.dropFirst(4).first.map { $0.isWhitespace || $0 == ">" } ?? false)
        }
    }
}
