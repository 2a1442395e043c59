import Foundation
import Glibc
import NIOCore
import Synchronization
import TTRPC
import TestSupport
import Testing

// Shared helpers for the transport tests: temporary socket directories, an
// in-process server harness, raw Glibc sockets (non-blocking, polled with
// Task.sleep so that no cooperative thread is ever blocked), hand-made frames,
// and small synchronization probes.

// MARK: - Paths

/// Creates a fresh directory under /tmp (short paths: sun_path is 108 bytes),
/// runs `body` with it, and removes it afterwards.
func withSocketDirectory<R>(_ body: (String) async throws -> R) async throws -> R {
    var template = Array("/tmp/ttrpc-XXXXXX".utf8CString)
    let directory = try template.withUnsafeMutableBufferPointer { buffer -> String in
        guard let result = mkdtemp(buffer.baseAddress!) else { throw SocketError.system("mkdtemp", errno) }
        return String(cString: result)
    }
    defer { try? FileManager.default.removeItem(atPath: directory) }
    return try await body(directory)
}

/// `withSocketDirectory`, handing over the path of a socket in it.
func withSocketPath<R>(_ name: String = "t.sock", _ body: (String) async throws -> R) async throws -> R {
    try await withSocketDirectory { directory in try await body("\(directory)/\(name)") }
}

// MARK: - Server harness

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Runs a `TTRPCServer` in a child task, waits until it listens, runs `body`,
/// then shuts the server down (graceful stop plus cancellation) and waits for
/// `run()` to return.
func withServer<R>(
    _ configuration: TTRPCServer.Configuration,
    router: Router,
    _ body: (TTRPCServer) async throws -> R
) async throws -> R {
    let server = TTRPCServer(configuration: configuration, router: router)
    let (listening, signal) = AsyncStream<Void>.makeStream()
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
            defer { signal.finish() }
            try await server.run(onListening: { signal.yield() })
        }
        var iterator = listening.makeAsyncIterator()
        guard await iterator.next() != nil else {
            try await group.next()
            throw HarnessError("the server returned before it was listening")
        }
        func stop() async {
            server.beginGracefulShutdown()
            group.cancelAll()
            while true {
                do { guard try await group.next() != nil else { break } } catch {}
            }
        }
        do {
            let result = try await body(server)
            await stop()
            return result
        } catch {
            await stop()
            throw error
        }
    }
}

/// `withServer` on a fresh socket path.
func withServer<R>(
    router: Router,
    configure: (inout TTRPCServer.Configuration) -> Void = { _ in },
    _ body: (TTRPCServer, String) async throws -> R
) async throws -> R {
    try await withSocketPath { path async throws in
        var configuration = TTRPCServer.Configuration(socketPath: path)
        configure(&configuration)
        return try await withServer(configuration, router: router) { server in try await body(server, path) }
    }
}

/// `withServer` plus a `TTRPCClient` connected to it, closed afterwards.
func withServerAndClient<R>(
    router: Router,
    configure: (inout TTRPCServer.Configuration) -> Void = { _ in },
    _ body: (TTRPCClient, String) async throws -> R
) async throws -> R {
    try await withServer(router: router, configure: configure) { _, path async throws in
        let client = TTRPCClient(socketPath: path)
        do {
            let result = try await body(client, path)
            await client.close()
            return result
        } catch {
            await client.close()
            throw error
        }
    }
}

// MARK: - Test service

/// The service the tests register.
enum TestService {
    static let name = "ttrpc.test.v1.Test"
}

extension Router {
    /// Registers a handler under `TestService.name`.
    mutating func test(_ method: String, _ handler: @escaping Router.Handler) {
        register(service: TestService.name, method: method, handler: handler)
    }

    /// A router with an `Echo` method.
    static var echo: Router {
        var router = Router()
        router.test("Echo") { payload, _ in payload }
        return router
    }
}

extension TTRPCClient {
    /// Calls a method of the test service with raw bytes.
    func callTest(
        _ method: String, _ payload: [UInt8] = [], metadata: Metadata = [:], timeout: Duration? = nil
    ) async throws -> [UInt8] {
        let output = try await call(
            service: TestService.name, method: method, payload: ByteBuffer(bytes: payload), metadata: metadata,
            timeout: timeout)
        return Array(output.readableBytesView)
    }
}

/// Runs `body` and returns the `RPCError` it throws, or nil if it succeeds.
/// Any other error is recorded as a test issue.
func rpcError(_ body: () async throws -> Void) async -> RPCError? {
    do {
        try await body()
        return nil
    } catch let error as RPCError {
        return error
    } catch {
        Issue.record("expected an RPCError, got \(error)")
        return nil
    }
}

/// Encodes a UInt32 as 4 big-endian bytes (test payloads).
func bytes(of value: UInt32) -> [UInt8] {
    [UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
}

/// Reads a big-endian UInt32 from the start of a payload (0 if too short).
func uint32(from buffer: ByteBuffer) -> UInt32 {
    buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) ?? 0
}

// MARK: - Hand-made frames

/// A frame as read from a raw socket.
struct RawFrame: Sendable, Hashable {
    var length: UInt32
    var streamID: UInt32
    var type: UInt8
    var flags: UInt8
    var data: [UInt8]

    /// The frame's data decoded as a `ttrpc.Response`.
    func response() throws -> ResponseEnvelope {
        try ResponseEnvelope(decoding: ByteBuffer(bytes: data))
    }

    /// The response's error, or nil on success.
    func responseError() throws -> RPCError? {
        if case .failure(let error) = try response().result { return error }
        return nil
    }

    /// The response's payload, or nil on an error status.
    func responsePayload() throws -> [UInt8]? {
        if case .success(let payload) = try response().result { return Array(payload.readableBytesView) }
        return nil
    }
}

/// A frame built by hand: 10-byte big-endian header, then `data`. `length`
/// overrides the header's length field.
func rawFrame(streamID: UInt32, type: UInt8 = 1, flags: UInt8 = 0, length: UInt32? = nil, data: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(Frame.headerSize + data.count)
    out += bytes(of: length ?? UInt32(data.count))
    out += bytes(of: streamID)
    out.append(type)
    out.append(flags)
    out += data
    return out
}

/// An encoded `ttrpc.Request`.
func requestEnvelope(
    service: String = TestService.name, method: String, payload: [UInt8] = [], timeoutNanoseconds: Int64 = 0,
    metadata: Metadata = [:]
) -> [UInt8] {
    var buffer = ByteBuffer()
    RequestEnvelope(
        service: service, method: method, payload: ByteBuffer(bytes: payload), timeoutNanoseconds: timeoutNanoseconds,
        metadata: metadata
    ).encode(into: &buffer)
    return Array(buffer.readableBytesView)
}

/// A request frame for the test service.
func requestFrame(
    streamID: UInt32, service: String = TestService.name, method: String, payload: [UInt8] = [],
    timeoutNanoseconds: Int64 = 0
) -> [UInt8] {
    rawFrame(
        streamID: streamID, type: 1,
        data: requestEnvelope(service: service, method: method, payload: payload, timeoutNanoseconds: timeoutNanoseconds))
}

// MARK: - Raw sockets

enum SocketError: Error, CustomStringConvertible {
    case system(String, Int32)
    case timedOut(String)
    case closedByPeer

    var description: String {
        switch self {
        case .system(let call, let code): "\(call): \(String(cString: strerror(code)))"
        case .timedOut(let what): "timed out: \(what)"
        case .closedByPeer: "closed by peer"
        }
    }

    var errnoCode: Int32? {
        if case .system(_, let code) = self { return code }
        return nil
    }
}

func unixAddress(_ path: String) -> sockaddr_un {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    precondition(bytes.count < MemoryLayout.size(ofValue: address.sun_path), "socket path too long: \(path)")
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        raw.copyBytes(from: bytes)
        raw[bytes.count] = 0
    }
    return address
}

private func makeNonBlocking(_ fd: Int32) {
    let flags = fcntl(fd, F_GETFL)
    _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
}

private func isRetryable(_ code: Int32) -> Bool {
    code == EAGAIN || code == EWOULDBLOCK || code == EINTR
}

/// A connected client-side Unix socket driven by hand. Not thread-safe: use it
/// from one task.
final class RawSocket: @unchecked Sendable {
    let fd: Int32
    private var inbox: [UInt8] = []
    private var isClosed = false

    init(fd: Int32) {
        self.fd = fd
        makeNonBlocking(fd)
    }

    /// Connects to `path` (Unix connects complete at once).
    static func connect(_ path: String) throws(SocketError) -> RawSocket {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .system("socket", errno) }
        var address = unixAddress(path)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard result == 0 else {
            let code = errno
            Glibc.close(fd)
            throw .system("connect", code)
        }
        return RawSocket(fd: fd)
    }

    deinit { close() }

    func close() {
        guard !isClosed else { return }
        isClosed = true
        Glibc.close(fd)
    }

    /// Writes every byte, waiting (asynchronously) while the socket is full.
    func write(_ bytes: [UInt8], timeout: Duration = .seconds(120)) async throws {
        let deadline = ContinuousClock.now + timeout
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { raw in
                send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            }
            if written > 0 {
                offset += written
                continue
            }
            let code = errno
            guard written < 0, isRetryable(code) else { throw SocketError.system("send", code) }
            guard ContinuousClock.now < deadline else { throw SocketError.timedOut("write of \(bytes.count) bytes") }
            try await Task.sleep(for: .milliseconds(1))
        }
    }

    /// Reads whatever is available into the inbox; returns false at end of stream.
    private func fill() throws(SocketError) -> Bool? {
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
        if count > 0 {
            inbox += chunk[..<count]
            return true
        }
        if count == 0 { return false }
        let code = errno
        guard isRetryable(code) else { throw .system("recv", code) }
        return nil
    }

    /// Reads exactly `count` bytes.
    func read(count: Int, timeout: Duration = .seconds(120)) async throws -> [UInt8] {
        let deadline = ContinuousClock.now + timeout
        while inbox.count < count {
            switch try fill() {
            case true?: continue
            case false?: throw SocketError.closedByPeer
            case nil:
                guard ContinuousClock.now < deadline else { throw SocketError.timedOut("read of \(count) bytes") }
                try await Task.sleep(for: .milliseconds(2))
            }
        }
        let result = Array(inbox[..<count])
        inbox.removeFirst(count)
        return result
    }

    /// Reads one frame.
    func readFrame(timeout: Duration = .seconds(120)) async throws -> RawFrame {
        let deadline = ContinuousClock.now + timeout
        let header = try await read(count: Frame.headerSize, timeout: timeout)
        func u32(_ offset: Int) -> UInt32 {
            header[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
        }
        let length = u32(0)
        let data = try await read(count: Int(length), timeout: max(deadline - .now, .milliseconds(1)))
        return RawFrame(length: length, streamID: u32(4), type: header[8], flags: header[9], data: data)
    }

    /// Whether anything arrives within `timeout` (consumed into the inbox).
    func hasData(within timeout: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while inbox.isEmpty {
            switch try fill() {
            case true?: return true
            case false?: throw SocketError.closedByPeer
            case nil:
                guard ContinuousClock.now < deadline else { return false }
                try await Task.sleep(for: .milliseconds(2))
            }
        }
        return true
    }

    /// Waits until the peer closes the connection (end of stream or reset);
    /// false on timeout. Data that arrives meanwhile is kept in the inbox.
    func waitForEndOfStream(timeout: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while true {
            do {
                switch try fill() {
                case true?: continue
                case false?: return true
                case nil: break
                }
            } catch {
                return true
            }
            guard ContinuousClock.now < deadline else { return false }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}

/// A listening Unix socket driven by hand (a peer that misbehaves on purpose).
final class RawListener: @unchecked Sendable {
    let fd: Int32
    let path: String
    private var isClosed = false

    init(path: String) throws(SocketError) {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .system("socket", errno) }
        var address = unixAddress(path)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else {
            let code = errno
            Glibc.close(fd)
            throw .system("bind", code)
        }
        guard listen(fd, 16) == 0 else {
            let code = errno
            Glibc.close(fd)
            throw .system("listen", code)
        }
        makeNonBlocking(fd)
    }

    deinit { close() }

    /// Closes the listening socket; the socket file stays behind (stale).
    func close() {
        guard !isClosed else { return }
        isClosed = true
        Glibc.close(fd)
    }

    func accept(timeout: Duration = .seconds(120)) async throws -> RawSocket {
        let deadline = ContinuousClock.now + timeout
        while true {
            let connection = Glibc.accept(fd, nil, nil)
            if connection >= 0 { return RawSocket(fd: connection) }
            let code = errno
            guard isRetryable(code) else { throw SocketError.system("accept", code) }
            guard ContinuousClock.now < deadline else { throw SocketError.timedOut("accept") }
            try await Task.sleep(for: .milliseconds(2))
        }
    }
}

/// Creates a socket file at `path` with nothing listening on it: bound, then closed.
func makeStaleSocket(at path: String) throws {
    let listener = try RawListener(path: path)
    listener.close()
}

// MARK: - Probes

/// A gate handlers wait at until the test opens it. Waiting is cancellable.
final class Gate: Sendable {
    private struct State {
        var isOpen = false
        var nextID = 0
        var waiters: [Int: CheckedContinuation<Void, any Error>] = [:]
    }

    private let state = Mutex(State())

    init() {}

    func open() {
        let waiters = state.withLock { state in
            state.isOpen = true
            let waiters = Array(state.waiters.values)
            state.waiters = [:]
            return waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async throws {
        let id: Int? = state.withLock { state in
            if state.isOpen { return nil }
            state.nextID += 1
            return state.nextID
        }
        guard let id else { return }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let immediate: Result<Void, any Error>? = state.withLock { state in
                    if state.isOpen { return .success(()) }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    state.waiters[id] = continuation
                    return nil
                }
                if let immediate { continuation.resume(with: immediate) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume(throwing: CancellationError())
        }
    }
}


extension RandomNumberGenerator {
    mutating func bytes(count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &self) }
    }
}

// MARK: - A server the test stops by hand

/// A server running in an unstructured task, for tests that stop it midway.
final class ServerHandle: Sendable {
    let server: TTRPCServer
    private let task: Task<Void, any Error>
    private let returned: Locked<Bool>

    private init(server: TTRPCServer, task: Task<Void, any Error>, returned: Locked<Bool>) {
        self.server = server
        self.task = task
        self.returned = returned
    }

    /// Starts `server` and waits until it listens.
    static func start(_ configuration: TTRPCServer.Configuration, router: Router) async throws -> ServerHandle {
        let server = TTRPCServer(configuration: configuration, router: router)
        let (listening, signal) = AsyncStream<Void>.makeStream()
        let returned = Locked(false)
        let task = Task {
            defer {
                returned.withLock { $0 = true }
                signal.finish()
            }
            try await server.run(onListening: { signal.yield() })
        }
        var iterator = listening.makeAsyncIterator()
        guard await iterator.next() != nil else {
            try await task.value
            throw HarnessError("the server returned before it was listening")
        }
        return ServerHandle(server: server, task: task, returned: returned)
    }

    /// Whether `run()` has returned.
    var hasReturned: Bool { returned.value }

    /// Waits for `run()` to return; its result.
    func result() async -> Result<Void, any Error> { await task.result }

    /// Stops the server at once: graceful stop, then cancellation.
    func stop() async {
        server.beginGracefulShutdown()
        task.cancel()
        _ = await task.result
    }
}

/// Whether `path` exists (without following a symbolic link).
func fileExists(_ path: String) -> Bool {
    var info = stat()
    return lstat(path, &info) == 0
}

/// Whether a listening Unix socket is bound under `directory`, from
/// /proc/net/unix (flag __SO_ACCEPTCON). The server binds a staging name in
/// the directory and renames it, so the kernel knows it by that name.
func hasListeningSocket(inDirectory directory: String) -> Bool {
    // procfs files report size 0: read until end of file.
    let fd = open("/proc/net/unix", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var contents: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 16 << 10)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
        guard count > 0 else { break }
        contents += chunk[..<count]
    }
    let table = String(decoding: contents, as: UTF8.self)
    let prefix = directory.hasSuffix("/") ? directory : directory + "/"
    for line in table.split(separator: "\n").dropFirst() {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count >= 8, fields[7].hasPrefix(prefix) else { continue }
        if fields[3] == "00010000" { return true }
    }
    return false
}
