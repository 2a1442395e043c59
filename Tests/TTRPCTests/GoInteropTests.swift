import ConnectorAPI
import Foundation
import Glibc
import NIOCore
import Synchronization
import TTRPC
import TestSupport
import Testing

/// Interoperability with the reference Go ttrpc (containerd/ttrpc 1.1.1, as
/// Debian ships it), built from Tests/Interop by Tests/Interop/build.sh:
///
/// - the Go `interop-client` calls our `TTRPCServer` (one scenario per run,
///   one JSON line of outcome);
/// - our `TTRPCClient` calls the Go `interop-server`.
///
/// Skipped only when `go` is not installed.
@Suite(.enabled(if: GoInterop.goIsInstalled, "go is not installed (Debian: golang-go)"), .timeLimit(.minutes(5)))
struct GoInteropTests {
    // MARK: Go client -> Swift server

    @Test func goClientGetsWithMetadata() async throws {
        let (outcome, record) = try await GoInterop.runGoClient(scenario: "get")
        #expect(outcome.ok == true)
        #expect(outcome.id == 42)
        #expect(outcome.name == "swift-42")
        #expect(outcome.description == "hello")
        #expect(outcome.code == nil)
        #expect(record.metadata["x-test"] == ["hello"])
        #expect(record.calls == 1)
    }

    @Test func goClientUnknownService() async throws {
        let (outcome, record) = try await GoInterop.runGoClient(scenario: "unknown-service")
        #expect(outcome.code == RPCError.Code.unimplemented.rawValue)
        #expect(outcome.message == "service connectors.v1.NoSuchService")
        #expect(outcome.local == nil)
        #expect(record.calls == 0)
    }

    @Test func goClientUnknownMethod() async throws {
        let (outcome, record) = try await GoInterop.runGoClient(scenario: "unknown-method")
        #expect(outcome.code == RPCError.Code.unimplemented.rawValue)
        #expect(outcome.message == "method NoSuchMethod")
        #expect(outcome.local == nil)
        #expect(record.calls == 0)
    }

    @Test func goClientNotFound() async throws {
        let (outcome, _) = try await GoInterop.runGoClient(scenario: "not-found")
        #expect(outcome.code == RPCError.Code.notFound.rawValue)
        #expect(outcome.message == "Connector with ID 0 not found")
        #expect(outcome.local == nil)
    }

    /// The Go client sends timeout_nano from its 2 s context deadline and
    /// gives up by itself at that deadline too: whichever comes first, the
    /// outcome is DEADLINE_EXCEEDED, and our handler (5 s) must see the
    /// deadline and be cancelled. On a machine so loaded that the call reaches
    /// the server after its deadline, the server answers without running the
    /// handler at all; either way no handler runs on past it.
    @Test func goClientDeadline() async throws {
        let (outcome, record) = try await GoInterop.runGoClient(scenario: "deadline")
        #expect(outcome.code == RPCError.Code.deadlineExceeded.rawValue)
        #expect(record.calls <= 1)
        #expect(record.deadlines.count == record.calls, "every call that reached the handler carried its deadline")
        if let deadline = record.deadlines.first {
            // What is left when the handler starts: at most the 2 s sent, less under load.
            #expect(deadline <= .seconds(2))
        }
        #expect(record.slowCallsCancelled == record.calls, "the handler ran on past the deadline")
    }

    /// timeout_nano of 200 ms while the Go client waits 5 s: the
    /// DEADLINE_EXCEEDED must be our server's answer.
    @Test func goClientServerSideDeadline() async throws {
        let (outcome, record) = try await GoInterop.runGoClient(scenario: "server-deadline")
        #expect(outcome.code == RPCError.Code.deadlineExceeded.rawValue)
        #expect(outcome.local == nil, "the answer should be the server's status, not the Go client's own timeout")
        #expect((outcome.elapsedMS ?? .max) >= 150)
        #expect(record.slowCallsCancelled == 1)
    }

    /// A negative timeout_nano, as a Go client sends when its deadline passed
    /// before the request went out: the reference server treats it as an
    /// already expired deadline (context.WithTimeout with a negative duration).
    /// Ours must answer DEADLINE_EXCEEDED at once too.
    @Test func goClientExpiredDeadline() async throws {
        let (outcome, _) = try await GoInterop.runGoClient(scenario: "expired-deadline")
        #expect(outcome.local == nil)
        #expect(outcome.code == RPCError.Code.deadlineExceeded.rawValue)
    }

    /// An empty output message: a response frame with no data, which the Go
    /// client decodes as an empty GetResponse.
    @Test func goClientEmptyResponse() async throws {
        let (outcome, record) = try await GoInterop.runGoClient(scenario: "empty-response")
        #expect(outcome.ok == true)
        #expect(outcome.hasConnector == false)
        #expect(outcome.code == nil)
        #expect(record.calls == 1)
    }

    /// The Go 1.1.1 client sends a request frame over 4 MiB without checking:
    /// we must skip it, answer RESOURCE_EXHAUSTED with the reference wording on
    /// its stream, and keep serving the connection.
    @Test func goClientOversizedRequest() async throws {
        let (outcome, record) = try await GoInterop.runGoClient(scenario: "oversized")
        #expect(outcome.code == RPCError.Code.resourceExhausted.rawValue)
        #expect(outcome.local == nil)
        let message = outcome.message ?? ""
        #expect(message.hasPrefix("message length 52429"), "\(message)")
        #expect(message.hasSuffix(" exceed maximum message size of 4194304"), "\(message)")
        #expect(outcome.after?.ok == true)
        #expect(outcome.after?.id == 5)
        #expect(outcome.after?.name == "swift-5")
        #expect(record.calls == 1)
    }

    /// 100 calls in flight on one connection; id 7 among them is slow (5 s),
    /// so it must be the last answer: the others are not held behind it.
    @Test func goClientConcurrentCalls() async throws {
        let (outcome, record) = try await GoInterop.runGoClient(scenario: "concurrent")
        #expect(outcome.ok == true)
        #expect(outcome.count == 100)
        #expect(outcome.failures == [])
        #expect(outcome.last == 7)
        #expect(record.calls == 100)
    }

    @Test func goClientBadPayload() async throws {
        let (outcome, record) = try await GoInterop.runGoClient(scenario: "bad-payload")
        #expect(outcome.code == RPCError.Code.invalidArgument.rawValue)
        #expect(outcome.message?.hasPrefix("payload is not a GetRequest") == true)
        #expect(outcome.local == nil)
        #expect(record.calls == 1)
    }

    // MARK: Go client -> connectord

    /// The Go 1.1.1 client, which has no streams, follows the registry with
    /// ListChanges against the built connectord: the changes from revision
    /// 1, then a long poll that the next change ends.
    @Test(.enabled(if: GoInterop.connectordBinary != nil, "connectord is not built"))
    func goClientFollowsTheRegistryWithListChanges() async throws {
        let outcome = try await GoInterop.runGoClientAgainstDaemon(scenario: "list-changes")
        #expect(outcome.ok == true, "\(outcome.code ?? 0): \(outcome.message ?? "")")
        let events = try #require(outcome.events)
        #expect(events.map(\.revision) == [1, 2])
        #expect(events.map(\.kind) == [ConnectorsV1.EventKind.registered.rawValue, ConnectorsV1.EventKind.registered.rawValue])
        #expect(events.map(\.kindName) == ["EVENT_KIND_REGISTERED", "EVENT_KIND_REGISTERED"])
        #expect(events.map(\.name) == ["go_first", "go_second"])
        #expect(events.map(\.connectorID) == [1, 2])
        #expect(outcome.nextRevision == 3)
        #expect(outcome.polled?.map(\.revision) == [3])
        #expect(outcome.polled?.map(\.name) == ["go_third"])
        #expect(outcome.polledNext == 4)
    }

    // MARK: Swift client -> Go server

    @Test func swiftClientCallsGoServer() async throws {
        try await GoInterop.withGoServer { socketPath in
            try await withTTRPCClient(socketPath: socketPath) { client in
                // Get with metadata: the Go server echoes "x-test" as the description.
                let response = try await client.get(42, metadata: ["x-test": "hello"])
                #expect(response.connector.id == 42)
                #expect(response.connector.name == "go-42")
                #expect(response.connector.description == "hello")

                // NOT_FOUND; GetRequest{0} encodes as an empty payload.
                await #expect(throws: RPCError(code: .notFound, message: "Connector with ID 0 not found")) {
                    try await client.get(0)
                }

                // A registered method the Go server does not implement.
                await #expect(throws: RPCError(code: .unimplemented, message: "List is not implemented by interop-server")) {
                    try await client.call(
                        service: ConnectorsV1.serviceName, method: "List",
                        payload: ByteBuffer(bytes: ConnectorsV1.ListRequest().serializedBytes()))
                }

                // The reference wording for unknown services and methods.
                await #expect(throws: RPCError(code: .unimplemented, message: "service connectors.v1.NoSuchService")) {
                    try await client.call(service: "connectors.v1.NoSuchService", method: "Get", payload: ByteBuffer())
                }
                await #expect(throws: RPCError(code: .unimplemented, message: "method NoSuchMethod")) {
                    try await client.call(service: ConnectorsV1.serviceName, method: "NoSuchMethod", payload: ByteBuffer())
                }

                // A payload that does not decode: the reference answers INTERNAL.
                do {
                    _ = try await client.call(
                        service: ConnectorsV1.serviceName, method: "Get", payload: ByteBuffer(bytes: [0xff, 0xff]))
                    Issue.record("a payload of ff ff should not decode as a GetRequest")
                } catch let error as RPCError {
                    #expect(error.code == .internal)
                    #expect(error.message.hasPrefix("ttrpc: error unmarshalling payload"))
                }

                // An empty GetResponse from Go: a response frame with no data.
                #expect(try await client.get(1000) == ConnectorsV1.GetResponse())

                // Still usable after all those errors.
                #expect(try await client.get(43).connector.name == "go-43")
            }
        }
    }

    /// The Go server derives its context deadline from our timeout_nano and
    /// fails the slow call with DEADLINE_EXCEEDED; our client's own timer
    /// gives the same code. Either way, well before the Go server's 5 s.
    @Test func swiftClientDeadlineAgainstGoServer() async throws {
        try await GoInterop.withGoServer { socketPath in
            try await withTTRPCClient(socketPath: socketPath) { client in
                do {
                    _ = try await client.get(7, timeout: .milliseconds(200))
                    Issue.record("the slow call should not succeed")
                } catch let error as RPCError {
                    #expect(error.code == .deadlineExceeded)
                }
                // The connection is still good.
                #expect(try await client.get(8).connector.name == "go-8")
            }
        }
    }

    /// 100 calls in flight on one connection; id 7 among them is slow on the
    /// Go server (5 s), so its answer must come last.
    /// A request frame over 4 MiB (our client's own limit raised to let it
    /// out): the Go server discards it and answers RESOURCE_EXHAUSTED on its
    /// stream; the connection stays usable.
    @Test func swiftClientOversizedRequestToGoServer() async throws {
        try await GoInterop.withGoServer { socketPath in
            let client = TTRPCClient(socketPath: socketPath, maximumFrameSize: 8 << 20)
            do {
                _ = try await client.call(
                    service: ConnectorsV1.serviceName, method: "Get", payload: ByteBuffer(repeating: 0, count: 5 << 20))
                Issue.record("a 5 MiB request should be refused")
            } catch let error as RPCError {
                #expect(error.code == .resourceExhausted)
                #expect(error.message.hasPrefix("message length 52429"), "\(error.message)")
                #expect(error.message.hasSuffix(" exceed maximum message size of 4194304"), "\(error.message)")
            }
            let response = try await client.get(5)
            #expect(response.connector.name == "go-5")
            await client.close()
        }
    }

    @Test func swiftClientConcurrentCallsToGoServer() async throws {
        try await GoInterop.withGoServer { socketPath in
            try await withTTRPCClient(socketPath: socketPath) { client in
                var order: [UInt64] = []
                let answers = try await withThrowingTaskGroup(of: (UInt64, ConnectorsV1.Connector).self) { group in
                    for id in UInt64(1)...100 {
                        group.addTask { (id, try await client.get(id).connector) }
                    }
                    var answers: [UInt64: ConnectorsV1.Connector] = [:]
                    for try await (id, connector) in group {
                        order.append(id)
                        answers[id] = connector
                    }
                    return answers
                }
                #expect(answers.count == 100)
                #expect(order.last == 7)
                for (id, connector) in answers {
                    #expect(connector.id == id)
                    #expect(connector.name == "go-\(id)")
                }
            }
        }
    }
}

// MARK: - Helpers

extension TTRPCClient {
    fileprivate func get(_ id: UInt64, metadata: Metadata = [:], timeout: Duration? = nil) async throws -> ConnectorsV1.GetResponse {
        let output = try await call(
            service: ConnectorsV1.serviceName, method: ConnectorsV1.Method.get.rawValue,
            payload: ByteBuffer(bytes: ConnectorsV1.GetRequest(connectorID: id).serializedBytes()),
            metadata: metadata, timeout: timeout)
        return try ConnectorsV1.GetResponse(serializedBytes: Array(output.readableBytesView))
    }
}

/// The JSON line `interop-client` prints.
private struct GoClientOutcome: Decodable, Sendable {
    var scenario: String
    var ok: Bool?
    var id: UInt64?
    var name: String?
    var description: String?
    var code: Int32?
    var message: String?
    /// Set when the error came from the Go client itself, not from a status sent by the server.
    var local: Bool?
    var count: Int?
    var failures: [String]?
    /// The id of the last answer to arrive (concurrent).
    var last: UInt64?
    var elapsedMS: Int?
    /// Whether the GetResponse had a connector (empty-response).
    var hasConnector: Bool?
    /// The answer to the call made after the scenario's (oversized).
    var after: GoClientAnswer?
    /// ListChanges from revision 1, its next revision, and what the long poll after it got (list-changes).
    var events: [GoChangeEvent]?
    var nextRevision: UInt64?
    var polled: [GoChangeEvent]?
    var polledNext: UInt64?

    enum CodingKeys: String, CodingKey {
        case scenario, ok, id, name, description, code, message, local, count, failures, last, after, events, polled
        case elapsedMS = "elapsed_ms"
        case hasConnector = "has_connector"
        case nextRevision = "next_revision"
        case polledNext = "polled_next"
    }
}

/// A ListChanges event as the Go client describes it.
private struct GoChangeEvent: Decodable, Sendable {
    var revision: UInt64
    var kind: Int32
    var kindName: String
    var connectorID: UInt64
    var name: String

    enum CodingKeys: String, CodingKey {
        case revision, kind, name
        case kindName = "kind_name"
        case connectorID = "connector_id"
    }
}

/// One answer inside an outcome.
private struct GoClientAnswer: Decodable, Sendable {
    var ok: Bool?
    var id: UInt64?
    var name: String?
    var code: Int32?
    var message: String?
}

/// What the in-process server's Get handler saw.
private final class Recorder: Sendable {
    let state = Mutex(HandlerRecord())
}

private struct HandlerRecord: Sendable {
    var calls = 0
    var metadata = Metadata()
    /// Time left until each call's deadline, as the handler saw it on entry.
    var deadlines: [Duration] = []
    var slowCallsCancelled = 0
}

private enum GoInterop {
    static let interopDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // TTRPCTests
        .deletingLastPathComponent()  // Tests
        .appendingPathComponent("Interop")

    static let goIsInstalled: Bool = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        return path.split(separator: ":").contains { directory in
            FileManager.default.isExecutableFile(atPath: "\(directory)/go")
        }
    }()

    /// Runs build.sh once for the whole test run; every test awaits it.
    private static let build = Task<Result<URL, BuildFailure>, Never> {
        do {
            let result = try await ChildProcess.run(
                "/bin/sh", [interopDirectory.appendingPathComponent("build.sh").path], timeout: .seconds(600))
            guard result.status == 0 else {
                return .failure(BuildFailure(description: "build.sh exited \(result.status):\n\(result.stdout)\(result.stderr)"))
            }
            return .success(interopDirectory.appendingPathComponent("bin"))
        } catch {
            return .failure(BuildFailure(description: "cannot run build.sh: \(error)"))
        }
    }

    struct BuildFailure: Error, CustomStringConvertible {
        var description: String
    }

    static func binary(_ name: String) async throws -> URL {
        try await build.value.get().appendingPathComponent(name)
    }

    /// A fresh socket path, short enough for sun_path.
    static func socketPath(_ tag: String) -> String {
        let name = "goi-\(tag)-\(UUID().uuidString.prefix(8)).sock"
        let temporary = FileManager.default.temporaryDirectory.path
        let path = (temporary as NSString).appendingPathComponent(name)
        return path.utf8.count < 100 ? path : "/tmp/\(name)"
    }

    // MARK: Go client against our server

    /// The built connectord (next to the test bundle, or in .build/debug), if any.
    static let connectordBinary: String? = {
        var candidate = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let path = candidate.appendingPathComponent("connectord").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
            candidate = candidate.deletingLastPathComponent()
        }
        let built = interopDirectory.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(".build/debug/connectord").path
        return FileManager.default.isExecutableFile(atPath: built) ? built : nil
    }()

    /// Starts connectord on a fresh socket and data directory, runs
    /// `interop-client` for `scenario` against it, stops the daemon, and
    /// returns the client's outcome.
    static func runGoClientAgainstDaemon(scenario: String) async throws -> GoClientOutcome {
        let client = try await binary("interop-client")
        let daemonBinary = try #require(connectordBinary)
        var template = Array("/tmp/goi.XXXXXX".utf8CString)
        let directory = try #require(mkdtemp(&template).map { String(cString: $0) })
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let socket = directory + "/d.sock"
        let daemon = try await ChildProcess.start(
            daemonBinary, ["--socket", socket, "--data-dir", directory + "/data", "--log-level", "warning"])
        let output: Swift.Result<CommandResult, any Error>
        do {
            let listening = await eventually {
                var info = stat()
                return stat(socket, &info) == 0 || !daemon.isRunning
            }
            try #require(listening && daemon.isRunning, "connectord did not listen: \(daemon.standardError)")
            output = .success(try await ChildProcess.run(client.path, ["-socket", socket, "-scenario", scenario]))
        } catch {
            output = .failure(error)
        }
        #expect(await daemon.stop() == 0, "connectord stopped cleanly: \(daemon.standardError)")
        let result = try output.get()
        try #require(
            result.status == 0, "interop-client -scenario \(scenario) exited \(result.status): \(result.stdout)\(result.stderr)")
        let line = result.stdout.split(separator: "\n").last.map(String.init) ?? ""
        let outcome = try JSONDecoder().decode(GoClientOutcome.self, from: Data(line.utf8))
        #expect(outcome.scenario == scenario)
        return outcome
    }

    /// Starts a `TTRPCServer` with the test Get handler, runs `interop-client`
    /// for `scenario` against it, and returns the client's outcome and what
    /// the handler saw.
    static func runGoClient(scenario: String) async throws -> (GoClientOutcome, HandlerRecord) {
        let client = try await binary("interop-client")
        let record = Recorder()
        let output = try await withSwiftServer(record: record) { socketPath in
            try await ChildProcess.run(client.path, ["-socket", socketPath, "-scenario", scenario])
        }
        try #require(
            output.status == 0,
            "interop-client -scenario \(scenario) exited \(output.status): \(output.stdout)\(output.stderr)")
        let line = output.stdout.split(separator: "\n").last.map(String.init) ?? ""
        let outcome = try JSONDecoder().decode(GoClientOutcome.self, from: Data(line.utf8))
        #expect(outcome.scenario == scenario)
        return (outcome, record.state.withLock { $0 })
    }

    /// Get handler of the in-process server:
    /// - connector_id 0: NOT_FOUND "Connector with ID 0 not found";
    /// - connector_id 7: slow, sleeps 5 s unless cancelled;
    /// - connector_id 1000: an empty output message (zero bytes);
    /// - else: id and name "swift-<id>", the "x-test" metadata value as description.
    /// A payload that is not a GetRequest is INVALID_ARGUMENT.
    static func getHandler(record: Recorder) -> Router.Handler {
        { payload, context in
            let request: ConnectorsV1.GetRequest
            do {
                request = try ConnectorsV1.GetRequest(serializedBytes: Array(payload.readableBytesView))
            } catch {
                record.state.withLock { $0.calls += 1 }
                throw RPCError(code: .invalidArgument, message: "payload is not a GetRequest: \(error)")
            }
            let left = context.deadline.map { $0 - .now }
            record.state.withLock { record in
                record.calls += 1
                for entry in context.metadata.entries { record.metadata.add(entry.key, entry.value) }
                if let left { record.deadlines.append(left) }
            }
            switch request.connectorID {
            case 0:
                throw RPCError(code: .notFound, message: "Connector with ID 0 not found")
            case 7:
                do {
                    try await Task.sleep(for: .seconds(5))
                } catch {
                    record.state.withLock { $0.slowCallsCancelled += 1 }
                    throw error
                }
            case 1000:
                return ByteBuffer()
            default:
                break
            }
            var connector = ConnectorsV1.Connector(id: request.connectorID, name: "swift-\(request.connectorID)")
            connector.description = context.metadata["x-test"].first ?? ""
            return ByteBuffer(bytes: ConnectorsV1.GetResponse(connector: connector).serializedBytes())
        }
    }

    /// Runs `body` with a listening in-process server, then stops it.
    static func withSwiftServer<Result: Sendable>(
        record: Recorder,
        _ body: @Sendable (String) async throws -> Result
    ) async throws -> Result {
        var router = Router()
        router.register(service: ConnectorsV1.serviceName, method: ConnectorsV1.Method.get.rawValue, handler: getHandler(record: record))
        var configuration = TTRPCServer.Configuration(socketPath: socketPath("swift"))
        configuration.shutdownGracePeriod = .seconds(1)
        let server = TTRPCServer(configuration: configuration, router: router)
        let listening = AsyncStream<Void>.makeStream()

        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { listening.continuation.finish() }
                try await server.run(onListening: { listening.continuation.yield() })
            }
            var isListening = false
            for await _ in listening.stream {
                isListening = true
                break
            }
            guard isListening else {
                try await group.next()  // the server's error
                throw BuildFailure(description: "the server stopped before listening")
            }
            let result: Swift.Result<Result, any Error>
            do {
                result = .success(try await body(configuration.socketPath))
            } catch {
                result = .failure(error)
            }
            server.beginGracefulShutdown()
            group.cancelAll()
            try? await group.waitForAll()
            return try result.get()
        }
    }

    // MARK: Our client against the Go server

    /// Starts `interop-server`, waits for its "ready", runs `body` with its
    /// socket path, then stops it with SIGTERM and expects a clean exit.
    static func withGoServer(_ body: (String) async throws -> Void) async throws {
        let executable = try await binary("interop-server")
        let path = socketPath("go")
        let server = try await ChildProcess.start(executable.path, ["-socket", path])
        do {
            _ = try await server.line { $0 == "ready" }
        } catch {
            let status = await server.stop()
            Issue.record("interop-server did not print ready (exit status \(status)): \(error)")
            return
        }
        var failure: (any Error)?
        do {
            try await body(path)
        } catch {
            failure = error
        }
        let status = await server.stop()
        #expect(status == 0, "interop-server should exit 0 on SIGTERM")
        if let failure { throw failure }
    }
}
