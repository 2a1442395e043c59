import Glibc

/// Who asked for a change: the kernel's credentials of the calling process,
/// recorded in the change's history record.
public struct Caller: Sendable, Hashable, Codable {
    public var uid: UInt32
    public var gid: UInt32
    public var pid: Int32
    /// The process's name (`/proc/PID/comm`) when it was readable; else empty.
    public var processName: String

    public init(uid: UInt32, gid: UInt32, pid: Int32, processName: String) {
        self.uid = uid
        self.gid = gid
        self.pid = pid
        self.processName = processName
    }

    /// The process `pid` with these credentials, named from `/proc/PID/comm`.
    public static func process(uid: UInt32, gid: UInt32, pid: Int32) -> Caller {
        Caller(uid: uid, gid: gid, pid: pid, processName: commandName(of: pid))
    }

    /// This process: changes made in-process (tests, embedding).
    public static var thisProcess: Caller {
        process(uid: getuid(), gid: getgid(), pid: getpid())
    }

    /// `/proc/PID/comm` without its newline; empty if it cannot be read.
    private static func commandName(of pid: Int32) -> String {
        guard pid > 0 else { return "" }
        let fd = open("/proc/\(pid)/comm", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return "" }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = read(fd, &buffer, buffer.count)
        guard count > 0 else { return "" }
        return String(decoding: buffer.prefix(count), as: UTF8.self).trimmingSuffix("\n")
    }
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
