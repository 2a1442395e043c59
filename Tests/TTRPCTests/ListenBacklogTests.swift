import Foundation
import Glibc
import Testing

@testable import TTRPC

/// The listen backlog is the system's maximum: a burst of clients dialling at
/// once with non-blocking connects (Go's `net.Dial`, any connect with a
/// timeout) is queued, not refused with EAGAIN.
@Suite(.timeLimit(.minutes(5)))
struct ListenBacklogTests {
    /// The size of the burst: 1,000, or the system's maximum backlog where that
    /// is lower (no server can queue more without raising net.core.somaxconn).
    static let burst = min(1000, Int(TTRPCServer.systemMaximumListenBacklog))

    @Test func theDefaultBacklogIsTheSystemMaximum() throws {
        let configured = TTRPCServer.Configuration(socketPath: "/unused").listenBacklog
        #expect(configured == TTRPCServer.systemMaximumListenBacklog)
        if let data = FileHandle(forReadingAtPath: "/proc/sys/net/core/somaxconn")?.readDataToEndOfFile() {
            let text = String(decoding: data, as: UTF8.self)
            let somaxconn = try #require(Int32(text.filter(\.isNumber)), "somaxconn: \(text)")
            #expect(configured == somaxconn)
        } else {
            #expect(configured == .max, "without /proc, the largest value, which listen(2) lowers")
        }
    }

    /// The server serves one connection and accepts nothing more while it is
    /// open, so the whole burst has to fit in the backlog: none of it may be
    /// refused. Then every queued connection is accepted in turn.
    @Test func aBurstOfNonBlockingConnectsIsQueuedNotRefused() async throws {
        try raiseOpenFileLimit(toAtLeast: Self.burst + 256)
        try await withServer(router: .echo, configure: { $0.maximumConnections = 1 }) { server, path async throws in
            let held = try RawSocket.connect(path)
            try await held.write(requestFrame(streamID: 1, method: "Echo", payload: [1]))
            #expect(try await held.readFrame().responsePayload() == [1], "the one connection served")

            var connected: [Int32] = []
            var refused: [Int32: Int] = [:]  // errno: count
            defer { for fd in connected { close(fd) } }
            for _ in 0..<Self.burst {
                switch nonBlockingConnect(path) {
                case .success(let fd): connected.append(fd)
                case .failure(let error): refused[error.code, default: 0] += 1
                }
            }
            #expect(
                refused.isEmpty,
                "of \(Self.burst) connects, refused: \(refused.map { "\(String(cString: strerror($0.key))) x\($0.value)" })")
            #expect(connected.count == Self.burst)
            #expect(server.connectionCount == 1, "the burst waits in the backlog")

            // The last one of the burst asks; once the others close it is served.
            let popped = connected.popLast()
            let last = try #require(popped)
            let asking = RawSocket(fd: last)
            try await asking.write(requestFrame(streamID: 1, method: "Echo", payload: [2]))
            held.close()
            for fd in connected { close(fd) }
            connected = []
            // The server accepts and drops the 999 before it: minutes on a loaded machine.
            #expect(try await asking.readFrame(timeout: .seconds(240)).responsePayload() == [2])
            asking.close()
        }
    }

    /// One non-blocking connect to `path`: the connected fd, or the errno.
    func nonBlockingConnect(_ path: String) -> Result<Int32, ConnectError> {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failure(ConnectError(code: errno)) }
        var address = unixAddress(path)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard result == 0 else {
            let code = errno
            close(fd)
            return .failure(ConnectError(code: code))
        }
        return .success(fd)
    }

    struct ConnectError: Error {
        var code: Int32
    }

    /// Raises the soft open-file limit toward the hard one when it is below
    /// `count`; requires the hard limit to allow `count`.
    func raiseOpenFileLimit(toAtLeast count: Int) throws {
        var limit = rlimit()
        try #require(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0)
        guard limit.rlim_cur != rlim_t.max, limit.rlim_cur < rlim_t(count) else { return }
        try #require(limit.rlim_max == rlim_t.max || limit.rlim_max >= rlim_t(count), "hard RLIMIT_NOFILE \(limit.rlim_max) < \(count)")
        limit.rlim_cur = limit.rlim_max
        try #require(setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0)
    }
}
