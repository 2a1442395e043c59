import ConnectorAPI
import ConnectorClient
import ConnectorRegistry
import ConnectorServer
import Foundation
import Glibc
import NIOCore
import Synchronization
import TestSupport
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

    @Test func defaultPolicyAllowsRootAndTheDaemonsOwnUIDOnly() async {
        let policy = AccessPolicy()
        #expect(await policy.isSuperuser(Self.peer(uid: 0, gid: 0)))
        #expect(await policy.isSuperuser(Self.peer(uid: 0, gid: 12345)), "uid 0 whatever its group")
        #expect(await policy.isSuperuser(Self.peer(uid: getuid(), gid: getgid())))
        #expect(await policy.isSuperuser(Self.peer(uid: getuid(), gid: 54321)))
        #expect(policy.adminUIDs.contains(0))
        #expect(policy.adminUIDs.contains(getuid()))
        if getuid() != Self.nobody.uid {
            #expect(await !policy.isSuperuser(Self.peer(uid: Self.nobody.uid, gid: Self.nobody.gid)))
            #expect(await !policy.isSuperuser(Self.peer(uid: Self.nobody.uid, gid: 0)), "gid 0 alone is not an admin group unless configured")
        }
        #expect(await !policy.isSuperuser(Self.peer(uid: 4_000_000, gid: 4_000_000)))
        #expect(await !policy.isSuperuser(Self.peer(uid: .max, gid: .max)), "unknown peer credentials are not a superuser")
    }

    @Test func configuredUIDsAndGroups() async {
        let policy = AccessPolicy(adminUIDs: [1234], adminGIDs: [4321])
        #expect(await policy.isSuperuser(Self.peer(uid: 1234, gid: 1234)), "a configured uid")
        #expect(await policy.isSuperuser(Self.peer(uid: 0, gid: 0)), "root still is")
        #expect(await policy.isSuperuser(Self.peer(uid: getuid(), gid: getgid())), "the daemon's uid still is")
        #expect(await policy.isSuperuser(Self.peer(uid: 2_000_000, gid: 4321)), "a configured gid as the primary gid")
        if getuid() != Self.nobody.uid {
            #expect(await !policy.isSuperuser(Self.peer(uid: Self.nobody.uid, gid: Self.nobody.gid)))
        }
        #expect(await !policy.isSuperuser(Self.peer(uid: 1235, gid: 4320)))
        #expect(await !policy.isSuperuser(Self.peer(uid: 4321, gid: 1234)), "uids and gids are not mixed up")
    }

    /// A member of a configured group through the group database (a
    /// supplementary group), when this system has such a user.
    @Test func supplementaryGroupMembership() async throws {
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
        #expect(await policy.isSuperuser(Self.peer(uid: found.uid, gid: found.primary)), "uid \(found.uid) is in group \(found.group)")
        let other = AccessPolicy(adminGIDs: [found.group &+ 1_000_000])
        #expect(await !other.isSuperuser(Self.peer(uid: found.uid, gid: found.primary)))
    }

    /// Group membership is looked up once per user, not per call; copies of a
    /// policy share what they looked up.
    @Test func groupsAreLookedUpOncePerUserNotPerCall() async {
        let database = FakeGroupDatabase([5000: [7000], 5001: [7001]])
        let policy = AccessPolicy(adminGIDs: [7000], groupsOfUser: database.groups(ofUser:))
        for _ in 0..<100 {
            #expect(await policy.isSuperuser(Self.peer(uid: 5000, gid: 5000)))
            #expect(await !policy.isSuperuser(Self.peer(uid: 5001, gid: 5001)))
        }
        #expect(database.lookupCount(of: 5000) == 1)
        #expect(database.lookupCount(of: 5001) == 1)
        let copy = policy
        #expect(await copy.isSuperuser(Self.peer(uid: 5000, gid: 5000)))
        #expect(database.lookupCount(of: 5000) == 1, "a copy shares the cache")

        // A configured uid or primary gid needs no lookup, nor does a policy without admin groups.
        #expect(await policy.isSuperuser(Self.peer(uid: 5002, gid: 7000)))
        #expect(await policy.isSuperuser(Self.peer(uid: 0, gid: 0)))
        let withoutGroups = AccessPolicy(adminUIDs: [1], groupsOfUser: database.groups(ofUser:))
        #expect(await !withoutGroups.isSuperuser(Self.peer(uid: 5003, gid: 5003)))
        #expect(database.lookupCount(of: 5002) == 0)
        #expect(database.lookupCount(of: 0) == 0)
        #expect(database.lookupCount(of: 5003) == 0)
    }

    /// Callers asking about a user not seen yet, while its lookup runs, wait
    /// for that lookup rather than starting their own.
    @Test func concurrentCallersShareOneLookup() async {
        let database = FakeGroupDatabase([5000: [7000]])
        let gate = DispatchSemaphore(value: 0)
        database.beforeEachLookup = { gate.wait() }
        let policy = AccessPolicy(adminGIDs: [7000], groupsOfUser: database.groups(ofUser:))
        let callers = 50
        let (started, starting) = AsyncStream.makeStream(of: Void.self)
        await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<callers {
                group.addTask {
                    starting.yield()
                    return await policy.isSuperuser(Self.peer(uid: 5000, gid: 5000))
                }
            }
            // The first lookup blocks until every caller has started.
            var startedCallers = 0
            for await _ in started {
                startedCallers += 1
                if startedCallers == callers { break }
            }
            gate.signal()
            var answers = 0
            for await answer in group {
                #expect(answer)
                answers += 1
            }
            #expect(answers == callers)
        }
        #expect(database.lookupCount(of: 5000) == 1)
    }

    /// The group database is read on NIO's thread pool, never on Swift's
    /// cooperative pool (NSS lookups can block).
    @Test func lookupsRunOnTheBlockingThreadPool() async {
        let database = FakeGroupDatabase([5000: []])
        let policy = AccessPolicy(adminGIDs: [7000], groupsOfUser: database.groups(ofUser:))
        #expect(await !policy.isSuperuser(Self.peer(uid: 5000, gid: 5000)))
        await policy.refreshGroupMembership()
        let threads = database.lookupThreadNames
        #expect(threads.count == 2)
        #expect(threads.allSatisfy { $0.contains("TP-#") }, "NIOThreadPool threads are named (SGLTN-)TP-#n: \(threads)")
    }

    /// A change in the group database counts after a refresh, not before.
    @Test func aRefreshSeesMembershipChanges() async {
        let database = FakeGroupDatabase([5000: [100]])
        let policy = AccessPolicy(adminGIDs: [7000], groupsOfUser: database.groups(ofUser:))
        let member = Self.peer(uid: 5000, gid: 5000)
        #expect(await !policy.isSuperuser(member))
        database.setGroups(of: 5000, [100, 7000])
        #expect(await !policy.isSuperuser(member), "kept until refreshed")
        await policy.refreshGroupMembership()
        #expect(await policy.isSuperuser(member), "added to the group")
        database.setGroups(of: 5000, [100])
        await policy.refreshGroupMembership()
        #expect(await !policy.isSuperuser(member), "removed from the group")
        #expect(database.lookupCount(of: 5000) == 3)
        // A refresh looks up only the users seen.
        #expect(database.lookupCount(of: 5001) == 0)
    }

    /// The daemon refreshes group membership every `groupRefreshInterval`
    /// while it serves, and stops doing so when it stops.
    @Test func theDaemonRefreshesOnItsInterval() async throws {
        let database = FakeGroupDatabase([5000: []])
        try await withDaemon(configure: {
            $0.policy = AccessPolicy(adminGIDs: [7000], groupsOfUser: database.groups(ofUser:))
            $0.groupRefreshInterval = .milliseconds(20)
        }) { running, _ in
            let policy = running.configuration.policy
            let member = Self.peer(uid: 5000, gid: 5000)
            #expect(await !policy.isSuperuser(member))
            database.setGroups(of: 5000, [7000])
            // Two more lookups: the first refresh after the change has stored its answer.
            try await database.waitForLookups(of: 5000, count: database.lookupCount(of: 5000) + 2)
            #expect(await policy.isSuperuser(member))
        }
    }

    /// `reloadAccessPolicy()` (SIGHUP in connectord) refreshes at once.
    @Test func theDaemonRefreshesOnReload() async throws {
        let database = FakeGroupDatabase([5000: []])
        try await withDaemon(configure: {
            $0.policy = AccessPolicy(adminGIDs: [7000], groupsOfUser: database.groups(ofUser:))
            $0.groupRefreshInterval = .zero  // only on reload
        }) { running, _ in
            let policy = running.configuration.policy
            let member = Self.peer(uid: 5000, gid: 5000)
            #expect(await !policy.isSuperuser(member))
            database.setGroups(of: 5000, [7000])
            running.daemon.reloadAccessPolicy()
            try await database.waitForLookups(of: 5000, count: 2)
            running.daemon.reloadAccessPolicy()
            try await database.waitForLookups(of: 5000, count: 3)
            #expect(await policy.isSuperuser(member), "the first reload's answer is stored")
        }
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
                    // The history names users: superusers only.
                    (.getHistory, ConnectorsV1.GetHistoryRequest().serializedBytes()),
                    (.verifyHistory, ConnectorsV1.VerifyHistoryRequest().serializedBytes()),
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

                // The admin reads the history, which names who registered.
                let history = try await handlers.call(.getHistory, ConnectorsV1.GetHistoryRequest(), as: admin).get()
                #expect(try ConnectorsV1.GetHistoryResponse(serializedBytes: history).records.map(\.caller.uid) == [4_100_000])

                // Reads are open to the stranger, ListChanges included.
                let changed = try await handlers.call(.listChanges, ConnectorsV1.ListChangesRequest(startRevision: 1), as: stranger).get()
                #expect(try ConnectorsV1.ListChangesResponse(serializedBytes: changed).events.map(\.connectorID) == [id])
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

/// A group database a test changes; counts lookups and where they ran.
final class FakeGroupDatabase: Sendable {
    private struct State {
        var groups: [UInt32: Set<UInt32>]
        var lookups: [UInt32: Int] = [:]
        var threadNames: [String] = []
        var beforeEachLookup: @Sendable () -> Void = {}
    }

    private let state: Mutex<State>

    init(_ groups: [UInt32: Set<UInt32>]) {
        state = Mutex(State(groups: groups))
    }

    /// Runs on the lookup's thread before each lookup (to hold it).
    var beforeEachLookup: @Sendable () -> Void {
        get { state.withLock { $0.beforeEachLookup } }
        set { state.withLock { $0.beforeEachLookup = newValue } }
    }

    func setGroups(of uid: UInt32, _ groups: Set<UInt32>) {
        state.withLock { $0.groups[uid] = groups }
    }

    func lookupCount(of uid: UInt32) -> Int { state.withLock { $0.lookups[uid] ?? 0 } }

    var lookupThreadNames: [String] { state.withLock { $0.threadNames } }

    /// The lookup the policy calls.
    func groups(ofUser uid: UInt32) -> Set<UInt32> {
        state.withLock { $0.beforeEachLookup }()
        let comm = FileHandle(forReadingAtPath: "/proc/thread-self/comm")
        let thread = comm.map { String(decoding: $0.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .newlines) } ?? "?"
        try? comm?.close()
        return state.withLock { state in
            state.lookups[uid, default: 0] += 1
            state.threadNames.append(thread)
            return state.groups[uid] ?? []
        }
    }

    /// Waits (polling, without blocking a thread) until `uid` has been looked up `count` times.
    func waitForLookups(of uid: UInt32, count: Int) async throws {
        let reached = try await eventually { self.lookupCount(of: uid) >= count }
        #expect(reached, "\(lookupCount(of: uid)) lookups of \(uid), waited for \(count)")
    }
}
