import Foundation
public import Logging
import NIOPosix

/// The registry of connectors: the only writer of the store.
///
/// Schema fetches run outside the actor's critical sections (an activation
/// awaits the network without holding up other calls); an activation already
/// running for a connector makes a second one fail with ABORTED; a connector
/// deleted while its schema is being fetched stays deleted. Reads (`connector`,
/// `list`, `logo`) go straight to the store's reader pool.
public actor ConnectorRegistry {
    let store: ConnectorStore
    private let secrets: SecretBox
    private let fetcher: SchemaFetcher
    private let logger: Logger
    private var activating: Set<Int64> = []

    /// Opens the registry.
    /// - Parameters:
    ///   - databasePath: the SQLite file (created and migrated if needed).
    ///   - keyFilePath: the 32-byte secret key (created with mode 0600 if missing).
    /// - Throws: `ConnectorRegistryError` if the database or key file cannot be used.
    ///   - historyKeepRevisions: how many revisions of history to keep; nil: all.
    public init(
        databasePath: String, keyFilePath: String, fetchLimits: FetchLimits = FetchLimits(),
        historyKeepRevisions: UInt64? = nil, logger: Logger = Logger(label: "connectord.registry")
    ) throws(ConnectorRegistryError) {
        secrets = try SecretBox(keyFile: keyFilePath)
        do {
            store = try ConnectorStore(path: databasePath, historyKeepRevisions: historyKeepRevisions)
        } catch {
            throw ConnectorRegistryError(.internal, "cannot open database \(databasePath): \(error)")
        }
        fetcher = SchemaFetcher(limits: fetchLimits)
        self.logger = logger
    }

    /// Closes the HTTP client and the database (which waits for the writes in
    /// progress: on NIO's thread pool, not on a thread of Swift's cooperative pool).
    public func close() async {
        await fetcher.shutdown()
        let store = store
        try? await NIOThreadPool.singleton.runIfActive { try store.close() }
    }

    // MARK: Register

    /// Step 1: stores a connector in mode `deactive`, version `0.0.0`, no URL.
    /// - Throws: INVALID_ARGUMENT for a bad name, description, secret or
    ///   request id; ALREADY_EXISTS if the name is taken (case-insensitively).
    public func register(
        name: String, description: String, secret: String?, request: ChangeRequest = ChangeRequest()
    ) async throws(ConnectorRegistryError) -> Registration {
        try Validation.check(name: name)
        try Validation.check(description: description)
        try Validation.check(request)
        let secret = secret.flatMap { $0.isEmpty ? nil : $0 }
        if let secret { try Validation.check(secret: secret) }
        let change = try await insert(
            name: name, description: description, secret: secret, activation: nil, request: request, method: "Register"
        ) { "Connector '\($0.name)' registered successfully" }
        let connector = change.record.connector
        if !change.replayed { logger.info("registered connector", metadata: ["id": "\(connector.id)", "name": "\(name)"]) }
        return Registration(
            connector: connector, message: change.record.message,
            nextStep: "Activate the connector by providing the connector URL via Activate (connectorctl activate \(connector.id) <connector-url>)")
    }

    // MARK: Activate

    /// Step 2: fetches the connector's schema and logo, stores them, and sets
    /// mode `active`. Activating again re-fetches and replaces the schema.
    /// - Parameter deadline: the caller's deadline; the fetch also stops after
    ///   `FetchLimits.totalTimeout`.
    /// - Throws: INVALID_ARGUMENT (URL, request id), NOT_FOUND, ABORTED
    ///   (already activating, or not at the expected revision), UNAVAILABLE
    ///   (unreachable), FAILED_PRECONDITION (non-200 or invalid schema),
    ///   DEADLINE_EXCEEDED.
    public func activate(
        id: Int64, url: String, deadline: ContinuousClock.Instant? = nil, request: ChangeRequest = ChangeRequest()
    ) async throws(ConnectorRegistryError) -> Outcome {
        let schemaURL = try Validation.checkURL(url)
        try Validation.check(request)
        if let replayed = try await storage({ try await store.replayed(request, method: "Activate", target: id) }) {
            return Outcome(replayed)
        }
        let current = try await connector(id: id)
        try Self.check(current, at: request.expectedRevision)
        guard activating.insert(id).inserted else {
            throw ConnectorRegistryError(.aborted, "Connector with ID \(id) is already being activated; try again when that finishes")
        }
        defer { activating.remove(id) }

        let (schema, logo, logoNote) = try await fetchSchemaAndLogo(schemaURL, deadline: deadline)
        let activation = Activation(url: schemaURL.description, schema: schema, logo: logo)
        // A connector deleted while its schema was fetched stays deleted: NOT_FOUND.
        let change = try await storage {
            try await store.activate(id: id, with: activation, request: request) { "Connector '\($0.name)' activated successfully" + logoNote }
        }
        logger.info("activated connector", metadata: ["id": "\(id)", "url": "\(schemaURL)", "tools": "\(schema.toolsCount)"])
        return Outcome(change.record)
    }

    // MARK: Create (deprecated)

    /// The deprecated single step: fetches the schema, takes the name from it,
    /// and stores the connector registered and active in one transaction.
    /// - Throws: as `activate`, and ALREADY_EXISTS if the schema's name is taken,
    ///   FAILED_PRECONDITION if the schema has no valid name.
    public func create(
        url: String, secret: String?, deadline: ContinuousClock.Instant? = nil, request: ChangeRequest = ChangeRequest()
    ) async throws(ConnectorRegistryError) -> Outcome {
        let schemaURL = try Validation.checkURL(url)
        try Validation.check(request)
        let secret = secret.flatMap { $0.isEmpty ? nil : $0 }
        if let secret { try Validation.check(secret: secret) }
        if let replayed = try await storage({ try await store.replayed(request, method: "Create", target: nil) }) {
            return Outcome(replayed)
        }
        let (schema, logo, logoNote) = try await fetchSchemaAndLogo(schemaURL, deadline: deadline)
        do {
            try Validation.check(name: schema.name)
        } catch {
            throw ConnectorRegistryError(.failedPrecondition, "Invalid connector schema: $.name: \(error.message)")
        }
        let change = try await insert(
            name: schema.name, description: schema.description, secret: secret,
            activation: Activation(url: schemaURL.description, schema: schema, logo: logo), request: request, method: "Create"
        ) { "Connector '\($0.name)' created successfully" + logoNote }
        logger.info("created connector (deprecated single step)", metadata: ["id": "\(change.record.connectorID)", "name": "\(schema.name)"])
        return Outcome(change.record)
    }

    // MARK: Reads

    /// One connector.
    /// - Throws: NOT_FOUND.
    public nonisolated func connector(id: Int64) async throws(ConnectorRegistryError) -> Connector {
        if let cached = store.model.connector(id: id) { return cached.connector }
        let (read, snapshot) = try await storage { try await store.connector(id: id) }
        guard let connector = read else { throw .notFound(id: id) }
        store.model.fill([connector], readAt: snapshot)
        return connector
    }

    /// The connector if it is in memory, without touching the database; nil
    /// means "not cached", not "not found". For answers on a hot path.
    public nonisolated func cachedConnector(id: Int64) -> CachedConnector? {
        store.model.connector(id: id)
    }

    /// One page of connectors by ascending id, optionally of one mode.
    ///
    /// A page may hold fewer connectors than `pageSize` even when more
    /// follow: a connector whose mode changed while the page was read is left
    /// out of a page filtered by its old mode. Follow `nextPageToken` until it
    /// is empty; no connector is skipped or repeated.
    /// - Parameters:
    ///   - pageSize: 0 for 100; at most 1,000.
    ///   - pageToken: empty, or the `nextPageToken` of the previous page.
    /// - Throws: INVALID_ARGUMENT for a page size over 1,000 or a bad token.
    public nonisolated func list(mode: ConnectorMode?, pageSize: Int, pageToken: String) async throws(ConnectorRegistryError) -> ConnectorPage {
        let page = try await cachedList(mode: mode, pageSize: pageSize, pageToken: pageToken)
        return ConnectorPage(connectors: page.entries.map(\.connector), nextPageToken: page.nextPageToken, revision: page.revision)
    }

    /// `list`, with each connector's cache revision where it has one, for
    /// answers derived from cached connectors (see `CachedConnector`).
    ///
    /// A page whose connectors are all in memory is answered from the read
    /// model; otherwise the page's ids are read from the database, the
    /// connectors held in memory taken from there, and the others read in the
    /// same transaction and kept.
    /// - Throws: as `list`.
    public nonisolated func cachedList(
        mode: ConnectorMode?, pageSize: Int, pageToken: String
    ) async throws(ConnectorRegistryError) -> CachedConnectorPage {
        let (afterID, size) = try Self.pageRequest(mode: mode, pageSize: pageSize, pageToken: pageToken)
        if let page = listFromMemory(mode: mode, afterID: afterID, size: size) { return page }
        let model = store.model
        let scanned = try await storage {
            try await store.page(afterID: afterID, mode: mode, size: size, cached: { model.connectors(ids: $0) })
        }
        let filled = scanned.read.isEmpty ? nil : model.fill(scanned.read, readAt: scanned.revision)

        var entries: [CachedConnector] = []
        entries.reserveCapacity(scanned.ids.count)
        var readIndex = 0
        for (id, cached) in zip(scanned.ids, scanned.cached) {
            if let cached {
                // A cached connector may have changed mode since its id was selected.
                if let mode, cached.mode != mode { continue }
                entries.append(cached)
            } else if readIndex < scanned.read.count, scanned.read[readIndex].id == id {
                // Read from the snapshot that selected it: of the mode asked.
                entries.append(filled?[readIndex] ?? CachedConnector(scanned.read[readIndex]))
                readIndex += 1
            } else {
                // The store reads every id not cached, from the snapshot that selected it.
                throw ConnectorRegistryError(.internal, "connector \(id) was listed but not read")
            }
        }
        // From the ids scanned, not the connectors kept: none skipped or repeated.
        let next = scanned.hasMore ? PageToken.encode(afterID: scanned.ids.last!, mode: mode) : ""
        return CachedConnectorPage(entries: entries, nextPageToken: next, revision: scanned.revision)
    }

    /// The revision the read model has applied: what Get and List answered
    /// from memory reflect. Unchanged, so is every answer made from it.
    public nonisolated var readRevision: UInt64 { store.model.revision }

    /// `cachedList` when every connector of the page is in memory, without
    /// touching the database or suspending; nil otherwise, and for a request
    /// `cachedList` refuses. For answers on a hot path.
    public nonisolated func cachedListInMemory(mode: ConnectorMode?, pageSize: Int, pageToken: String) -> CachedConnectorPage? {
        guard let (afterID, size) = try? Self.pageRequest(mode: mode, pageSize: pageSize, pageToken: pageToken) else {
            return nil
        }
        return listFromMemory(mode: mode, afterID: afterID, size: size)
    }

    /// A page from the read model alone, at the revision it has applied.
    private nonisolated func listFromMemory(mode: ConnectorMode?, afterID: Int64, size: Int) -> CachedConnectorPage? {
        guard let page = store.model.page(afterID: afterID, mode: mode, size: size) else { return nil }
        let next = page.hasMore ? PageToken.encode(afterID: page.entries.last!.id, mode: mode) : ""
        return CachedConnectorPage(entries: page.entries, nextPageToken: next, revision: page.revision)
    }

    /// The id to list after and the page size of a List request.
    /// - Throws: INVALID_ARGUMENT for a page size over 1,000 or a bad token.
    private static func pageRequest(
        mode: ConnectorMode?, pageSize: Int, pageToken: String
    ) throws(ConnectorRegistryError) -> (afterID: Int64, size: Int) {
        let size = pageSize == 0 ? 100 : pageSize
        guard (1...1000).contains(size) else {
            throw ConnectorRegistryError(.invalidArgument, "page_size must be between 1 and 1000, not \(pageSize)")
        }
        return (try PageToken.decode(pageToken, mode: mode), size)
    }

    /// The stored logo.
    /// - Throws: NOT_FOUND for an unknown id or a connector without a logo.
    public nonisolated func logo(id: Int64) async throws(ConnectorRegistryError) -> Logo {
        let (name, logo) = try await storage({ try await store.logo(id: id) })
        guard let logo else { throw ConnectorRegistryError(.notFound, "Connector '\(name)' has no logo") }
        return logo
    }

    /// The connector's secret, opened; nil if none is stored. Never sent to callers.
    /// - Throws: NOT_FOUND, or INTERNAL if the sealed value does not open.
    public nonisolated func secret(id: Int64) async throws(ConnectorRegistryError) -> String? {
        guard let sealed = try await storage({ try await store.sealedSecret(id: id) }) else { return nil }
        return try secrets.open(sealed, connectorID: id)
    }

    // MARK: Mode and delete

    /// Sets the mode: `deactive` at any time, `active` or `sync` once activated.
    /// - Throws: NOT_FOUND; FAILED_PRECONDITION for `active` or `sync` before
    ///   activation; ABORTED if not at the expected revision.
    public func setMode(id: Int64, to mode: ConnectorMode, request: ChangeRequest = ChangeRequest()) async throws(ConnectorRegistryError) -> Connector {
        try Validation.check(request)
        let change = try await storage {
            try await store.setMode(id: id, to: mode, request: request) { current in
                if mode != .deactive && !current.isActivated {
                    throw ConnectorRegistryError(
                        .failedPrecondition,
                        "Connector '\(current.name)' has not been activated; activate it first with its connector URL")
                }
            } message: { "Connector '\($0.name)' set to mode \(mode.rawValue)" }
        }
        if !change.replayed { logger.info("changed connector mode", metadata: ["id": "\(id)", "mode": "\(mode.rawValue)"]) }
        return change.record.connector
    }

    /// Removes a connector with its logo and secret.
    /// - Throws: NOT_FOUND; ABORTED if not at the expected revision.
    public func delete(id: Int64, request: ChangeRequest = ChangeRequest()) async throws(ConnectorRegistryError) -> Outcome {
        try Validation.check(request)
        let change = try await storage {
            try await store.delete(id: id, request: request) { "Connector '\($0.name)' deleted successfully" }
        }
        if !change.replayed { logger.info("deleted connector", metadata: ["id": "\(id)", "name": "\(change.record.connectorName)"]) }
        return Outcome(change.record)
    }

    // MARK: History

    /// A page of the history by ascending revision, from `startRevision` on
    /// (of one connector, if given).
    /// - Parameters:
    ///   - pageSize: 0 for 100; at most 1,000.
    ///   - pageToken: empty, or the `nextPageToken` of the previous page.
    /// - Throws: INVALID_ARGUMENT for a page size over 1,000 or a bad token.
    public nonisolated func history(
        connectorID: Int64?, startRevision: UInt64, pageSize: Int, pageToken: String
    ) async throws(ConnectorRegistryError) -> HistoryPage {
        let size = pageSize == 0 ? 100 : pageSize
        guard (1...1000).contains(size) else {
            throw ConnectorRegistryError(.invalidArgument, "page_size must be between 1 and 1000, not \(pageSize)")
        }
        var after = startRevision > 0 ? startRevision - 1 : 0
        if !pageToken.isEmpty {
            guard let tokenRevision = UInt64(exactly: try PageToken.decode(pageToken, mode: nil)) else {
                throw ConnectorRegistryError(.invalidArgument, "Invalid page token")
            }
            after = tokenRevision
        }
        let start = after
        let (records, _) = try await storage { try await store.history(after: start, connectorID: connectorID, limit: size + 1) }
        let page = Array(records.prefix(size))
        let next = records.count > size ? PageToken.encode(afterID: Int64(page.last!.revision), mode: nil) : ""
        return HistoryPage(records: page, nextPageToken: next)
    }

    /// Walks the history's hash chain from the oldest record kept.
    public nonisolated func verifyHistory() async throws(ConnectorRegistryError) -> HistoryVerification {
        try await storage { try await store.verifyHistory() }
    }

    /// Whether each commit is synced to disk before it is acknowledged
    /// (`PRAGMA synchronous = FULL` on the writer connection).
    public nonisolated func commitsAreSynced() async throws(ConnectorRegistryError) -> Bool {
        try await storage { try await store.writerSynchronousMode() } == 2
    }

    /// Runs SQLite's integrity check; "ok" when sound.
    public nonisolated func integrityCheck() async throws(ConnectorRegistryError) -> String {
        try await storage { try await store.integrityCheck() }
    }

    // MARK: Internals

    private func insert(
        name: String, description: String, secret: String?, activation: Activation?, request: ChangeRequest, method: String,
        message: @escaping @Sendable (Connector) -> String
    ) async throws(ConnectorRegistryError) -> StoredChange {
        let secrets = secrets
        do {
            return try await store.insert(
                name: name, description: description, activation: activation, request: request, method: method, message: message
            ) { id in
                try secret.map { try secrets.seal($0, connectorID: id) }
            }
        } catch let error as ConnectorRegistryError where error.code == .alreadyExists {
            throw .nameTaken(name)
        } catch {
            throw Self.storageError(error)
        }
    }

    private func fetchSchemaAndLogo(_ url: HTTPURL, deadline callerDeadline: ContinuousClock.Instant?) async throws(ConnectorRegistryError)
        -> (ConnectorSchema, Logo?, String)
    {
        let ownDeadline = ContinuousClock.now + fetcher.limits.totalTimeout
        let deadline = callerDeadline.map { min($0, ownDeadline) } ?? ownDeadline
        let body: [UInt8]
        let finalURL: HTTPURL
        do {
            (body, finalURL) = try await fetcher.fetch(url, maximumBytes: fetcher.limits.maximumSchemaBytes, deadline: deadline)
        } catch {
            throw Self.schemaFetchError(error)
        }
        // Parsing up to 4 MiB is a long loop with no suspension point: on NIO's
        // thread pool, not on one of the few threads of Swift's cooperative pool.
        let parsed = try? await NIOThreadPool.singleton.runIfActive {
            Result { () throws(SchemaFault) in try ConnectorSchema(parsing: body) }
        }
        var schema: ConnectorSchema
        switch parsed {
        case .success(let value)?: schema = value
        case .failure(let fault)?: throw ConnectorRegistryError(.failedPrecondition, fault.message)
        case nil: throw ConnectorRegistryError(.cancelled, "activation cancelled")
        }
        guard !schema.logoURL.isEmpty else { return (schema, nil, "") }

        // The logo is optional: a failure is reported, not fatal. Keep a little
        // of the deadline for storing the result.
        let logoDeadline = deadline - .milliseconds(200)
        do {
            let logoURL = try finalURL.resolving(schema.logoURL)
            schema.logoURL = logoURL.description  // stored resolved, so it stays meaningful
            let (data, _) = try await fetcher.fetch(logoURL, maximumBytes: fetcher.limits.maximumLogoBytes, deadline: logoDeadline)
            guard let logo = Logo.sniff(data) else {
                return (schema, nil, "; logo not stored: it is not a PNG, JPEG, GIF, WebP or SVG image")
            }
            return (schema, logo, "")
        } catch let error as HTTPURLError {
            return (schema, nil, "; logo not stored: \(error.message)")
        } catch let failure as FetchFailure {
            if failure == .cancelled { throw ConnectorRegistryError(.cancelled, "activation cancelled") }
            return (schema, nil, "; logo not stored: \(Self.logoFailureReason(failure))")
        } catch {
            return (schema, nil, "; logo not stored: \(error)")
        }
    }

    /// Compare-and-swap before the work of a change: ABORTED unless `connector`
    /// is at `expected` (nil: no check). The store checks again as it commits.
    private static func check(_ connector: Connector, at expected: UInt64?) throws(ConnectorRegistryError) {
        if let expected, connector.revision != expected {
            throw ConnectorRegistryError(.aborted, "Connector \(connector.id) is at revision \(connector.revision), not \(expected)")
        }
    }

    private static func schemaFetchError(_ failure: FetchFailure) -> ConnectorRegistryError {
        switch failure {
        case .unreachable(let reason):
            ConnectorRegistryError(.unavailable, "Failed to connect to connector URL: \(reason)")
        case .status(let status):
            ConnectorRegistryError(.failedPrecondition, "Failed to fetch connector schema from URL. Status: \(status)")
        case .tooLarge(let limit):
            ConnectorRegistryError(.failedPrecondition, "Invalid connector schema: $: larger than the limit of \(limit) bytes")
        case .badRedirect(let reason):
            ConnectorRegistryError(.failedPrecondition, "Failed to fetch connector schema from URL: \(reason)")
        case .deadlineExceeded:
            ConnectorRegistryError(.deadlineExceeded, "Fetching the connector schema did not finish before the deadline")
        case .cancelled:
            ConnectorRegistryError(.cancelled, "activation cancelled")
        }
    }

    private static func logoFailureReason(_ failure: FetchFailure) -> String {
        switch failure {
        case .unreachable(let reason): "cannot connect: \(reason)"
        case .status(let status): "status \(status)"
        case .tooLarge(let limit): "larger than \(limit) bytes"
        case .badRedirect(let reason): reason
        case .deadlineExceeded: "not fetched before the deadline"
        case .cancelled: "cancelled"
        }
    }

    nonisolated func storage<T: Sendable>(_ operation: @Sendable () async throws -> T) async throws(ConnectorRegistryError) -> T {
        do {
            return try await operation()
        } catch {
            throw Self.storageError(error)
        }
    }

    private static func storageError(_ error: any Error) -> ConnectorRegistryError {
        if let registryError = error as? ConnectorRegistryError { return registryError }
        if error is CancellationError { return ConnectorRegistryError(.cancelled, "call cancelled") }
        return ConnectorRegistryError(.internal, "storage error", cause: error)
    }
}

extension ConnectorRegistry {
    /// The result of a registration.
    public struct Registration: Sendable, Hashable {
        public var connector: Connector
        /// `Connector 'NAME' registered successfully`
        public var message: String
        /// What to do next: activate with the connector URL.
        public var nextStep: String
    }

    /// The result of a change: the connector and a message for people.
    public struct Outcome: Sendable, Hashable {
        public var connector: Connector
        public var message: String

        /// What the change a history record tells of answered.
        init(_ record: HistoryRecord) {
            connector = record.connector
            message = record.message
        }
    }

    /// One page of the history.
    public struct HistoryPage: Sendable, Hashable {
        public var records: [HistoryRecord]
        /// Empty on the last page.
        public var nextPageToken: String
    }

    /// One page of a listing; it may be shorter than the page size asked
    /// even when more pages follow (see `list`).
    public struct ConnectorPage: Sendable, Hashable {
        public var connectors: [Connector]
        /// Empty on the last page.
        public var nextPageToken: String
        /// The registry's revision the page was read at: every change up to
        /// it is in the page; a watch from the next one misses nothing.
        public var revision: UInt64
    }
}
