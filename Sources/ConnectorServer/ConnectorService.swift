import ConnectorAPI
public import ConnectorRegistry
public import Logging
import NIOCore
import ProtobufCKit
import ServiceLifecycle
import Synchronization
public import TTRPC

/// The `connectors.v1.ConnectorRegistry` service: decodes each request,
/// checks the caller may make it, calls the registry, and encodes the answer.
/// Domain errors reach the caller as their status code and message, except
/// internal ones: the caller gets `internal error (ref XXXXXXXX)` and the log
/// the message and cause under that reference.
public struct ConnectorService: Sendable {
    private let registry: ConnectorRegistry
    private let policy: AccessPolicy
    private let getAnswers = EncodedAnswerCache(capacity: 4096)
    private let listAnswers = ListAnswerCache(capacity: 64)
    private let watchEvents = EncodedEventCache(capacity: 256)
    private let logger: Logger

    /// - Parameter logger: where internal errors are logged with their reference.
    public init(registry: ConnectorRegistry, policy: AccessPolicy, logger: Logger = Logger(label: "connectord.service")) {
        self.registry = registry
        self.policy = policy
        self.logger = logger
    }

    /// Adds the service's methods to `router`.
    public func register(into router: inout Router) {
        let registry = registry
        add(.register, to: &router, mutating: true) { (request: ConnectorsV1.RegisterRequest, context) in
            let result = try await registry.register(
                name: request.name, description: request.description, secret: request.secret,
                request: Self.change(context, requestID: request.requestID))
            return ConnectorsV1.RegisterResponse(
                connector: .init(result.connector), message: result.message, nextStep: result.nextStep)
        }
        add(.activate, to: &router, mutating: true) { (request: ConnectorsV1.ActivateRequest, context) in
            let result = try await registry.activate(
                id: try Self.id(request.connectorID), url: request.connectorURL, deadline: context.deadline,
                request: Self.change(context, requestID: request.requestID, expectedRevision: request.expectedRevision))
            return ConnectorsV1.ActivateResponse(connector: .init(result.connector), message: result.message)
        }
        addEncoded(.list, to: &router, mutating: false) { [getAnswers] (request: ConnectorsV1.ListRequest, _) in
            let page = try await registry.cachedList(
                mode: try request.mode.domainMode(), pageSize: Int(request.pageSize), pageToken: request.pageToken)
            return Self.listAnswer(page, getAnswers)
        } inline: { [getAnswers, listAnswers] request in
            // Answered on the event loop when the whole page is in memory: the
            // same answer again while the registry's revision holds.
            let mode: ConnectorMode?
            do { mode = try request.mode.domainMode() } catch { return nil }
            let key = ListAnswerCache.Key(mode: mode, pageSize: Int(request.pageSize), pageToken: request.pageToken)
            if let answer = listAnswers.answer(for: key, at: registry.readRevision) { return answer }
            guard let page = registry.cachedListInMemory(mode: mode, pageSize: key.pageSize, pageToken: key.pageToken) else {
                return nil
            }
            let answer = Self.listAnswer(page, getAnswers)
            listAnswers.keep(answer, for: key, at: page.revision)
            return answer
        }
        add(.get, to: &router, mutating: false) { (request: ConnectorsV1.GetRequest, _) in
            ConnectorsV1.GetResponse(connector: .init(try await registry.connector(id: try Self.id(request.connectorID))))
        } inline: { [getAnswers] request in
            // Answered on the event loop when the connector is in memory, with
            // the encoded answer reused while the connector is unchanged.
            Int64(exactly: request.connectorID).flatMap(registry.cachedConnector(id:)).map { cached in
                getAnswers.answer(for: cached, encode: Self.getAnswer)
            }
        }
        add(.setMode, to: &router, mutating: true) { (request: ConnectorsV1.SetModeRequest, context) in
            guard let mode = try request.mode.domainMode() else {
                throw ConnectorRegistryError(.invalidArgument, "A mode is required: sync, active or deactive")
            }
            let connector = try await registry.setMode(
                id: try Self.id(request.connectorID), to: mode,
                request: Self.change(context, requestID: request.requestID, expectedRevision: request.expectedRevision))
            return ConnectorsV1.SetModeResponse(connector: .init(connector))
        }
        add(.delete, to: &router, mutating: true) { (request: ConnectorsV1.DeleteRequest, context) in
            let result = try await registry.delete(
                id: try Self.id(request.connectorID),
                request: Self.change(context, requestID: request.requestID, expectedRevision: request.expectedRevision))
            return ConnectorsV1.DeleteResponse(connectorID: request.connectorID, message: result.message)
        }
        add(.getLogo, to: &router, mutating: false) { (request: ConnectorsV1.GetLogoRequest, _) in
            let logo = try await registry.logo(id: try Self.id(request.connectorID))
            return ConnectorsV1.GetLogoResponse(contentType: logo.contentType, data: logo.data)
        }
        add(.create, to: &router, mutating: true) { (request: ConnectorsV1.CreateRequest, context) in
            let result = try await registry.create(
                url: request.connectorURL, secret: request.secret, deadline: context.deadline,
                request: Self.change(context, requestID: request.requestID))
            return ConnectorsV1.CreateResponse(connector: .init(result.connector), message: result.message)
        }
        add(.listChanges, to: &router, mutating: false) { (request: ConnectorsV1.ListChangesRequest, _) in
            let (events, next) = try await registry.listChanges(
                startRevision: request.startRevision, maxEvents: Int(request.maxEvents),
                wait: .milliseconds(Int64(request.waitMs)),
                filter: WatchFilter(mode: try request.mode.domainMode(), connectorID: try Self.optionalID(request.connectorID)))
            return ConnectorsV1.ListChangesResponse(events: events.map(ConnectorsV1.WatchEvent.init), nextRevision: next)
        }
        add(.getHistory, to: &router, mutating: true) { (request: ConnectorsV1.GetHistoryRequest, _) in
            let page = try await registry.history(
                connectorID: try Self.optionalID(request.connectorID), startRevision: request.startRevision,
                pageSize: Int(request.pageSize), pageToken: request.pageToken)
            return ConnectorsV1.GetHistoryResponse(
                records: page.records.map(ConnectorsV1.HistoryRecord.init), nextPageToken: page.nextPageToken)
        }
        add(.verifyHistory, to: &router, mutating: true) { (_: ConnectorsV1.VerifyHistoryRequest, _) in
            let verification = try await registry.verifyHistory()
            return ConnectorsV1.VerifyHistoryResponse(
                ok: verification.isOK, records: verification.records, firstBadRevision: verification.firstBadRevision ?? 0,
                message: verification.message, oldestRevision: verification.oldestRevision,
                latestRevision: verification.latestRevision)
        }
        let (logger, watchEvents) = (logger, watchEvents)
        router.registerServerStreaming(service: ConnectorsV1.serviceName, method: ConnectorsV1.Method.watch.rawValue) {
            payload, responses, _ in
            let request = try Self.decode(ConnectorsV1.WatchRequest.self, payload, .watch)
            let filter = WatchFilter(mode: try request.mode.domainMode(), connectorID: try Self.optionalID(request.connectorID))
            let delivered = Atomic<UInt64>(0)  // the last change delivered
            do {
                // A watch never ends by itself: a graceful stop ends it at once
                // (rather than at the end of the grace period), saying where to resume.
                try await cancelWhenGracefulShutdown {
                    try await registry.watch(
                        startRevision: request.startRevision, filter: filter, includeInitialState: request.includeInitialState
                    ) { event in
                        try await responses.write(watchEvents.encoded(event))
                        if case .change = event.kind { delivered.store(event.revision, ordering: .relaxed) }
                    }
                }
            } catch let error as ConnectorRegistryError where error.code == .internal {
                throw Self.reported(error, method: .watch, logger: logger)
            } catch where Task.isShuttingDownGracefully {
                let last = delivered.load(ordering: .relaxed)
                let resume = last > 0 ? "start_revision \(last + 1)" : "the same request"
                throw RPCError(code: .unavailable, message: "connectord is stopping; watch again with \(resume)")
            }
        }
    }

    /// Registers one method whose handler answers with a message: see `addEncoded`.
    private func add<Request: ProtoMessage, Response: ProtoMessage>(
        _ method: ConnectorsV1.Method,
        to router: inout Router,
        mutating: Bool,
        _ handle: @escaping @Sendable (Request, ServerContext) async throws -> Response,
        inline: (@Sendable (Request) -> ByteBuffer?)? = nil
    ) {
        addEncoded(method, to: &router, mutating: mutating, { try await handle($0, $1).byteBuffer() }, inline: inline)
    }

    /// Registers one method: authorize (changes need a superuser), decode,
    /// handle; the handler returns the encoded answer. An `inline` answer,
    /// when it has one, is given on the event loop; it is only offered to reads.
    private func addEncoded<Request: ProtoMessage>(
        _ method: ConnectorsV1.Method,
        to router: inout Router,
        mutating: Bool,
        _ handle: @escaping @Sendable (Request, ServerContext) async throws -> ByteBuffer,
        inline: (@Sendable (Request) -> ByteBuffer?)? = nil
    ) {
        let policy = policy
        let logger = logger
        var inlineHandler: Router.InlineHandler? = nil
        if let inline, !mutating {
            inlineHandler = { payload, _ in
                guard let request = try? Self.decode(Request.self, payload, method), let answer = inline(request) else {
                    return nil
                }
                return .success(answer)
            }
        }
        router.register(service: ConnectorsV1.serviceName, method: method.rawValue, inline: inlineHandler) {
            payload, context in
            if mutating, !(await policy.isSuperuser(context.peer)) {
                throw ConnectorRegistryError.superuserRequired
            }
            do {
                return try await handle(try Self.decode(Request.self, payload, method), context)
            } catch let error as ConnectorRegistryError where error.code == .internal {
                throw Self.reported(error, method: method, logger: logger)
            }
        }
    }

    /// What a caller is told of an internal error: a reference, and nothing of
    /// its text (SQL, paths, system errors); the log has the rest under it.
    private static func reported(_ error: ConnectorRegistryError, method: ConnectorsV1.Method, logger: Logger) -> RPCError {
        let reference = String(UInt32.random(in: .min ... .max), radix: 16).leftPadded(to: 8)
        logger.error(
            "internal error (ref \(reference))",
            metadata: ["ref": "\(reference)", "method": "\(method.rawValue)", "error": "\(error)"])
        return RPCError(code: .internal, message: "internal error (ref \(reference))")
    }

    /// The encoded `ListResponse` of a page: made of the connectors' Get
    /// answers, reused while a connector is unchanged.
    private static func listAnswer(_ page: CachedConnectorPage, _ getAnswers: EncodedAnswerCache) -> ByteBuffer {
        let answers = getAnswers.answers(for: page.entries, encode: getAnswer)
        return ListAnswer.encode(getAnswers: answers, nextPageToken: page.nextPageToken, revision: page.revision)
    }

    /// The encoded `GetResponse` of a connector; a `ListResponse` is made of these.
    private static func getAnswer(_ connector: Connector) -> ByteBuffer {
        ConnectorsV1.GetResponse(connector: .init(connector)).byteBuffer()
    }

    private static func decode<Request: ProtoMessage>(
        _ type: Request.Type, _ payload: ByteBuffer, _ method: ConnectorsV1.Method
    ) throws(RPCError) -> Request {
        let decoded = payload.withUnsafeReadableBytes { bytes in
            Result { () throws(ProtobufDecodingError) in try Request(decoding: bytes) }
        }
        switch decoded {
        case .success(let request): return request
        case .failure(let error): throw RPCError(code: .invalidArgument, message: "invalid \(method.rawValue) request: \(error.reason)")
        }
    }

    /// How a change was asked for: by the peer, with the request's retry id
    /// and expected revision (0: none).
    private static func change(_ context: ServerContext, requestID: String, expectedRevision: UInt64 = 0) -> ChangeRequest {
        let peer = context.peer
        return ChangeRequest(
            caller: .process(uid: peer.uid, gid: peer.gid, pid: peer.pid), requestID: requestID, expectedRevision: expectedRevision)
    }

    /// A wire id filter: 0 for none.
    private static func optionalID(_ wire: UInt64) throws(ConnectorRegistryError) -> Int64? {
        wire == 0 ? nil : try id(wire)
    }

    /// A wire id as a registry id; ids beyond Int64 cannot exist.
    private static func id(_ wire: UInt64) throws(ConnectorRegistryError) -> Int64 {
        guard let id = Int64(exactly: wire) else {
            throw ConnectorRegistryError(.notFound, "Connector with ID \(wire) not found")
        }
        return id
    }
}

extension ProtoMessage {
    /// The encoded message in a new buffer.
    func byteBuffer() -> ByteBuffer {
        encode { size, pack in
            var buffer = ByteBuffer()
            buffer.reserveCapacity(size)
            if size > 0 {
                buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { out in
                    pack(out.baseAddress!)
                    return size
                }
            }
            return buffer
        }
    }
}

extension String {
    /// The string with leading zeros up to `width` characters.
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}
