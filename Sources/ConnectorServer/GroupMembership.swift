import Glibc
import NIOPosix
import Synchronization

/// The groups of each user the daemon has seen, from a group database, kept
/// until refreshed.
///
/// Lookups go through NSS (files, but also LDAP or sssd) and can block, so
/// they run on NIO's blocking thread pool, never on Swift's cooperative pool.
/// A user is looked up once when first seen (callers asking at the same time
/// share that lookup) and again by `refresh()`; every other call is a
/// dictionary read under a lock.
final class GroupMembership: Sendable {
    /// The groups of a user (primary and supplementary); empty for an unknown uid.
    typealias Lookup = @Sendable (_ uid: UInt32) -> Set<UInt32>

    /// Users kept; past it, one that is known is forgotten for each new one.
    static let capacity = 4096

    private enum Entry {
        case known(Set<UInt32>)
        /// Being looked up; these callers wait for the answer.
        case pending([CheckedContinuation<Set<UInt32>, Never>])

        var isKnown: Bool {
            if case .known = self { return true }
            return false
        }
    }

    private let lookup: Lookup
    private let threadPool: NIOThreadPool
    private let users = Mutex<[UInt32: Entry]>([:])

    init(lookup: @escaping Lookup, threadPool: NIOThreadPool = .singleton) {
        self.lookup = lookup
        self.threadPool = threadPool
    }

    /// The groups of `uid`: kept, or looked up on the thread pool.
    func groups(ofUser uid: UInt32) async -> Set<UInt32> {
        if case .known(let groups)? = users.withLock({ $0[uid] }) { return groups }
        return await withCheckedContinuation { continuation in
            enum Next { case answer(Set<UInt32>), wait, lookUp }
            let next: Next = users.withLock { users in
                switch users[uid] {
                case .known(let groups):
                    return .answer(groups)
                case .pending(var waiting):
                    waiting.append(continuation)
                    users[uid] = .pending(waiting)
                    return .wait
                case nil:
                    if users.count >= Self.capacity, let forgotten = users.first(where: { $0.value.isKnown })?.key {
                        users[forgotten] = nil
                    }
                    users[uid] = .pending([continuation])
                    return .lookUp
                }
            }
            switch next {
            case .answer(let groups):
                continuation.resume(returning: groups)
            case .wait:
                break
            case .lookUp:
                threadPool.submit { [lookup] state in
                    // A pool that is shut down looks nothing up: no groups, and nothing kept.
                    self.finishLookup(of: uid, state == .active ? lookup(uid) : nil)
                }
            }
        }
    }

    /// Looks up every user kept again, on the thread pool, and keeps the answers.
    func refresh() async {
        let known = users.withLock { users in users.compactMap { $0.value.isKnown ? $0.key : nil } }
        guard !known.isEmpty else { return }
        let lookup = lookup
        let found = try? await threadPool.runIfActive {
            Dictionary(uniqueKeysWithValues: known.map { uid in (uid, lookup(uid)) })
        }
        guard let found else { return }
        users.withLock { users in
            // Only users still kept as known: a pending lookup answers for itself.
            for (uid, groups) in found where users[uid]?.isKnown == true {
                users[uid] = .known(groups)
            }
        }
    }

    private func finishLookup(of uid: UInt32, _ groups: Set<UInt32>?) {
        let waiting: [CheckedContinuation<Set<UInt32>, Never>] = users.withLock { users in
            guard case .pending(let waiting)? = users[uid] else { return [] }
            users[uid] = groups.map(Entry.known)
            return waiting
        }
        for continuation in waiting { continuation.resume(returning: groups ?? []) }
    }
}

/// The system's user and group databases (NSS).
enum SystemGroupDatabase {
    /// The groups of the user `uid`: the primary group of its passwd entry and
    /// the supplementary groups `getgrouplist` finds; empty for an unknown uid.
    /// Blocks while NSS answers.
    static func groups(ofUser uid: UInt32) -> Set<UInt32> {
        guard let user = user(uid) else { return [] }
        var count: Int32 = 64
        while true {
            var groups = [gid_t](repeating: 0, count: Int(count))
            let requested = count
            if getgrouplist(user.name, user.primaryGroup, &groups, &count) >= 0 {
                return Set(groups.prefix(Int(count)))
            }
            // Too small: `count` now says how many there are.
            guard count > requested, count <= 1 << 16 else { return [user.primaryGroup] }
        }
    }

    /// The name and primary group of `uid`, copied out of the passwd entry
    /// while the buffer it points into is alive.
    private static func user(_ uid: UInt32) -> (name: String, primaryGroup: gid_t)? {
        var size = max(Int(sysconf(Int32(_SC_GETPW_R_SIZE_MAX))), 1024)
        while size <= 1 << 20 {
            var buffer = [CChar](repeating: 0, count: size)
            let (status, found) = buffer.withUnsafeMutableBufferPointer {
                bytes -> (Int32, (name: String, primaryGroup: gid_t)?) in
                guard let base = bytes.baseAddress else { return (ERANGE, nil) }
                var entry = passwd()
                var result: UnsafeMutablePointer<passwd>?
                let status = getpwuid_r(uid, &entry, base, bytes.count, &result)
                // pw_name points into `bytes`: copied here, while they are alive.
                guard status == 0, result != nil, let name = entry.pw_name else { return (status, nil) }
                return (0, (String(cString: name), entry.pw_gid))
            }
            if status == ERANGE {
                size *= 2
                continue
            }
            return found
        }
        return nil
    }
}
