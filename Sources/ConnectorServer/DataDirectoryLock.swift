import Glibc
import Synchronization

/// An exclusive lock on a data directory (flock on `connectord.lock`), so one
/// daemon at a time uses it. Released by `release()`, at deinit, or when the
/// process ends.
final class DataDirectoryLock: Sendable {
    private let descriptor: Mutex<Int32?>

    /// Creates the directory if needed (mode 0700), checks it is writable, and
    /// takes the lock.
    /// - Throws: `DaemonError` naming the problem.
    init(directory: String, lockPath: String) throws(DaemonError) {
        try Self.makeDirectory(directory)
        guard access(directory, W_OK | X_OK) == 0 else {
            throw DaemonError("data directory \(directory) is not writable")
        }
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw DaemonError("cannot open \(lockPath): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            var buffer = [UInt8](repeating: 0, count: 32)
            let count = pread(fd, &buffer, buffer.count, 0)
            let holder = count > 0 ? String(decoding: buffer.prefix(count), as: UTF8.self).trimmingWhitespace : "?"
            close(fd)
            throw DaemonError("another connectord (pid \(holder)) is already using data directory \(directory)")
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pwrite(fd, pid, pid.count, 0)
        descriptor = Mutex(fd)
    }

    /// Releases the lock; later calls do nothing.
    func release() {
        descriptor.withLock { fd in
            if let open = fd { close(open) }
            fd = nil
        }
    }

    deinit { release() }

    private static func makeDirectory(_ path: String) throws(DaemonError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST {
                throw DaemonError("cannot create data directory \(path): \(String(cString: strerror(errno)))")
            }
        }
        var info = stat()
        guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw DaemonError("data directory \(path) is not a directory")
        }
    }
}

extension String {
    fileprivate var trimmingWhitespace: String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
