import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A small HTTP/1.1 server on 127.0.0.1 that serves fixed routes: the sample
/// connector's connector.json and logo, and the misbehaving servers tests need.
public final class FixtureHTTPServer: Sendable {
    private let routes: Mutex<[String: FixtureRoute]>
    private let hits = Mutex<[String: Int]>([:])
    private let holds = Mutex(Holds())
    private let channel: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>

    /// The port it listens on.
    public let port: Int

    private init(
        routes: [String: FixtureRoute],
        channel: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>
    ) {
        self.routes = Mutex(routes)
        self.channel = channel
        self.port = channel.channel.localAddress?.port ?? 0
    }

    /// Runs `body` with a server listening on 127.0.0.1:`port` (0: any free
    /// port), and stops it afterwards.
    public static func with<Result: Sendable>(
        routes: [String: FixtureRoute],
        port: Int = 0,
        _ body: (FixtureHTTPServer) async throws -> Result
    ) async throws -> Result {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    // Closed on deinit if dropped unserved when the server stops
                    // (the non-deprecated initializer traps in that case).
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(
                        synchronouslyWrapping: channel)
                }
            }
        let server = FixtureHTTPServer(routes: routes, channel: channel)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.serve() }
            defer { group.cancelAll() }
            return try await body(server)
        }
    }

    /// The URL of `path` on this server.
    public func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    /// Replaces or adds a route.
    public func setRoute(_ path: String, _ route: FixtureRoute) {
        routes.withLock { $0[path] = route }
    }

    /// How many requests `path` has received.
    public func hitCount(_ path: String) -> Int { hits.withLock { $0[path] ?? 0 } }

    /// Holds the requests to `path` (counted, then unanswered) until
    /// `release(path)`: a fetch that stays in flight exactly as long as a test
    /// needs, whatever the speed of the machine.
    public func hold(_ path: String) {
        holds.withLock { _ = $0.held.insert(path) }
    }

    /// Answers the requests held on `path`, and later ones at once, with the
    /// route `path` has then.
    public func release(_ path: String) {
        let waiters = holds.withLock { holds in
            holds.held.remove(path)
            return holds.waiters.removeValue(forKey: path) ?? [:]
        }
        for waiter in waiters.values { waiter.resume() }
    }

    /// Waits while `path` is held (or until the task is cancelled).
    private func waitWhileHeld(_ path: String) async {
        let id = holds.withLock { holds in
            holds.nextID += 1
            return holds.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let waits = holds.withLock { holds in
                    guard holds.held.contains(path), !Task.isCancelled else { return false }
                    holds.waiters[path, default: [:]][id] = continuation
                    return true
                }
                if !waits { continuation.resume() }
            }
        } onCancel: {
            let waiter = holds.withLock { $0.waiters[path]?.removeValue(forKey: id) }
            waiter?.resume()
        }
    }

    private struct Holds {
        var held: Set<String> = []
        var waiters: [String: [Int: CheckedContinuation<Void, Never>]] = [:]
        var nextID = 0
    }

    private func serve() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            try await channel.executeThenClose { inbound in
                for try await connection in inbound {
                    group.addTask {
                        try? await connection.executeThenClose { requests, responses in
                            var path = ""
                            for try await part in requests {
                                switch part {
                                case .head(let head):
                                    path = String(head.uri.split(separator: "?", maxSplits: 1).first ?? "")
                                case .body:
                                    break
                                case .end:
                                    self.hits.withLock { $0[path, default: 0] += 1 }
                                    await self.waitWhileHeld(path)
                                    try Task.checkCancellation()
                                    let route = self.routes.withLock { $0[path] } ?? .respond(status: 404, body: Array("not found\n".utf8))
                                    try await self.answer(route, on: responses)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    private func answer(_ route: FixtureRoute, on responses: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>) async throws {
        func head(_ status: Int, _ headers: [String: String]) -> HTTPServerResponsePart {
            var fields = HTTPHeaders(headers.map { ($0.key, $0.value) })
            if !fields.contains(name: "connection") { fields.add(name: "Connection", value: "close") }
            return .head(HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status), headers: fields))
        }
        switch route {
        case .respond(let status, var headers, let body):
            headers["Content-Length"] = String(body.count)
            try await responses.write(head(status, headers))
            try await responses.write(.body(.byteBuffer(ByteBuffer(bytes: body))))
            try await responses.write(.end(nil))
        case .redirect(let location, let status):
            try await responses.write(head(status, ["Location": location, "Content-Length": "0"]))
            try await responses.write(.end(nil))
        case .drip(let chunks, let chunkSize, let interval):
            try await responses.write(head(200, ["Content-Type": "application/json"]))
            for _ in 0..<chunks {
                try await Task.sleep(for: interval)
                try await responses.write(.body(.byteBuffer(ByteBuffer(repeating: UInt8(ascii: " "), count: chunkSize))))
            }
            try await responses.write(.end(nil))
        case .large(let bytes, let declareLength):
            try await responses.write(head(200, declareLength ? ["Content-Length": String(bytes)] : [:]))
            let chunk = ByteBuffer(repeating: UInt8(ascii: "x"), count: 64 << 10)
            var sent = 0
            while sent < bytes {
                let size = min(chunk.readableBytes, bytes - sent)
                try await responses.write(.body(.byteBuffer(chunk.getSlice(at: 0, length: size)!)))
                sent += size
            }
            try await responses.write(.end(nil))
        case .hang:
            try await Task.sleep(for: .seconds(3600))
        }
    }
}
