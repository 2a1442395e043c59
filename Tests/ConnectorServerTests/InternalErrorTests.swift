import ConnectorAPI
import ConnectorRegistry
import ConnectorServer
import GRDB
import Logging
import NIOCore
import Synchronization
import TTRPC
import TestSupport
import Testing

/// An internal failure (here the database, its table gone) reaches the
/// caller as INTERNAL `internal error (ref XXXXXXXX)`: no SQL, path or system
/// error text; the log has the message and cause under the same reference.
@Suite(.timeLimit(.minutes(5)))
struct InternalErrorTests {
    @Test func theCallerGetsAReferenceAndTheLogTheCause() async throws {
        try await withTempDirectory { directory in
            let log = LogRecorder()
            try await withConnectorRegistry(databasePath: directory("r.sqlite"), keyFilePath: directory("secret.key")) { registry in
                var router = Router()
                ConnectorService(registry: registry, policy: AccessPolicy(), logger: Logger(label: "test") { _ in log })
                    .register(into: &router)
                let handlers = AuthorizationTests.Handlers(router: router)
                let root = PeerCredentials(pid: 1, uid: 0, gid: 0)

                // Behind the registry's back, the table goes.
                let side = try DatabaseQueue(path: directory("r.sqlite"))
                try await side.write { db in try db.execute(sql: "DROP TABLE mcp_connectors") }
                try await side.close()

                let result = await handlers.call(.get, ConnectorsV1.GetRequest(connectorID: 42), as: root)
                let error = try #require(result.failure)
                #expect(error.code == .internal)
                let reference = try #require(error.message.wholeMatch(of: /internal error \(ref ([0-9a-f]{8})\)/)?.1)
                for leak in ["mcp_connectors", "SQL", "table", directory.path, "storage"] {
                    #expect(!error.message.contains(leak), "the caller was told \(error.message)")
                }
                let logged = log.records.filter { $0.contains(String(reference)) }
                #expect(logged.count == 1, "\(log.records)")
                #expect(logged.first?.contains("no such table: mcp_connectors") == true, "\(logged)")
            }
        }
    }
}

