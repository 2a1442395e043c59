import ConnectorRegistry
import Foundation
import GRDB
import Glibc
import Logging
import SampleConnectorKit
import Testing

// MARK: - A registry on a fresh SQLite file

/// The files of one test's registry, in a fresh temporary directory.
struct TestFiles: Sendable {
    let directory: String
    var databasePath: String { directory + "/registry.sqlite" }
    var keyPath: String { directory + "/secret.key" }

    static func make() throws -> TestFiles {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("connectord-registry-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return TestFiles(directory: directory)
    }

    /// Opens the registry on these files, runs `body`, and closes the registry on every path.
    func withRegistry<T>(
        _ limits: FetchLimits = .forTests, logger: Logger = Logger(label: "connectord.registry"),
        _ body: (ConnectorRegistry) async throws -> T
    ) async throws -> T {
        try await withConnectorRegistry(databasePath: databasePath, keyFilePath: keyPath, fetchLimits: limits, logger: logger, body)
    }

    /// The error opening the registry on these files fails with; records an
    /// issue (and closes the registry) if it opens.
    func openingError(sourceLocation: SourceLocation = #_sourceLocation) async -> ConnectorRegistryError? {
        do {
            try await withRegistry { _ in }
            Issue.record("the registry opened", sourceLocation: sourceLocation)
            return nil
        } catch let error as ConnectorRegistryError {
            return error
        } catch {
            Issue.record("expected a ConnectorRegistryError, got \(error)", sourceLocation: sourceLocation)
            return nil
        }
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The raw bytes of the database file, its -wal and its -shm (those that exist).
    func databaseBytes() -> [(file: String, bytes: [UInt8])] {
        [databasePath, databasePath + "-wal", databasePath + "-shm"].compactMap { path in
            FileManager.default.contents(atPath: path).map { (path, [UInt8]($0)) }
        }
    }

    /// A separate GRDB connection to the registry's database file.
    func inspect<T>(_ body: (Database) throws -> T) throws -> T {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        let queue = try DatabaseQueue(path: databasePath, configuration: configuration)
        defer { try? queue.close() }
        return try queue.write(body)
    }
}

extension FetchLimits {
    /// Bounds a loaded machine meets: fetches on 127.0.0.1 that work finish
    /// long before them; tests of the bounds themselves set their own.
    static var forTests: FetchLimits {
        var limits = FetchLimits()
        limits.connectTimeout = .seconds(30)
        limits.totalTimeout = .seconds(120)
        return limits
    }

    static func with(connect: Duration = .seconds(30), total: Duration) -> FetchLimits {
        var limits = FetchLimits()
        limits.connectTimeout = connect
        limits.totalTimeout = total
        return limits
    }
}

/// Runs `body` with a registry on a fresh database and key file, closes the
/// registry afterwards (also when `body` throws) and removes the files.
@discardableResult
func withRegistry<T>(
    _ limits: FetchLimits = .forTests,
    _ body: (ConnectorRegistry, TestFiles) async throws -> T
) async throws -> T {
    let files = try TestFiles.make()
    defer { files.remove() }
    return try await files.withRegistry(limits) { registry in try await body(registry, files) }
}

/// Runs `body` with a registry and a fixture HTTP server serving `routes`.
@discardableResult
func withRegistryAndServer<T: Sendable>(
    _ routes: [String: FixtureRoute],
    limits: FetchLimits = .forTests,
    _ body: (ConnectorRegistry, FixtureHTTPServer, TestFiles) async throws -> T
) async throws -> T {
    try await withRegistry(limits) { registry, files in
        try await FixtureHTTPServer.with(routes: routes) { server in
            try await body(registry, server, files)
        }
    }
}

// MARK: - Errors

/// Expects `body` to fail with `code` (and, if given, exactly `message`);
/// returns the error for further checks.
@discardableResult
func expectError<T>(
    _ code: ConnectorRegistryError.Code,
    _ message: String? = nil,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> T
) async -> ConnectorRegistryError? {
    do {
        let value = try await body()
        Issue.record("expected \(code) but the call succeeded: \(value)", sourceLocation: sourceLocation)
        return nil
    } catch {
        guard let error = error as? ConnectorRegistryError else {
            Issue.record("expected a ConnectorRegistryError, got \(type(of: error)): \(error)", sourceLocation: sourceLocation)
            return nil
        }
        #expect(error.code == code, "message: \(error.message)", sourceLocation: sourceLocation)
        if let message {
            #expect(error.message == message, sourceLocation: sourceLocation)
        }
        return error
    }
}

// MARK: - Helpers

/// Registers a connector with a plain description.
@discardableResult
func register(_ registry: ConnectorRegistry, _ name: String, secret: String? = nil) async throws -> Connector {
    try await registry.register(name: name, description: "The \(name) connector", secret: secret).connector
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

/// Seconds elapsed while running `body`.
func timed<T>(_ body: () async throws -> T) async rethrows -> (T, Duration) {
    let start = ContinuousClock.now
    let result = try await body()
    return (result, ContinuousClock.now - start)
}

/// Whether `haystack` contains `needle` as a contiguous byte sequence.
func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
    guard !needle.isEmpty, haystack.count >= needle.count else { return needle.isEmpty }
    let first = needle[0]
    var index = 0
    let last = haystack.count - needle.count
    while index <= last {
        if haystack[index] == first && Array(haystack[index..<index + needle.count]) == needle { return true }
        index += 1
    }
    return false
}

/// The peak resident set size of this process, in bytes (Linux VmHWM).
func peakResidentBytes() -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let digits = line.filter(\.isNumber)
        return Int(digits).map { $0 * 1024 }
    }
    return nil
}

/// A connector.json document.
func schemaJSON(
    name: String? = "fixture_connector",
    description: String? = "A fixture connector",
    version: String? = "1.0.0",
    logoURL: String? = nil,
    tools: [String] = [#"{"name": "t1", "description": "first", "inputSchema": {"type": "object"}}"#],
    templates: [String] = [],
    config: String? = #"{"params": {"type": "object"}}"#
) -> String {
    var fields: [String] = []
    if let name { fields.append(#""name": "\#(name)""#) }
    if let description { fields.append(#""description": "\#(description)""#) }
    if let version { fields.append(#""version": "\#(version)""#) }
    if let logoURL { fields.append(#""logo_url": "\#(logoURL)""#) }
    fields.append(#""tools": [\#(tools.joined(separator: ","))]"#)
    fields.append(#""templates": [\#(templates.joined(separator: ","))]"#)
    if let config { fields.append(#""config": \#(config)"#) }
    return "{" + fields.joined(separator: ", ") + "}"
}
