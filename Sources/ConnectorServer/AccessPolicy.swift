import Glibc
public import TTRPC

/// Decides who is a superuser: uid 0, the daemon's own uid, configured uids,
/// and members of configured groups (primary or supplementary). Everyone who
/// can open the socket may read.
///
/// Group membership comes from a cache of the group database, not from a
/// lookup per call: a user's groups are looked up when the user is first seen
/// (on NIO's blocking thread pool, as NSS lookups can block) and kept until
/// `refreshGroupMembership()`, which connectord calls every
/// `DaemonConfiguration.groupRefreshInterval` and on SIGHUP. Copies of a
/// policy share their cache.
public struct AccessPolicy: Sendable, Hashable {
    public var adminUIDs: Set<UInt32>
    public var adminGIDs: Set<UInt32>
    private let membership: GroupMembership

    /// A policy reading the system's user and group databases.
    /// - Parameters:
    ///   - adminUIDs: extra superuser uids (0 and the daemon's uid always are).
    ///   - adminGIDs: groups whose members are superusers.
    public init(adminUIDs: Set<UInt32> = [], adminGIDs: Set<UInt32> = []) {
        self.init(adminUIDs: adminUIDs, adminGIDs: adminGIDs, groupsOfUser: SystemGroupDatabase.groups(ofUser:))
    }

    /// A policy reading group membership from `groupsOfUser` instead of the
    /// system's databases (tests, embedding).
    /// - Parameter groupsOfUser: the groups of a uid, primary and supplementary;
    ///   called on a thread pool thread, and may block.
    public init(
        adminUIDs: Set<UInt32> = [], adminGIDs: Set<UInt32> = [],
        groupsOfUser: @escaping @Sendable (_ uid: UInt32) -> Set<UInt32>
    ) {
        self.adminUIDs = adminUIDs.union([0, getuid()])
        self.adminGIDs = adminGIDs
        membership = GroupMembership(lookup: groupsOfUser)
    }

    /// Whether the caller may change the registry. Looks the caller's groups
    /// up only the first time it is seen, and only when admin groups are set.
    public func isSuperuser(_ peer: PeerCredentials) async -> Bool {
        if adminUIDs.contains(peer.uid) { return true }
        guard !adminGIDs.isEmpty else { return false }
        if adminGIDs.contains(peer.gid) { return true }
        return !adminGIDs.isDisjoint(with: await membership.groups(ofUser: peer.uid))
    }

    /// Looks up the groups of every user seen so far again (on a thread pool),
    /// so that membership changes in the group database take effect.
    public func refreshGroupMembership() async {
        await membership.refresh()
    }

    /// Policies are equal when they name the same uids and groups.
    public static func == (lhs: AccessPolicy, rhs: AccessPolicy) -> Bool {
        lhs.adminUIDs == rhs.adminUIDs && lhs.adminGIDs == rhs.adminGIDs
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(adminUIDs)
        hasher.combine(adminGIDs)
    }
}
