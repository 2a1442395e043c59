import Foundation
import Glibc
import TestSupport
import Testing

/// SIGHUP makes the built `connectord` look up group membership again; it
/// does not end the daemon (untrapped, SIGHUP would).
@Suite(.serialized)
struct HangupTests {
    @Test func sighupRefreshesGroupMembershipAndTheDaemonKeepsServing() async throws {
        let directory = try makeShortTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let socket = directory.appendingPathComponent("d.sock").path
        let daemon = try await ChildProcess.start(
            Binaries.path("connectord"),
            ["--socket", socket, "--data-dir", directory.appendingPathComponent("data").path, "--admin-group", "0"])
        try await waitForSocket(socket)

        func refreshes() -> Int { daemon.standardError.components(separatedBy: "refreshing group membership").count - 1 }
        for round in 1...2 {
            daemon.signal(SIGHUP)
            #expect(await eventually { refreshes() >= round || !daemon.isRunning })
            #expect(daemon.isRunning, "SIGHUP ended the daemon: \(daemon.standardError)")
            #expect(refreshes() == round)
            let list = try await runCommand(Binaries.path("connectorctl"), ["list", "--json", "--socket", socket])
            #expect(list.status == 0, "\(list.stderr)")
        }
        #expect(await daemon.stop() == 0, "a clean stop after SIGHUP: \(daemon.standardError)")
    }
}
