import ConnectorRegistry
import Foundation
import GRDB
import Glibc
import Logging
import SampleConnectorKit
import Synchronization
import TestSupport
import Testing


/// Secrets: sealed with AES-GCM, bound to their connector, never in plaintext
/// on disk or in any answer; the key file's permissions.
@Suite(.timeLimit(.minutes(5)))
struct SecretTests {
    static let secret = "s3cr3t-VALUE-123"

    /// Every field of a connector as text.
    static func fieldTexts(_ connector: Connector) -> [String] {
        Mirror(reflecting: connector).children.map { "\($0.value)" } + ["\(connector)", String(reflecting: connector)]
    }

    @Test func secretIsStoredAndOpens() async throws {
        try await withRegistry { registry, _ in
            let with = try await register(registry, "with_secret", secret: Self.secret)
            let without = try await register(registry, "without_secret")
            let empty = try await register(registry, "empty_secret", secret: "")
            #expect(with.hasSecret)
            #expect(without.hasSecret == false)
            #expect(empty.hasSecret == false)
            #expect(try await registry.secret(id: with.id) == Self.secret)
            #expect(try await registry.secret(id: without.id) == nil)
            #expect(try await registry.secret(id: empty.id) == nil)
            let unicode = try await register(registry, "unicode_secret", secret: "päss wörd 🔑")
            #expect(try await registry.secret(id: unicode.id) == "päss wörd 🔑")
        }
    }

    @Test func plaintextSecretIsNowhereOnDiskNorInAnyAnswerNorInTheLog() async throws {
        let files = try TestFiles.make()
        defer { files.remove() }
        let handler = LogRecorder()
        let needle = Array(Self.secret.utf8)
        try await files.withRegistry(logger: Logger(label: "test") { _ in handler }) { registry in
            var answers: [String] = []
            var ids: [Int64] = []
            try await FixtureHTTPServer.with(routes: SampleConnector.routes) { server in
                for index in 0..<5 {
                    let registration = try await registry.register(name: "secretive\(index)", description: "d", secret: Self.secret)
                    answers += [registration.message, registration.nextStep] + Self.fieldTexts(registration.connector)
                    ids.append(registration.connector.id)
                }
                let activated = try await registry.activate(id: ids[0], url: server.url("/connector.json"))
                answers += [activated.message] + Self.fieldTexts(activated.connector)
                let moded = try await registry.setMode(id: ids[0], to: .sync)
                answers += Self.fieldTexts(moded)
                let created = try await registry.create(url: server.url("/connector.json"), secret: Self.secret)
                answers += [created.message] + Self.fieldTexts(created.connector)
                ids.append(created.connector.id)
                for connector in try await registry.list(mode: nil, pageSize: 0, pageToken: "").connectors {
                    answers += Self.fieldTexts(connector)
                }
                for id in ids { answers += Self.fieldTexts(try await registry.connector(id: id)) }
                let deleted = try await registry.delete(id: ids[1])
                answers += [deleted.message] + Self.fieldTexts(deleted.connector)
                #expect(try await registry.secret(id: ids[0]) == Self.secret)
            }
            for answer in answers {
                #expect(!answer.contains(Self.secret), "an answer contains the secret: \(answer)")
            }

            // While open: the database file, its WAL and shared memory.
            let whileOpen = files.databaseBytes()
            #expect(whileOpen.contains { $0.file.hasSuffix("-wal") })
            for (file, bytes) in whileOpen {
                #expect(!contains(bytes, needle), "plaintext secret found in \(file)")
            }
        }

        // After closing: whatever files remain.
        let afterClose = files.databaseBytes()
        #expect(!afterClose.isEmpty)
        for (file, bytes) in afterClose {
            #expect(!contains(bytes, needle), "plaintext secret found in \(file)")
        }
        #expect(!handler.records.isEmpty)
        for record in handler.records {
            #expect(!record.contains(Self.secret), "logged: \(record)")
        }
        // The sealed values are there (so the test looks at the right files).
        let sealed = try files.inspect { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM mcp_connectors WHERE sealed_secret IS NOT NULL") }
        #expect(sealed == 5)
    }

    @Test func sealedSecretMovedToAnotherRowDoesNotOpen() async throws {
        try await withRegistry { registry, files in
            let a = try await register(registry, "owner", secret: Self.secret)
            let b = try await register(registry, "thief")
            let c = try await register(registry, "other", secret: "other-secret")
            try files.inspect { db in
                try db.execute(
                    sql: "UPDATE mcp_connectors SET sealed_secret = (SELECT sealed_secret FROM mcp_connectors WHERE id = ?) WHERE id IN (?, ?)",
                    arguments: [a.id, b.id, c.id])
            }
            // The row now carries a sealed value (read from the file: the
            // registry's cache only knows the changes made through it).
            let thiefHasSecret = try files.inspect { db in
                try Bool.fetchOne(db, sql: "SELECT sealed_secret IS NOT NULL FROM mcp_connectors WHERE id = ?", arguments: [b.id])
            }
            #expect(thiefHasSecret == true)
            for id in [b.id, c.id] {
                let error = await expectError(
                    .internal, "the sealed secret of connector \(id) does not open: altered, moved, or sealed under another key"
                ) {
                    try await registry.secret(id: id)
                }
                #expect(error?.message.contains("does not open") == true)
                #expect(error?.message.contains(Self.secret) == false)
            }
            // The original still opens.
            #expect(try await registry.secret(id: a.id) == Self.secret)
        }
    }

    @Test func tamperedSealedSecretDoesNotOpen() async throws {
        try await withRegistry { registry, files in
            let connector = try await register(registry, "tampered", secret: Self.secret)
            let original = try #require(try files.inspect { db in
                try Data.fetchOne(db, sql: "SELECT sealed_secret FROM mcp_connectors WHERE id = ?", arguments: [connector.id])
            })
            // version, key id, nonce, ciphertext, tag
            let positions = [0, 1, 9, 9 + 12, original.count - 1]
            #expect(original.count == 1 + 8 + 12 + Self.secret.utf8.count + 16)
            for position in positions {
                var tampered = original
                tampered[position] ^= 0x01
                try files.inspect { db in
                    try db.execute(sql: "UPDATE mcp_connectors SET sealed_secret = ? WHERE id = ?", arguments: [tampered, connector.id])
                }
                await expectError(.internal, "the sealed secret of connector \(connector.id) does not open: altered, moved, or sealed under another key") {
                    try await registry.secret(id: connector.id)
                }
            }
            // Truncated.
            try files.inspect { db in
                try db.execute(sql: "UPDATE mcp_connectors SET sealed_secret = ? WHERE id = ?", arguments: [original.prefix(20), connector.id])
            }
            await expectError(.internal) { try await registry.secret(id: connector.id) }
            // Restored, it opens again.
            try files.inspect { db in
                try db.execute(sql: "UPDATE mcp_connectors SET sealed_secret = ? WHERE id = ?", arguments: [original, connector.id])
            }
            #expect(try await registry.secret(id: connector.id) == Self.secret)
        }
    }

    @Test func keyFileIsCreatedWithMode0600() async throws {
        try await withRegistry { registry, files in
            var info = stat()
            #expect(lstat(files.keyPath, &info) == 0)
            #expect(info.st_mode & S_IFMT == S_IFREG)
            #expect(info.st_mode & 0o777 == 0o600)
            #expect(info.st_size == 32)
            _ = try await register(registry, "k", secret: "x")
        }
    }

    @Test(arguments: [0o644, 0o640, 0o604, 0o660, 0o666, 0o700 | 0o004])
    func keyFileReadableByOthersIsRefused(mode: Int) async throws {
        let files = try TestFiles.make()
        defer { files.remove() }
        try await files.withRegistry { _ in }
        #expect(chmod(files.keyPath, mode_t(mode)) == 0)

        let error = await files.openingError()
        #expect(error?.code == .internal)
        let octal = String(mode, radix: 8)
        #expect(error?.message == "key file \(files.keyPath) has mode \(octal); it must not be accessible by group or others (chmod 600 \(files.keyPath))")
        #expect(error?.message.contains("group or others") == true)

        // Fixed as the message says, it opens again.
        #expect(chmod(files.keyPath, 0o600) == 0)
        try await files.withRegistry { _ in }
    }

    @Test func ownerReadOnlyKeyFileIsAccepted() async throws {
        let files = try TestFiles.make()
        defer { files.remove() }
        let connector = try await files.withRegistry { registry in try await register(registry, "ro", secret: Self.secret) }
        #expect(chmod(files.keyPath, 0o400) == 0)
        try await files.withRegistry { reopened async throws in
            #expect(try await reopened.secret(id: connector.id) == Self.secret)
        }
    }

    @Test func badKeyFilesAreRefused() async throws {
        let files = try TestFiles.make()
        defer { files.remove() }

        // Wrong size.
        #expect(FileManager.default.createFile(atPath: files.keyPath, contents: Data(count: 16), attributes: [.posixPermissions: 0o600]))
        var error = await files.openingError()
        #expect(error?.code == .internal)
        #expect(error?.message == "key file \(files.keyPath) must hold exactly 32 bytes, not 16")

        // A directory.
        try FileManager.default.removeItem(atPath: files.keyPath)
        try FileManager.default.createDirectory(atPath: files.keyPath, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        error = await files.openingError()
        #expect(error?.message == "key file \(files.keyPath) is not a regular file")
        #expect(FileManager.default.fileExists(atPath: files.databasePath) == false)  // refused before touching the database
    }

    @Test func anotherKeyDoesNotOpenTheSecret() async throws {
        let files = try TestFiles.make()
        defer { files.remove() }
        let connector = try await files.withRegistry { registry in try await register(registry, "rekeyed", secret: Self.secret) }

        try FileManager.default.removeItem(atPath: files.keyPath)
        try await files.withRegistry { reopened async throws in  // creates a new key
            await expectError(.internal, "the sealed secret of connector \(connector.id) does not open: altered, moved, or sealed under another key") {
                try await reopened.secret(id: connector.id)
            }
            #expect(try await reopened.connector(id: connector.id).hasSecret)
        }
    }
}
