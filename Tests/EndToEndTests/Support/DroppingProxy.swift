import Foundation
import Glibc
import Synchronization

/// A Unix socket in front of the daemon's that relays ttrpc frames one
/// request and one answer at a time, and for the first `drops` requests
/// closes the client's connection once the daemon has answered, without
/// relaying the answer: the client sees its connection drop after its
/// request was done.
///
/// It serves one connection at a time, on a thread of its own (blocking
/// calls, never on Swift's cooperative pool). Unary calls only.
final class DroppingProxy: Sendable {
    let path: String
    private let upstream: String
    private let listener: Int32
    private let state: Mutex<State>

    private struct State {
        var dropsLeft: Int
        var forwarded = 0
        var dropped = 0
        var client: Int32 = -1
        var closed = false
    }

    /// Requests relayed to the daemon, and how many of their answers were dropped.
    var counts: [Int] { state.withLock { [$0.forwarded, $0.dropped] } }

    init(path: String, upstream: String, drops: Int) throws {
        self.path = path
        self.upstream = upstream
        state = Mutex(State(dropsLeft: drops))
        listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard listener >= 0 else { throw RawClient.Failure.system("socket", errno) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in pathBytes.prefix(raw.count - 1).enumerated() { raw[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(listener, 8) == 0 else {
            let error = errno
            Glibc.close(listener)
            throw RawClient.Failure.system("bind/listen", error)
        }
        let thread = Thread { [self] in serve() }
        thread.start()
    }

    /// Stops accepting and closes the connection being served.
    func close() {
        let client = state.withLock { state -> Int32 in
            state.closed = true
            return state.client
        }
        shutdown(listener, Int32(SHUT_RDWR))
        if client >= 0 { shutdown(client, Int32(SHUT_RDWR)) }
    }

    private func serve() {
        defer { Glibc.close(listener) }
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            let open = state.withLock { state -> Bool in
                state.client = client
                return !state.closed
            }
            if open { relay(client) }
            state.withLock { $0.client = -1 }
            Glibc.close(client)
        }
    }

    /// Relays requests and answers on one connection until either side ends it or an answer is dropped.
    private func relay(_ client: Int32) {
        guard let daemon = try? RawClient(path: upstream) else { return }
        defer { daemon.close() }
        while let request = Self.readFrame(client) {
            guard (try? daemon.send(request)) != nil,
                let answer = try? daemon.readFrame(until: .now + .seconds(120))
            else { return }
            let drop = state.withLock { state -> Bool in
                state.forwarded += 1
                guard state.dropsLeft > 0 else { return false }
                state.dropsLeft -= 1
                state.dropped += 1
                return true
            }
            if drop { return }
            let bytes = RawFrame.frame(streamID: answer.streamID, type: answer.type, data: answer.data)
            let sent = bytes.withUnsafeBytes { Glibc.send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent == bytes.count else { return }
        }
    }

    /// One whole frame (header and data) from `fd`, or nil at the end of the stream.
    private static func readFrame(_ fd: Int32) -> [UInt8]? {
        guard let header = read(fd, count: 10) else { return nil }
        let length = Int(header[0]) << 24 | Int(header[1]) << 16 | Int(header[2]) << 8 | Int(header[3])
        guard let data = read(fd, count: length) else { return nil }
        return header + data
    }

    private static func read(_ fd: Int32, count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            let received = bytes[offset...].withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if received < 0, errno == EINTR { continue }
            guard received > 0 else { return nil }
            offset += received
        }
        return bytes
    }
}
