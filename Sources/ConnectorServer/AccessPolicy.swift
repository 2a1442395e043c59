import Glibc
public import TTRPC

/// Decides who is a superuser: uid 0, the daemon's own uid, configured uids,
/// and members of configured groups (primary or supplementary). Everyone who
/// can open the socket may read.
public struct AccessPolicy: Sendable, Hashable {
    public var adminUIDs: Set<UInt32>
    public var adminGIDs: Set<UInt32>

    /// - Parameters:
    ///   - adminUIDs: extra superuser uids (0 and the daemon's uid always are).
    ///   - adminGIDs: groups whose members are superusers.
    public init(adminUIDs: Set<UInt32> = [], adminGIDs: Set<UInt32> = []) {
        self.adminUIDs = adminUIDs.union([0, getuid()])
        self.adminGIDs = adminGIDs
    }

    /// Whether the caller may change the registry.
    public func isSuperuser(_ peer: PeerCredentials) -> Bool {
        if adminUIDs.contains(peer.uid) { return true }
        guard !adminGIDs.isEmpty else { return false }
        if adminGIDs.contains(peer.gid) { return true }
        return !adminGIDs.isDisjoint(with: Self.groups(ofUser: peer.uid, primary: peer.gid))
    }

    /// The supplementary groups of a user, from the system's group database.
    private static func groups(ofUser uid: UInt32, primary gid: UInt32) -> Set<UInt32> {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0, result != nil, let name = entry.pw_name else {
            return []
        }
        var count: Int32 = 64
        var groups = [gid_t](repeating: 0, count: Int(count))
        if getgrouplist(name, gid, &groups, &count) < 0 {
            groups = [gid_t](repeating: 0, count: Int(count))
            guard getgrouplist(name, gid, &groups, &count) >= 0 else { return [] }
        }
        return Set(groups.prefix(Int(count)))
    }
}
