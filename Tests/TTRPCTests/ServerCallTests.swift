import ConnectorAPI
import Glibc
import NIOCore
import TTRPC
import TestSupport
import Testing

/// What a handler saw of its call.
struct SeenCall: Sendable {
    var service: String
    var method: String
    var peer: PeerCredentials
    var metadata: Metadata
    var hasDeadline: Bool
}

@Suite("TTRPCClient calls TTRPCServer", .timeLimit(.minutes(5)))
struct ServerCallTests {
    @Test("an echo call succeeds; metadata and the caller's credentials reach the handler")
    func echoWithMetadataAndCredentials() async throws {
        let seen = Locked<[SeenCall]>([])
        var router = Router()
        router.test("Echo") { payload, context in
            seen.withLock {
                $0.append(
                    SeenCall(
                        service: context.service, method: context.method, peer: context.peer, metadata: context.metadata,
                        hasDeadline: context.deadline != nil))
            }
            return payload
        }
        try await withServerAndClient(router: router) { client, _ async throws in
            var metadata = Metadata()
            metadata.add("X-Request-ID", "abc")
            metadata.add("x-request-id", "def")
            metadata.add("tenant", "t1")
            let output = try await client.callTest("Echo", Array("hello".utf8), metadata: metadata)
            #expect(output == Array("hello".utf8))

            let calls = seen.value
            try #require(calls.count == 1)
            let call = calls[0]
            #expect(call.service == TestService.name)
            #expect(call.method == "Echo")
            #expect(call.metadata["x-request-id"] == ["abc", "def"])
            #expect(call.metadata["TENANT"] == ["t1"])
            #expect(call.metadata.entries.count == 3)
            #expect(!call.hasDeadline)
            #expect(call.peer.uid == getuid())
            #expect(call.peer.gid == getgid())
            #expect(call.peer.pid == getpid())
        }
    }

    @Test("empty and large (3 MiB) payloads are echoed intact")
    func payloadSizes() async throws {
        try await withServerAndClient(router: .echo) { client, _ async throws in
            #expect(try await client.callTest("Echo", []) == [])
            var random = SeededGenerator(seed: 3)
            let large = random.bytes(count: 3 << 20)
            #expect(try await client.callTest("Echo", large) == large)
        }
    }

    @Test("many sequential and concurrent calls share one client")
    func manyCalls() async throws {
        try await withServerAndClient(router: .echo) { client, _ async throws in
            for index in 0..<50 {
                #expect(try await client.callTest("Echo", bytes(of: UInt32(index))) == bytes(of: UInt32(index)))
            }
            try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<200 {
                    group.addTask { try await client.callTest("Echo", bytes(of: UInt32(index))) == bytes(of: UInt32(index)) }
                }
                for try await matched in group { #expect(matched) }
            }
        }
    }

    @Test("an unknown service is UNIMPLEMENTED 'service NAME'")
    func unknownService() async throws {
        try await withServerAndClient(router: .echo) { client, _ async throws in
            let error = await rpcError {
                _ = try await client.call(service: "nope.v1.Missing", method: "Echo", payload: ByteBuffer())
            }
            #expect(error == RPCError(code: .unimplemented, message: "service nope.v1.Missing"))
        }
    }

    @Test("an unknown method is UNIMPLEMENTED 'method NAME'")
    func unknownMethod() async throws {
        try await withServerAndClient(router: .echo) { client, _ async throws in
            let error = await rpcError { _ = try await client.callTest("Missing") }
            #expect(error == RPCError(code: .unimplemented, message: "method Missing"))
            // The connection is still fine.
            #expect(try await client.callTest("Echo", [1]) == [1])
        }
    }

    @Test("a payload the handler cannot decode: the handler's INVALID_ARGUMENT reaches the caller")
    func undecodablePayload() async throws {
        var router = Router()
        router.test("Get") { payload, _ in
            let request: ConnectorsV1.GetRequest
            do {
                request = try ConnectorsV1.GetRequest(serializedBytes: Array(payload.readableBytesView))
            } catch {
                throw RPCError(code: .invalidArgument, message: "bad GetRequest: \(error)")
            }
            let response = ConnectorsV1.GetResponse(connector: .init(id: request.connectorID, name: "c\(request.connectorID)"))
            return ByteBuffer(bytes: response.serializedBytes())
        }
        try await withServerAndClient(router: router) { client, _ async throws in
            // Field 1 declared as length-delimited with a length past the end.
            let error = await rpcError { _ = try await client.callTest("Get", [0x0A, 0x20, 0x01]) }
            #expect(error?.code == .invalidArgument)
            #expect(error?.message.hasPrefix("bad GetRequest: ") == true)

            let output = try await client.callTest("Get", ConnectorsV1.GetRequest(connectorID: 5).serializedBytes())
            #expect(try ConnectorsV1.GetResponse(serializedBytes: output).connector == .init(id: 5, name: "c5"))
        }
    }

    @Test("errors thrown by handlers map to statuses")
    func handlerErrors() async throws {
        struct Domain: RPCErrorConvertible {
            var rpcError: RPCError { RPCError(code: .alreadyExists, message: "Connector with name 'x' already exists") }
        }
        struct Opaque: Error {}
        var router = Router()
        router.test("Domain") { _, _ in throw Domain() }
        router.test("Opaque") { _, _ in throw Opaque() }
        router.test("Cancelled") { _, _ in throw CancellationError() }
        try await withServerAndClient(router: router) { client, _ async throws in
            #expect(
                await rpcError { _ = try await client.callTest("Domain") }
                    == RPCError(code: .alreadyExists, message: "Connector with name 'x' already exists"))
            // Details of unknown errors are not sent to the caller.
            #expect(await rpcError { _ = try await client.callTest("Opaque") } == RPCError(code: .internal, message: "internal error"))
            #expect(await rpcError { _ = try await client.callTest("Cancelled") }?.code == .cancelled)
        }
    }

    @Test("a client with no server is UNAVAILABLE")
    func noServer() async throws {
        try await withSocketPath { path async throws in
            let client = TTRPCClient(socketPath: path)
            let error = await rpcError { _ = try await client.callTest("Echo") }
            #expect(error?.code == .unavailable)
            await client.close()
        }
    }

    @Test("a closed client is UNAVAILABLE")
    func closedClient() async throws {
        try await withServerAndClient(router: .echo) { client, _ async throws in
            #expect(try await client.callTest("Echo", [1]) == [1])
            await client.close()
            #expect(await rpcError { _ = try await client.callTest("Echo", [1]) }?.code == .unavailable)
        }
    }

    @Test("a request larger than the client's frame limit is refused locally with RESOURCE_EXHAUSTED")
    func clientRequestLimit() async throws {
        try await withServer(router: .echo) { _, path async throws in
            let client = TTRPCClient(socketPath: path, maximumFrameSize: 1024)
            let error = await rpcError { _ = try await client.callTest("Echo", [UInt8](repeating: 1, count: 2048)) }
            #expect(error?.code == .resourceExhausted)
            #expect(try await client.callTest("Echo", [2]) == [2])
            await client.close()
        }
    }

    @Test("a response larger than the server's frame limit is RESOURCE_EXHAUSTED, the connection stays usable")
    func serverResponseLimit() async throws {
        var router = Router.echo
        router.test("Big") { _, _ in ByteBuffer(repeating: 1, count: 8192) }
        try await withServerAndClient(router: router, configure: { $0.maximumFrameSize = 4096 }) { client, _ async throws in
            #expect(await rpcError { _ = try await client.callTest("Big") }?.code == .resourceExhausted)
            #expect(try await client.callTest("Echo", [3]) == [3])
        }
    }
}
