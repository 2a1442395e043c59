import ConnectorAPI
import ConnectorClient
import ConnectorRegistry
import ConnectorServer
import Foundation
import Glibc
import Logging
import NIOCore
import NIOPosix
import SampleConnectorKit
import TTRPC
import TestSupport
import Testing

// Shared helpers for the server tests: short temporary directories, an
// in-process daemon on a real Unix socket, error expectations, raw datagram
// sockets for the systemd notify protocol.

// MARK: - Paths

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A fresh directory under /tmp with a short path (sun_path is 108 bytes).
struct TempDirectory: Sendable {
    let path: String

    static func make() throws -> TempDirectory {
        var template = Array("/tmp/cs.XXXXXX".utf8CString)
        let path = try template.withUnsafeMutableBufferPointer { buffer -> String in
            guard let result = mkdtemp(buffer.baseAddress!) else {
                throw HarnessError("mkdtemp: \(String(cString: strerror(errno)))")
            }
            return String(cString: result)
        }
        return TempDirectory(path: path)
    }

    /// `path/name`.
    func callAsFunction(_ name: String) -> String { path + "/" + name }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Runs `body` with a fresh temporary directory, removed afterwards.
func withTempDirectory<R>(_ body: (TempDirectory) async throws -> R) async throws -> R {
    let directory = try TempDirectory.make()
    defer { directory.remove() }
    return try await body(directory)
}

/// Whether anything exists at `path` (without following a final symlink).
func fileExists(_ path: String) -> Bool {
    var info = stat()
    return lstat(path, &info) == 0
}

/// The permission bits of `path`.
func permissions(_ path: String) -> UInt32? {
    var info = stat()
    guard lstat(path, &info) == 0 else { return nil }
    return UInt32(info.st_mode & 0o7777)
}

// MARK: - Daemon harness

extension Logger {
    /// A logger that drops everything (keeps test output readable).
    static let quiet = Logger(label: "connectord.tests", factory: { _ in SwiftLogNoOpLogHandler() })
}

/// The configuration the tests use: a socket and a data directory inside
/// `directory`, short fetch bounds and a short grace period.
func testConfiguration(in directory: TempDirectory, socket: String = "d.sock", data: String = "data") -> DaemonConfiguration {
    var configuration = DaemonConfiguration(socketPath: directory(socket), dataDirectory: directory(data))
    var limits = FetchLimits()
    limits.connectTimeout = .seconds(30)
    limits.totalTimeout = .seconds(120)
    configuration.fetchLimits = limits
    configuration.shutdownGracePeriod = .seconds(3)
    return configuration
}

/// A running daemon and a client connected to it.
struct RunningDaemon: Sendable {
    let daemon: ConnectorDaemon
    let client: ConnectorClient
    var configuration: DaemonConfiguration { daemon.configuration }
    var socketPath: String { daemon.configuration.socketPath }
}

/// Starts `ConnectorDaemon` on `configuration` in a child task, waits until it
/// listens, runs `body` with it and a `ConnectorClient`, then stops the daemon
/// with `stop()`, waits for `run()` to return and checks the socket file is gone.
func withDaemon<R>(
    _ configuration: DaemonConfiguration,
    environment: [String: String] = [:],
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: (RunningDaemon) async throws -> R
) async throws -> R {
    try await ConnectorDaemon.withDaemon(configuration: configuration, environment: environment, logger: .quiet) { daemon in
        try await serve(daemon, sourceLocation: sourceLocation, body)
    }
}

/// `withDaemon` on a fresh temporary directory.
func withDaemon<R>(
    configure: (inout DaemonConfiguration) -> Void = { _ in },
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: (RunningDaemon, TempDirectory) async throws -> R
) async throws -> R {
    try await withTempDirectory { directory in
        var configuration = testConfiguration(in: directory)
        configure(&configuration)
        return try await withDaemon(configuration, sourceLocation: sourceLocation) { running in
            try await body(running, directory)
        }
    }
}

/// Runs an already created daemon as in `withDaemon`.
func serve<R>(
    _ daemon: ConnectorDaemon,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: (RunningDaemon) async throws -> R
) async throws -> R {
    let (listening, signal) = AsyncStream<Void>.makeStream()
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
            defer { signal.finish() }
            try await daemon.run(onListening: { signal.yield() })
        }
        var iterator = listening.makeAsyncIterator()
        guard await iterator.next() != nil else {
            try await group.next()
            throw HarnessError("the daemon's run() returned before it was listening")
        }
        let client = ConnectorClient(socketPath: daemon.configuration.socketPath)
        let running = RunningDaemon(daemon: daemon, client: client)
        let result: Result<R, any Error>
        do {
            result = .success(try await body(running))
        } catch {
            result = .failure(error)
        }
        await client.close()
        daemon.stop()
        // run() returns after a graceful stop (also a run() that threw).
        do {
            try await group.waitForAll()
        } catch {
            if case .success = result { throw error }
        }
        #expect(!fileExists(daemon.configuration.socketPath), "the socket file is removed", sourceLocation: sourceLocation)
        return try result.get()
    }
}

// MARK: - Errors

/// Runs `body` and returns the `RPCError` it throws; records an issue if it
/// succeeds or if the code (and, when given, the exact message) differ.
@discardableResult
func expectRPCError<T>(
    _ code: RPCError.Code,
    _ message: String? = nil,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> T
) async -> RPCError? {
    do {
        let value = try await body()
        Issue.record("expected \(code) but the call succeeded: \(value)", sourceLocation: sourceLocation)
        return nil
    } catch let error as RPCError {
        #expect(error.code == code, "message: \(error.message)", sourceLocation: sourceLocation)
        if let message {
            #expect(error.message == message, sourceLocation: sourceLocation)
        }
        return error
    } catch {
        Issue.record("expected an RPCError \(code), got \(type(of: error)): \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// Runs `body`, keeping its result or its error.
func capture<T>(_ body: () async throws -> T) async -> Result<T, RPCError> {
    do {
        return .success(try await body())
    } catch let error as RPCError {
        return .failure(error)
    } catch {
        return .failure(RPCError(code: .unknown, message: "not an RPCError: \(error)"))
    }
}

// MARK: - Wire helpers

/// RFC 3339, UTC, with microseconds and a `Z`, e.g. `2025-10-13T20:00:00.000000Z`.
func isRFC3339Micros(_ text: String) -> Bool {
    text.wholeMatch(of: #/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z/#) != nil
}

extension ConnectorsV1.Connector {
    /// Every String-valued field, by name (found by reflection, so fields added
    /// later are covered too).
    var stringFields: [(name: String, value: String)] {
        Mirror(reflecting: self).children.compactMap { child in
            guard let name = child.label, let value = child.value as? String else { return nil }
            return (name, value)
        }
    }
}

/// Parses JSON text.
func parseJSON(_ text: String) throws -> Any {
    try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
}

/// The `name` of every object of a JSON array text.
func names(inJSONArray text: String) throws -> [String] {
    let array = try #require(try parseJSON(text) as? [[String: Any]])
    return array.map { ($0["name"] as? String) ?? "<none>" }
}

/// Whether `haystack` contains `needle` as a contiguous byte sequence.
func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
    guard !needle.isEmpty else { return true }
    guard haystack.count >= needle.count else { return false }
    for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
        if haystack[start..<start + needle.count].elementsEqual(needle) { return true }
    }
    return false
}

/// Encodes a message into a ByteBuffer.
func byteBuffer<M: ProtoMessage>(_ message: M) -> ByteBuffer {
    ByteBuffer(bytes: message.serializedBytes())
}


// MARK: - Datagram sockets (systemd notify)

/// A bound, non-blocking AF_UNIX datagram socket: stands in for systemd's
/// notify socket.
final class DatagramReceiver: @unchecked Sendable {
    let fd: Int32
    /// The address to put in NOTIFY_SOCKET (a path, or `@name` for the abstract namespace).
    let address: String

    init(address: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket: \(String(cString: strerror(errno)))") }
        self.address = address
        var sockaddr = sockaddr_un()
        sockaddr.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(address.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }
        guard bytes.count < MemoryLayout.size(ofValue: sockaddr.sun_path) else {
            close(fd)
            throw HarnessError("address too long: \(address)")
        }
        withUnsafeMutableBytes(of: &sockaddr.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (bytes.first == 0 ? 0 : 1))
        let result = withUnsafePointer(to: &sockaddr) {
            $0.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard result == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw HarnessError("bind \(address): \(reason)")
        }
    }

    deinit { close(fd) }

    /// One datagram if one is waiting.
    func receiveNow() -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
        guard count > 0 else { return nil }
        return String(decoding: buffer.prefix(count), as: UTF8.self)
    }

    /// The next datagram, polling (never blocking a thread) for at most `timeout`.
    func receive(timeout: Duration = .seconds(120)) async throws -> String? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let message = receiveNow() { return message }
            try await Task.sleep(for: .milliseconds(10))
        }
        return receiveNow()
    }
}
