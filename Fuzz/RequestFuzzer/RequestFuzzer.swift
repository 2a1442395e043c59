// libFuzzer target: every connectors.v1 request, decoded and handled by
// ConnectorService against a scratch registry (a real SQLite file in a
// temporary directory).
//
// Input: byte 0 picks the method (low 4 bits, modulo the count, in
// `ConnectorsV1.Method.allCases` order: Register, Activate, List, Get, SetMode,
// Delete, GetLogo, Create, Watch, ListChanges, GetHistory, VerifyHistory) and
// the caller (0xF0...0xFF: an unprivileged uid, otherwise a superuser); the
// rest is the request message. It goes through `Router.handle`, as the server
// would serve it: the inline handler first (Get), then the task-run handler.
//
// An error with a status (RPCError, ConnectorRegistryError) is an answer, not
// a finding. Findings are crashes, sanitizer reports, libFuzzer timeouts, and
// failed preconditions: an error without a status or with INTERNAL or UNKNOWN
// (the registry is sound, so a request should never cause one), an answer that
// does not decode as the method's response, or that is about another
// connector than the one asked for.
//
// Bounds: the registry's fetches only ever go to 127.0.0.1. An in-process
// HTTP server on 127.0.0.1 (port 38451 when free) serves the sample connector
// at /connector.json (and /redirect to it); an Activate or Create whose URL
// names any other host or port is not sent (no fuzzed URL reaches the
// network or another local service), one that does has a 500 ms deadline.
// The registry is replaced by a fresh one every 2,000 inputs, so it stays
// small and its ids low; each fresh registry holds three connectors: 1
// "alpha" (activated, with a logo), 2 "beta" (with a secret), 3 "gamma".
//
// Built with -DFUZZING (scripts/fuzz.sh) this is the libFuzzer entry point.
// Built without it (a plain `swift build`), the executable replays inputs:
//   RequestFuzzer FILE|DIR...       runs each input once, without libFuzzer
//   RequestFuzzer --make-seeds DIR  writes the seed corpus

import ConnectorAPI
import ConnectorRegistry
import ConnectorServer
import Dispatch
import Foundation
import Glibc
import Logging
import NIOCore
import ProtobufCKit
import SampleConnectorKit
import Synchronization
import TTRPC

/// The port the schema server asks for; the seeds' URLs name it.
let preferredFixturePort = 38_451
/// Inputs served by one registry before it is replaced.
let inputsPerRegistry = 2_000

/// Runs one input.
func fuzzOne(_ input: UnsafeRawBufferPointer) {
    guard let first = input.first else { return }
    let method = ConnectorsV1.Method.allCases[Int(first & 15) % ConnectorsV1.Method.allCases.count]
    let superuser = first < 0xF0
    let payload = ByteBuffer(bytes: UnsafeRawBufferPointer(rebasing: input[1...]))
    Harness.shared.serve(method, payload: payload, superuser: superuser)
}

/// The scratch registry, its router, and the schema server; used from the
/// fuzzing thread only.
final class Harness: @unchecked Sendable {
    static let shared = Harness()

    let root: URL
    let fixturePort: Int
    private var registry: ConnectorRegistry?
    private var router = Router()
    private var generation = 0
    private var served = 0
    /// FUZZ_VERBOSE=1 prints each call's answer (for replaying an input).
    private let verbose = ProcessInfo.processInfo.environment["FUZZ_VERBOSE"] == "1"

    private init() {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("connectord-fuzz-\(getpid())")
        try! FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        harnessRoot = root.path
        atexit { if let path = harnessRoot { try? FileManager.default.removeItem(atPath: path) } }
        fixturePort = Self.startSchemaServer()
        replaceRegistry()
    }

    /// Serves one call and checks the answer.
    func serve(_ method: ConnectorsV1.Method, payload: ByteBuffer, superuser: Bool) {
        if served == inputsPerRegistry { replaceRegistry() }
        served += 1
        if !mayRun(method, payload) {
            if verbose { print("\(method.rawValue): not sent, its URL is not the schema server's") }
            return
        }

        let peer = superuser ? PeerCredentials(pid: getpid(), uid: getuid(), gid: getgid()) : PeerCredentials(pid: 1, uid: 65_534, gid: 65_534)
        let context = ServerContext(
            service: ConnectorsV1.serviceName, method: method.rawValue, peer: peer, deadline: .now + .milliseconds(500))
        let router = router
        let answer = blocking { () async throws -> ByteBuffer in
            try await router.handle(service: ConnectorsV1.serviceName, method: method.rawValue, payload: payload, context: context)
        }
        if verbose { print("\(method.rawValue)\(superuser ? "" : " (unprivileged)"): \(answer.map { "OK, \($0.readableBytes) bytes" })") }
        // What goes on the wire, as ServerConnection sends it.
        let wire = answer.mapError { error -> RPCError in
            guard let convertible = error as? any RPCErrorConvertible else {
                preconditionFailure("\(method.rawValue) threw an error without a status (sent as INTERNAL): \(error)")
            }
            return convertible.rpcError
        }
        if case .failure(let status) = wire {
            precondition(
                status.code != .internal && status.code != .unknown, "\(method.rawValue) failed with \(status.code): \(status.message)")
        }
        var envelope = ByteBuffer()
        ResponseEnvelope(wire).encode(into: &envelope)
        guard case .success(let response) = wire else { return }
        check(method, request: payload, response: response)
    }

    /// Whether the call may run: not Watch (a stream), a ListChanges only if
    /// it does not wait, an Activate or Create only if its URL, should it pass
    /// validation, would be fetched from the schema server. Requests that do
    /// not decode, and URLs without a host, run (they fail before any fetch).
    private func mayRun(_ method: ConnectorsV1.Method, _ payload: ByteBuffer) -> Bool {
        let url: String
        switch method {
        case .watch:
            return false  // a stream: the stream fuzzing covers its frames
        case .listChanges:
            // A long poll waits for a change that never comes.
            return (try? decode(ConnectorsV1.ListChangesRequest.self, payload))?.waitMs ?? 0 == 0
        case .activate:
            guard let request = try? decode(ConnectorsV1.ActivateRequest.self, payload) else { return true }
            url = request.connectorURL
        case .create:
            guard let request = try? decode(ConnectorsV1.CreateRequest.self, payload) else { return true }
            url = request.connectorURL
        default:
            return true
        }
        // The registry and its HTTP client parse the URL with the same URL type.
        guard let parsed = URL(string: url), let host = parsed.host, !host.isEmpty else { return true }
        return ["127.0.0.1", "localhost"].contains(host.lowercased()) && parsed.port == fixturePort
    }

    /// An answer must decode as the method's response and be about the connector asked for.
    private func check(_ method: ConnectorsV1.Method, request: ByteBuffer, response: ByteBuffer) {
        do {
            switch method {
            case .register:
                let answer = try decode(ConnectorsV1.RegisterResponse.self, response)
                let asked = try decode(ConnectorsV1.RegisterRequest.self, request)
                precondition(answer.connector.name == asked.name, "Register answered with another name")
                precondition(answer.connector.hasSecret == !asked.secret.isEmpty, "Register's has_secret is wrong")
            case .activate:
                let answer = try decode(ConnectorsV1.ActivateResponse.self, response)
                let asked = try decode(ConnectorsV1.ActivateRequest.self, request)
                precondition(answer.connector.id == asked.connectorID, "Activate answered about another connector")
            case .list:
                let answer = try decode(ConnectorsV1.ListResponse.self, response)
                let asked = try decode(ConnectorsV1.ListRequest.self, request)
                let ids = answer.connectors.map(\.id)
                precondition(ids == ids.sorted() && Set(ids).count == ids.count, "List is not in ascending id order")
                precondition(
                    asked.mode == .unspecified || answer.connectors.allSatisfy { $0.mode == asked.mode },
                    "List answered connectors of another mode")
                precondition(ids.count <= (asked.pageSize == 0 ? 100 : Int(asked.pageSize)), "List answered more than a page")
            case .get:
                let answer = try decode(ConnectorsV1.GetResponse.self, response)
                let asked = try decode(ConnectorsV1.GetRequest.self, request)
                precondition(answer.connector.id == asked.connectorID, "Get answered about another connector")
            case .setMode:
                let answer = try decode(ConnectorsV1.SetModeResponse.self, response)
                let asked = try decode(ConnectorsV1.SetModeRequest.self, request)
                precondition(answer.connector.id == asked.connectorID, "SetMode answered about another connector")
                precondition(answer.connector.mode == asked.mode, "SetMode answered with another mode")
            case .delete:
                let answer = try decode(ConnectorsV1.DeleteResponse.self, response)
                let asked = try decode(ConnectorsV1.DeleteRequest.self, request)
                precondition(answer.connectorID == asked.connectorID, "Delete answered about another connector")
            case .getLogo:
                let answer = try decode(ConnectorsV1.GetLogoResponse.self, response)
                precondition(!answer.contentType.isEmpty && !answer.data.isEmpty, "GetLogo answered an empty logo")
            case .create:
                _ = try decode(ConnectorsV1.CreateResponse.self, response)
            case .watch:
                preconditionFailure("Watch is a stream: not served here")
            case .listChanges:
                let answer = try decode(ConnectorsV1.ListChangesResponse.self, response)
                let revisions = answer.events.map(\.revision)
                precondition(revisions == revisions.sorted() && Set(revisions).count == revisions.count, "ListChanges is not in revision order")
                precondition(revisions.allSatisfy { $0 < answer.nextRevision }, "ListChanges' next revision is not after its events")
            case .getHistory:
                let answer = try decode(ConnectorsV1.GetHistoryResponse.self, response)
                let revisions = answer.records.map(\.revision)
                precondition(revisions == revisions.sorted() && Set(revisions).count == revisions.count, "GetHistory is not in revision order")
            case .verifyHistory:
                let answer = try decode(ConnectorsV1.VerifyHistoryResponse.self, response)
                precondition(answer.ok, "the history of a registry no one tampered with does not verify: \(answer.message)")
            }
        } catch {
            preconditionFailure("\(method.rawValue) answered, but the answer or the request does not decode: \(error)")
        }
    }

    private func decode<Message: ProtoMessage>(_ type: Message.Type, _ buffer: ByteBuffer) throws(ProtobufDecodingError) -> Message {
        let result = buffer.withUnsafeReadableBytes { bytes in
            Result { () throws(ProtobufDecodingError) in try Message(decoding: bytes) }
        }
        return try result.get()
    }

    /// Closes the current registry and opens a fresh one with three connectors.
    private func replaceRegistry() {
        if let old = registry {
            blocking { await old.close() }
            try? FileManager.default.removeItem(at: root.appendingPathComponent("registry-\(generation)"))
        }
        generation += 1
        served = 0
        let directory = root.appendingPathComponent("registry-\(generation)")
        try! FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var limits = FetchLimits()
        limits.connectTimeout = .milliseconds(100)
        limits.totalTimeout = .seconds(1)
        let registry = try! ConnectorRegistry(
            databasePath: directory.appendingPathComponent("registry.sqlite").path,
            keyFilePath: directory.appendingPathComponent("secret.key").path,
            fetchLimits: limits,
            logger: Logger(label: "connectord.fuzz", factory: { _ in SwiftLogNoOpLogHandler() }))
        let schemaURL = "http://127.0.0.1:\(fixturePort)/connector.json"
        blocking {
            let alpha = try! await registry.register(name: "alpha", description: "activated, with a logo", secret: nil)
            _ = try? await registry.activate(id: alpha.connector.id, url: schemaURL)
            _ = try! await registry.register(name: "beta", description: "with a secret", secret: "beta-secret-value")
            _ = try! await registry.register(name: "gamma", description: "registered only", secret: nil)
        }
        var router = Router()
        ConnectorService(registry: registry, policy: AccessPolicy()).register(into: &router)
        self.registry = registry
        self.router = router
    }

    /// Starts the schema server for the life of the process; returns its port.
    private static func startSchemaServer() -> Int {
        let port = Mutex<Int?>(nil)
        let ready = DispatchSemaphore(value: 0)
        var routes = SampleConnector.routes
        routes["/redirect"] = .redirect(to: "/connector.json")
        let serverRoutes = routes
        Task.detached {
            for candidate in [preferredFixturePort, 0] {
                do {
                    try await FixtureHTTPServer.with(routes: serverRoutes, port: candidate) { server in
                        port.withLock { $0 = server.port }
                        ready.signal()
                        while true { try await Task.sleep(for: .seconds(3600)) }
                    }
                } catch {
                    continue  // the preferred port is taken: any free port
                }
            }
            ready.signal()
        }
        ready.wait()
        guard let bound = port.withLock({ $0 }) else { fatalError("the schema server cannot listen on 127.0.0.1") }
        if bound != preferredFixturePort {
            print("RequestFuzzer: port \(preferredFixturePort) is taken; the schema server is on \(bound), seeds' URLs will not reach it")
        }
        return bound
    }
}

/// The harness's temporary directory, removed at exit.
nonisolated(unsafe) var harnessRoot: String?

/// Runs `body` to completion and returns its result, blocking the calling thread.
///
/// libFuzzer calls the entry point synchronously, so the async handler is
/// waited for with a semaphore. Blocking a thread on a task is wrong in a
/// server (it can starve the cooperative pool); it is acceptable here: the
/// waiting thread is libFuzzer's, which is not part of that pool.
@discardableResult
func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) -> Result<T, any Error> {
    let outcome = Mutex<Result<T, any Error>?>(nil)
    let done = DispatchSemaphore(value: 0)
    Task {
        let result: Result<T, any Error>
        do { result = .success(try await body()) } catch { result = .failure(error) }
        outcome.withLock { $0 = result }
        done.signal()
    }
    done.wait()
    return outcome.withLock { $0! }
}

#if FUZZING

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    fuzzOne(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

#else

@main
enum RequestFuzzerReplay {
    static func main() throws {
        var arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "--make-seeds", arguments.count == 2 {
            try writeSeeds(to: arguments[1])
            return
        }
        if arguments.isEmpty { arguments = ["Fuzz/corpus/RequestFuzzer"] }
        var count = 0
        for path in try inputFiles(arguments) {
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            bytes.withUnsafeBytes { fuzzOne($0) }
            count += 1
        }
        print("RequestFuzzer: \(count) inputs ran without a finding (replay build; fuzz with scripts/fuzz.sh)")
    }

    /// The seed corpus: a valid request for every method, and a few refused ones.
    static func writeSeeds(to directory: String) throws {
        func seed<M: ProtoMessage>(_ method: ConnectorsV1.Method, _ message: M, caller: UInt8 = 0) -> [UInt8] {
            let index = UInt8(ConnectorsV1.Method.allCases.firstIndex(of: method)!)
            return [caller | index] + message.serializedBytes()
        }
        let schemaURL = "http://127.0.0.1:\(preferredFixturePort)/connector.json"
        let seeds: [String: [UInt8]] = [
            "register": seed(.register, ConnectorsV1.RegisterRequest(name: "weather", description: "Weather forecasts")),
            "register-secret": seed(
                .register, ConnectorsV1.RegisterRequest(name: "mail.v2", description: "Mail", secret: "token-0123456789")),
            "register-taken-name": seed(.register, ConnectorsV1.RegisterRequest(name: "ALPHA", description: "taken")),
            "register-bad-name": seed(.register, ConnectorsV1.RegisterRequest(name: "../etc", description: "path trick")),
            "list-changes": seed(.listChanges, ConnectorsV1.ListChangesRequest(startRevision: 1, maxEvents: 10)),
            "get-history": seed(.getHistory, ConnectorsV1.GetHistoryRequest(startRevision: 1, pageSize: 5)),
            "verify-history": seed(.verifyHistory, ConnectorsV1.VerifyHistoryRequest()),
            "register-unprivileged": seed(.register, ConnectorsV1.RegisterRequest(name: "x", description: "y"), caller: 0xF0),
            "activate": seed(.activate, ConnectorsV1.ActivateRequest(connectorID: 3, connectorURL: schemaURL)),
            "activate-redirect": seed(
                .activate, ConnectorsV1.ActivateRequest(connectorID: 2, connectorURL: "http://127.0.0.1:\(preferredFixturePort)/redirect")),
            "activate-missing": seed(
                .activate, ConnectorsV1.ActivateRequest(connectorID: 3, connectorURL: "http://127.0.0.1:\(preferredFixturePort)/none.json")),
            "activate-bad-scheme": seed(.activate, ConnectorsV1.ActivateRequest(connectorID: 1, connectorURL: "file:///etc/passwd")),
            "list": seed(.list, ConnectorsV1.ListRequest()),
            "list-active-page": seed(.list, ConnectorsV1.ListRequest(mode: .active, pageSize: 1)),
            "list-bad-token": seed(.list, ConnectorsV1.ListRequest(mode: .sync, pageSize: 2, pageToken: "bm90LWEtdG9rZW4")),
            "get": seed(.get, ConnectorsV1.GetRequest(connectorID: 1)),
            "get-unknown": seed(.get, ConnectorsV1.GetRequest(connectorID: UInt64.max)),
            "set-mode-sync": seed(.setMode, ConnectorsV1.SetModeRequest(connectorID: 1, mode: .sync)),
            "set-mode-not-activated": seed(.setMode, ConnectorsV1.SetModeRequest(connectorID: 3, mode: .active)),
            "delete": seed(.delete, ConnectorsV1.DeleteRequest(connectorID: 3)),
            "get-logo": seed(.getLogo, ConnectorsV1.GetLogoRequest(connectorID: 1)),
            "get-logo-none": seed(.getLogo, ConnectorsV1.GetLogoRequest(connectorID: 2)),
            "create": seed(.create, ConnectorsV1.CreateRequest(connectorURL: schemaURL, secret: "s3cret")),
        ]
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (name, bytes) in seeds {
            try Data(bytes).write(to: URL(fileURLWithPath: directory).appendingPathComponent(name))
        }
        print("wrote \(seeds.count) seeds to \(directory)")
    }

    /// The files named, and the files in the directories named, sorted.
    static func inputFiles(_ paths: [String]) throws -> [String] {
        var files: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: path])
            }
            if isDirectory.boolValue {
                files += try FileManager.default.contentsOfDirectory(atPath: path).sorted().map { "\(path)/\($0)" }
            } else {
                files.append(path)
            }
        }
        return files
    }
}

#endif
