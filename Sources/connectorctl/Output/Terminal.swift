import Foundation
import Glibc

/// Where output goes and whether it may be coloured.
enum Terminal {
    /// Colour only on a terminal, and never with `NO_COLOR` set.
    static let colorEnabled: Bool = {
        let environment = ProcessInfo.processInfo.environment
        if let noColor = environment["NO_COLOR"], !noColor.isEmpty { return false }
        if environment["TERM"] == "dumb" { return false }
        return isatty(STDOUT_FILENO) == 1
    }()

    enum Color: String {
        case green = "32", yellow = "33", blue = "34", dim = "2", bold = "1"
    }

    static func paint(_ text: String, _ color: Color) -> String {
        colorEnabled ? "\u{1B}[\(color.rawValue)m\(text)\u{1B}[0m" : text
    }

    /// One line on stderr.
    static func standardError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
