import Glibc

/// Where connectord keeps its socket and data when not told otherwise; the
/// daemon and its clients resolve them the same way.
public enum DefaultLocations {
    /// The data directory: `/var/lib/connectord` for root, else
    /// `$XDG_DATA_HOME/connectord` or `~/.local/share/connectord`.
    public static func dataDirectory(environment: [String: String]) -> String {
        if getuid() == 0 { return "/var/lib/connectord" }
        if let xdg = environment["XDG_DATA_HOME"], xdg.hasPrefix("/") { return xdg + "/connectord" }
        return (environment["HOME"] ?? "/tmp") + "/.local/share/connectord"
    }

    /// The system daemon's socket: where connectord listens when run by root.
    public static let systemSocketPath = "/run/connectord/connectord.sock"

    /// The socket: `$CONNECTORD_SOCKET` if set; for root
    /// `/run/connectord/connectord.sock`; else `$XDG_RUNTIME_DIR/connectord.sock`,
    /// or `connectord.sock` in the data directory.
    public static func socketPath(environment: [String: String]) -> String {
        if let path = environment["CONNECTORD_SOCKET"], !path.isEmpty { return path }
        if getuid() == 0 { return systemSocketPath }
        if let runtime = environment["XDG_RUNTIME_DIR"], runtime.hasPrefix("/") { return runtime + "/connectord.sock" }
        let data = environment["CONNECTORD_DATA_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? dataDirectory(environment: environment)
        return data + "/connectord.sock"
    }

    /// The sockets a client tries, in order: `$CONNECTORD_SOCKET` alone if set;
    /// else the user's own daemon's (`socketPath(environment:)`), then the
    /// system daemon's (once, for root: they are the same).
    public static func clientSocketPaths(environment: [String: String]) -> [String] {
        let own = socketPath(environment: environment)
        if let path = environment["CONNECTORD_SOCKET"], !path.isEmpty { return [own] }
        return own == systemSocketPath ? [own] : [own, systemSocketPath]
    }
}
