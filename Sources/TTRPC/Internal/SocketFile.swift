import Glibc

/// The socket file of a listening server: checks the path before binding,
/// creates the socket with its final mode atomically, and removes it after.
struct SocketFile: Sendable {
    let path: String
    private var identity: (device: UInt64, inode: UInt64)?

    private init(path: String) { self.path = path }

    /// Checks `path`: a live server there is an error, a stale socket is
    /// removed, and any other kind of file is left alone and refused.
    static func prepare(path: String) throws(TTRPCServerError) -> SocketFile {
        guard path.utf8.count < MemoryLayout.size(ofValue: sockaddr_un().sun_path) else {
            throw .cannotListen(path: path, reason: "the path is longer than the 107 bytes a Unix socket address holds")
        }
        var info = stat()
        guard lstat(path, &info) == 0 else {
            guard errno == ENOENT else { throw .cannotListen(path: path, reason: String(cString: strerror(errno))) }
            return SocketFile(path: path)
        }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw .cannotListen(path: path, reason: "the path exists and is not a socket")
        }
        if isAcceptingConnections(path: path) {
            throw .cannotListen(path: path, reason: "another server is already listening there")
        }
        unlink(path)
        return SocketFile(path: path)
    }

    /// Binds through `bind` on a temporary name beside `path`, sets the mode,
    /// then renames it into place, so the socket is never reachable with a
    /// looser mode than asked.
    mutating func bind<Channel>(mode: UInt32, _ bind: (String) async throws -> Channel) async throws -> Channel {
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        let temporary = "\(directory)/.ttrpc-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        let staged = temporary.utf8.count < 108
        let bindPath = staged ? temporary : path
        let channel = try await bind(bindPath)
        guard chmod(bindPath, mode_t(mode)) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(bindPath)
            throw TTRPCServerError.cannotListen(path: path, reason: "chmod: \(reason)")
        }
        if staged, rename(temporary, path) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw TTRPCServerError.cannotListen(path: path, reason: "rename: \(reason)")
        }
        var info = stat()
        if stat(path, &info) == 0 { identity = (UInt64(info.st_dev), UInt64(info.st_ino)) }
        return channel
    }

    /// Removes the socket file if it is still the one this server created.
    func remove() {
        var info = stat()
        guard let identity, stat(path, &info) == 0,
            UInt64(info.st_dev) == identity.device, UInt64(info.st_ino) == identity.inode
        else { return }
        unlink(path)
    }

    /// Whether something accepts connections on the Unix socket at `path`.
    static func isAcceptingConnections(path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return result == 0
    }
}
