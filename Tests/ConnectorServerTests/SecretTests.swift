import ConnectorAPI
import ConnectorClient
import ConnectorRegistry
import ConnectorServer
import Foundation
import NIOCore
import SampleConnectorKit
import TTRPC
import Testing

/// A connector's secret is stored (sealed) but never sent back: no string field
/// of any response holds it, nor do the raw response bytes; `hasSecret` says
/// one is set.
@Suite(.timeLimit(.minutes(5)))
struct SecretTests {
    /// Records an issue for every string field of `connector` that holds `secret`.
    static func expectNoSecret(
        _ connector: ConnectorsV1.Connector, _ secret: String, _ context: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(connector.stringFields.count >= 10, "reflection sees the string fields", sourceLocation: sourceLocation)
        for field in connector.stringFields {
            #expect(!field.value.contains(secret), "\(context): field \(field.name) holds the secret", sourceLocation: sourceLocation)
        }
    }

    @Test func secretIsNeverReturned() async throws {
        let secret = "s3cr3t-\(UUID().uuidString)"
        try await withDaemon { running, _ in
            try await FixtureHTTPServer.with(routes: SampleConnector.routes) { server in
                let client = running.client

                let registered = try await client.register(name: "secretive", description: "has a secret", secret: secret)
                #expect(registered.connector.hasSecret)
                Self.expectNoSecret(registered.connector, secret, "register")
                #expect(!registered.message.contains(secret))
                #expect(!registered.nextStep.contains(secret))
                let id = registered.connector.id

                let activated = try await client.activate(id: id, url: server.url("/connector.json"))
                #expect(activated.connector.hasSecret)
                Self.expectNoSecret(activated.connector, secret, "activate")
                #expect(!activated.message.contains(secret))

                let got = try await client.get(id: id)
                #expect(got.hasSecret)
                Self.expectNoSecret(got, secret, "get")

                let listed = try await client.list()
                #expect(listed.connectors.count == 1)
                for connector in listed.connectors {
                    #expect(connector.hasSecret)
                    Self.expectNoSecret(connector, secret, "list")
                }
                #expect(!listed.nextPageToken.contains(secret))

                let moded = try await client.setMode(id: id, mode: .sync)
                #expect(moded.hasSecret)
                Self.expectNoSecret(moded, secret, "setMode")

                // The deprecated Create with a secret.
                let createSecret = "create-\(UUID().uuidString)"
                server.setRoute("/other.json", .json(#"{"name": "other_one", "version": "1.0.0", "tools": [], "templates": []}"#))
                let created = try await client.create(url: server.url("/other.json"), secret: createSecret)
                #expect(created.connector.hasSecret)
                Self.expectNoSecret(created.connector, createSecret, "create")
                #expect(!created.message.contains(createSecret))

                // The raw bytes of every read answer hold neither secret.
                let transport = TTRPCClient(socketPath: running.socketPath)
                let requests: [(String, ByteBuffer)] = [
                    ("Get", byteBuffer(ConnectorsV1.GetRequest(connectorID: id))),
                    ("Get", byteBuffer(ConnectorsV1.GetRequest(connectorID: created.connector.id))),
                    ("List", byteBuffer(ConnectorsV1.ListRequest())),
                    ("GetLogo", byteBuffer(ConnectorsV1.GetLogoRequest(connectorID: id))),
                ]
                for (method, payload) in requests {
                    let answer = try await transport.call(service: ConnectorsV1.serviceName, method: method, payload: payload)
                    let bytes = Array(answer.readableBytesView)
                    #expect(!bytes.isEmpty)
                    #expect(!contains(bytes, Array(secret.utf8)), "\(method) answer holds the secret")
                    #expect(!contains(bytes, Array(createSecret.utf8)), "\(method) answer holds the secret")
                }
                // And the raw Register answer.
                let rawSecret = "raw-\(UUID().uuidString)"
                let answer = try await transport.call(
                    service: ConnectorsV1.serviceName, method: "Register",
                    payload: byteBuffer(ConnectorsV1.RegisterRequest(name: "raw_one", description: "d", secret: rawSecret)))
                #expect(!contains(Array(answer.readableBytesView), Array(rawSecret.utf8)))
                await transport.close()

                // The secrets were kept (sealed), for the daemon's own use.
                #expect(try await running.daemon.registry.secret(id: Int64(id)) == secret)
                #expect(try await running.daemon.registry.secret(id: Int64(created.connector.id)) == createSecret)
            }
        }
    }

    @Test func secretIsAbsentFromTheDataDirectoryInPlaintext() async throws {
        let secret = "plaintext-\(UUID().uuidString)"
        try await withDaemon { running, directory in
            let registered = try await running.client.register(name: "sealed", description: "d", secret: secret)
            #expect(registered.connector.hasSecret)
            let data = running.configuration.dataDirectory
            for name in try FileManager.default.contentsOfDirectory(atPath: data) {
                guard let contents = FileManager.default.contents(atPath: data + "/" + name) else { continue }
                #expect(!contains([UInt8](contents), Array(secret.utf8)), "\(name) holds the secret in plaintext")
            }
        }
    }

    @Test func noSecretMeansHasSecretFalse() async throws {
        try await withDaemon { running, _ in
            let a = try await running.client.register(name: "a", description: "d")
            #expect(a.connector.hasSecret == false)
            let b = try await running.client.register(name: "b", description: "d", secret: "")
            #expect(b.connector.hasSecret == false)
            let list = try await running.client.list()
            #expect(list.connectors.count == 2)
            #expect(list.connectors.allSatisfy { !$0.hasSecret })
        }
    }
}
