import ConnectorAPI
import ConnectorClient
import ConnectorRegistry
import ConnectorServer
import Foundation
import Glibc
import NIOCore
import Testing

#if DEBUG
@testable import TTRPC
#else
import TTRPC
#endif

/// Who is a superuser (uid 0, the daemon's uid, configured uids, members of
/// configured groups), and that the service asks the policy before every change.
@Suite(.timeLimit(.minutes(5)))
struct AuthorizationTests {
    static func peer(uid: UInt32, gid: UInt32) -> PeerCredentials {
        PeerCredentials(pid: 1, uid: uid, gid: gid)
    }

    /// A uid/gid with none of the default admin properties.
    static let nobody: (uid: UInt32, gid: UInt32) = (65534, 65534)

    @Test func defaultPolicyAllowsRootAndTheDaemonsOwnUIDOnly() {
        let policy = AccessPolicy()
        #expect(policy.isSuperuser(Self.peer(uid: 0, gid: 0)))
        #expect(policy.isSuperuser(Self.peer(uid: 0, gid: 12345)), "uid 0 whatever its group")
        #expect(policy.isSuperuser(Self.peer(uid: getuid(), gid: getgid())))
        #expect(policy.isSuperuser(Self.peer(uid: getuid(), gid: 54321)))
        #expect(policy.adminUIDs.contains(0))
        #expect(policy.adminUIDs.contains(getuid()))
        if getuid() != Self.nobody.uid {
            #expect(!policy.isSuperuser(Self.peer(uid: Self.nobody.uid, gid: Self.nobody.gid)))
            #expect(!policy.isSuperuser(Self.peer(uid: Self.nobody.uid, gid: 0)), "gid 0 alone is not an admin group unless configured")
        }
        #expect(!policy.isSuperuser(Self.peer(uid: 4_000_000, gid: 4_000_000)))
        #expect(!policy.isSuperuser(Self.peer(uid: .max, gid: .max)), "unknown peer credentials are not a superuser")
    }

    @Test func configuredUIDsAndGroups() {
        let policy = AccessPolicy(adminUIDs: [1234], adminGIDs: [4321])
        #expect(policy.isSuperuser(Self.peer(uid: 1234, gid: 1234)), "a configured uid")
        #expect(policy.isSuperuser(Self.peer(uid: 0, gid: 0)), "root still is")
        #expect(policy.isSuperuser(Self.peer(uid: getuid(), gid: getgid())), "the daemon's uid still is")
        #expect(policy.isSuperuser(Self.peer(uid: 2_000_000, gid: 4321)), "a configured gid as the primary gid")
        if getuid() != Self.nobody.uid {
            #expect(!policy.isSuperuser(Self.peer(uid: Self.nobody.uid, gid: Self.nobody.gid)))
        }
        #expect(!policy.isSuperuser(Self.peer(uid: 1235, gid: 4320)))
        #expect(!policy.isSuperuser(Self.peer(uid: 4321, gid: 1234)), "uids and gids are not mixed up")
    }

    /// A member of a configured group through the group database (a
    /// supplementary group), when this system has such a user.
    @Test func supplementaryGroupMembership() throws {
        guard let text = try? String(contentsOfFile: "/etc/group", encoding: .utf8) else { return }
        var found: (uid: UInt32, primary: UInt32, group: UInt32)?
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            guard fields.count == 4, let gid = UInt32(fields[2]) else { continue }
            for member in fields[3].split(separator: ",") {
                guard let entry = getpwnam(String(member)) else { continue }
                let uid = entry.pointee.pw_uid
                let primary = entry.pointee.pw_gid
                if primary != gid && uid != 0 && uid != getuid() {
                    found = (uid, primary, gid)
                    break
                }
            }
            if found != nil { break }
        }
        guard let found else { return }  // no such user here: nothing to check
        let policy = AccessPolicy(adminGIDs: [found.group])
        #expect(policy.isSuperuser(Self.peer(uid: found.uid, gid: found.primary)), "uid \(found.uid) is in group \(found.group)")
        let other = AccessPolicy(adminGIDs: [found.group &+ 1_000_000])
        #expect(!other.isSuperuser(Self.peer(uid: found.uid, gid: found.primary)))
    }

    @Test func daemonWithoutExtraAdminsServesItsOwnUID() async throws {
        try await withDaemon(configure: { $0.policy = AccessPolicy(adminUIDs: [], adminGIDs: []) }) { running, _ in
            #expect(running.configuration.policy.adminUIDs == [0, getuid()])
            // Every change is allowed to this process: it runs as the daemon's uid.
            let id = try await running.client.register(name: "mine", description: "d").connector.id
            #expect(try await running.client.setMode(id: id, mode: .deactive).mode == .deactive)
            #expect(try await running.client.list().connectors.count == 1)
            _ = try await running.client.delete(id: id)
        }
    }

    #if DEBUG
    /// The service's handlers, called as the router would call them for a
    /// peer with the given credentials.
    struct Handlers {
        let router: Router

        func call<Request: ProtoMessage>(
            _ method: ConnectorsV1.Method, _ request: Request, as peer: PeerCredentials
        ) async -> Result<[UInt8], RPCError> {
            await call(method, bytes: request.serializedBytes(), as: peer)
        }

        func call(_ method: ConnectorsV1.Method, bytes: [UInt8], as peer: PeerCredentials) async -> Result<[UInt8], RPCError> {
            switch router.handler(service: ConnectorsV1.serviceName, method: method.rawValue) {
            case .failure(let error):
                return .failure(error)
            case .success(let handler):
                let context = ServerContext(service: ConnectorsV1.serviceName, method: method.rawValue, peer: peer)
                do {
                    let output = try await handler(ByteBuffer(bytes: bytes), context)
                    return .success(Array(output.readableBytesView))
                } catch let error as any RPCErrorConvertible {
                    return .failure(error.rpcError)
                } catch {
                    return .failure(RPCError(code: .internal, message: "\(error)"))
                }
            }
        }
    }

    /// Every change by a peer that is not a superuser is PERMISSION_DENIED with
    /// the seed's message (checked before the request is even decoded); reads
    /// are open; configured admins may change.
    @Test(.enabled(if: getuid() != 65534 && getuid() != 4_100_000)) func serviceRefusesChangesFromNonSuperusers() async throws {
        try await withTempDirectory { directory in
            try await withConnectorRegistry(databasePath: directory("r.sqlite"), keyFilePath: directory("secret.key")) { registry in
                var router = Router()
                ConnectorService(registry: registry, policy: AccessPolicy(adminUIDs: [4_100_000])).register(into: &router)
                let handlers = Handlers(router: router)
                let stranger = Self.peer(uid: Self.nobody.uid, gid: Self.nobody.gid)
                let admin = Self.peer(uid: 4_100_000, gid: 4_100_000)
                let denied = RPCError(code: .permissionDenied, message: "Access denied. Superuser role required.")

                // A configured admin registers one.
                let registered = try await handlers.call(
                    .register, ConnectorsV1.RegisterRequest(name: "guarded", description: "d"), as: admin
                ).get()
                let id = try ConnectorsV1.RegisterResponse(serializedBytes: registered).connector.id

                // The stranger may change nothing.
                let changes: [(ConnectorsV1.Method, [UInt8])] = [
                    (.register, ConnectorsV1.RegisterRequest(name: "intruder", description: "d").serializedBytes()),
                    (.activate, ConnectorsV1.ActivateRequest(connectorID: id, connectorURL: "http://127.0.0.1:1/c.json").serializedBytes()),
                    (.setMode, ConnectorsV1.SetModeRequest(connectorID: id, mode: .deactive).serializedBytes()),
                    (.delete, ConnectorsV1.DeleteRequest(connectorID: id).serializedBytes()),
                    (.create, ConnectorsV1.CreateRequest(connectorURL: "http://127.0.0.1:1/c.json", secret: "").serializedBytes()),
                    // Refused before decoding: garbage is PERMISSION_DENIED too, not INVALID_ARGUMENT.
                    (.register, [0x0A, 0x05, 0x61]),
                    // Unknown ids too: no probing what exists.
                    (.delete, ConnectorsV1.DeleteRequest(connectorID: 99).serializedBytes()),
                ]
                for (method, bytes) in changes {
                    let result = await handlers.call(method, bytes: bytes, as: stranger)
                    #expect(result.failure == denied, "\(method.rawValue): \(result)")
                }
                // Members of the primary group 65534 are strangers too, unless configured.
                #expect(await handlers.call(.delete, ConnectorsV1.DeleteRequest(connectorID: id), as: stranger).failure == denied)

                // Reads are open to the stranger.
                let listed = try await handlers.call(.list, ConnectorsV1.ListRequest(), as: stranger).get()
                #expect(try ConnectorsV1.ListResponse(serializedBytes: listed).connectors.map(\.name) == ["guarded"])
                let got = try await handlers.call(.get, ConnectorsV1.GetRequest(connectorID: id), as: stranger).get()
                #expect(try ConnectorsV1.GetResponse(serializedBytes: got).connector.mode == .deactive)
                let logo = await handlers.call(.getLogo, ConnectorsV1.GetLogoRequest(connectorID: id), as: stranger)
                #expect(logo.failure?.code == .notFound, "GetLogo is a read: NOT_FOUND (no logo), not PERMISSION_DENIED")

                // Root and the admin may change.
                let root = Self.peer(uid: 0, gid: 0)
                let moded = try await handlers.call(.setMode, ConnectorsV1.SetModeRequest(connectorID: id, mode: .deactive), as: root).get()
                #expect(try ConnectorsV1.SetModeResponse(serializedBytes: moded).connector.mode == .deactive)
                _ = try await handlers.call(.delete, ConnectorsV1.DeleteRequest(connectorID: id), as: admin).get()

                // A policy by group.
                var byGroup = Router()
                ConnectorService(registry: registry, policy: AccessPolicy(adminGIDs: [4_200_000])).register(into: &byGroup)
                let groupHandlers = Handlers(router: byGroup)
                let member = Self.peer(uid: 4_300_000, gid: 4_200_000)
                #expect(await groupHandlers.call(.register, ConnectorsV1.RegisterRequest(name: "by_group", description: "d"), as: member).failure == nil)
                #expect(await groupHandlers.call(.register, ConnectorsV1.RegisterRequest(name: "by_other", description: "d"), as: stranger).failure == denied)
            }
        }
    }
    #endif
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
