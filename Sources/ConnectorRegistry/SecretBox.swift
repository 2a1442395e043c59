import Crypto
import Foundation
import Glibc

/// Seals connector secrets with AES-256-GCM under a key kept in a file.
///
/// The key file holds 32 random bytes, is created with mode 0600, and is
/// refused if group or others may read or write it. A sealed secret is bound
/// to its connector's id (associated data), so it does not open in another row.
/// Layout: version byte (1), the key id (first 8 bytes of SHA-256 of the key),
/// then nonce, ciphertext and tag.
struct SecretBox: Sendable {
    private static let version: UInt8 = 1
    private let keyBytes: [UInt8]
    private let keyID: [UInt8]

    init(key: [UInt8]) {
        keyBytes = key
        keyID = Array(SHA256.hash(data: key).prefix(8))
    }

    private var key: SymmetricKey { SymmetricKey(data: keyBytes) }

    /// Loads the key at `path`, creating it (mode 0600) if it does not exist.
    /// - Throws: `ConnectorRegistryError` (internal) if the file is readable by
    ///   others, has the wrong size, or cannot be read or created.
    init(keyFile path: String) throws(ConnectorRegistryError) {
        var info = stat()
        if lstat(path, &info) != 0 {
            guard errno == ENOENT else { throw Self.fileError(path, "cannot be read") }
            try Self.createKey(at: path)
            guard lstat(path, &info) == 0 else { throw Self.fileError(path, "cannot be read") }
        }
        guard info.st_mode & S_IFMT == S_IFREG else { throw Self.fileError(path, "is not a regular file") }
        let permissions = info.st_mode & 0o777
        guard permissions & 0o077 == 0 else {
            throw ConnectorRegistryError(
                .internal,
                "key file \(path) has mode \(String(permissions, radix: 8)); it must not be accessible by group or others (chmod 600 \(path))")
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw Self.fileError(path, "cannot be read") }
        guard data.count == 32 else { throw Self.fileError(path, "must hold exactly 32 bytes, not \(data.count)") }
        self.init(key: [UInt8](data))
    }

    private static func createKey(at path: String) throws(ConnectorRegistryError) {
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw fileError(path, "cannot be created: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let key = SymmetricKey(size: .bits256)
        let written = key.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == 32, fsync(fd) == 0 else {
            unlink(path)
            throw fileError(path, "cannot be written")
        }
    }

    private static func fileError(_ path: String, _ problem: String) -> ConnectorRegistryError {
        ConnectorRegistryError(.internal, "key file \(path) \(problem)")
    }

    /// Seals `secret` for the connector `connectorID`.
    func seal(_ secret: String, connectorID: Int64) throws -> [UInt8] {
        let box = try AES.GCM.seal(Data(secret.utf8), using: key, authenticating: Self.associatedData(connectorID))
        return [Self.version] + keyID + Array(box.combined!)
    }

    /// Opens a secret sealed for `connectorID`.
    /// - Throws: `ConnectorRegistryError` (dataLoss-like internal) if it was
    ///   sealed under another key, for another connector, or altered.
    func open(_ sealed: [UInt8], connectorID: Int64) throws(ConnectorRegistryError) -> String {
        let failure = ConnectorRegistryError(.internal, "the sealed secret of connector \(connectorID) does not open: altered, moved, or sealed under another key")
        guard sealed.count > 1 + keyID.count, sealed[0] == Self.version, Array(sealed[1...keyID.count]) == keyID else {
            throw failure
        }
        do {
            let box = try AES.GCM.SealedBox(combined: Data(sealed[(1 + keyID.count)...]))
            // On Linux a failed open throws BoringSSL's error, not authenticationFailure: any error is a failure.
            let plain = try AES.GCM.open(box, using: key, authenticating: Self.associatedData(connectorID))
            guard let secret = String(validating: plain, as: UTF8.self) else { throw failure }
            return secret
        } catch {
            throw failure
        }
    }

    private static func associatedData(_ connectorID: Int64) -> Data {
        Data("connectord/connector/\(connectorID)".utf8)
    }
}
