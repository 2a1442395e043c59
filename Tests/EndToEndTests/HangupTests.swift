import Foundation
import Glibc
import Testing

/// SIGHUP makes the built `connectord` look up group membership again; it
/// does not end the daemon (untrapped, SIGHUP would).
@Suite(.serialized)
struct HangupTests {
    @Test func sighupRefreshesGroupMembershipAndTheDaemonKeepsServing() async throws {
        let directory = try makeShortTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let socket = directory.appendingPathComponent("d.sock").path
        let daemon = try Background(
            Binaries.path("connectord"),
            ["--socket", socket, "--data-dir", directory.appendingPathComponent("data").path, "--admin-group", "0"],
            errorLog: directory.appendingPathComponent("daemon.log"))
        defer { daemon.stop() }
        try await waitForSocket(socket)

        for round in 1...2 {
            kill(daemon.process.processIdentifier, SIGHUP)
            let deadline = ContinuousClock.now + .seconds(20)
            while daemon.stderrText.components(separatedBy: "refreshing group membership").count - 1 < round,
                daemon.process.isRunning, ContinuousClock.now < deadline
            {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(daemon.process.isRunning, "SIGHUP ended the daemon: \(daemon.stderrText)")
            #expect(daemon.stderrText.components(separatedBy: "refreshing group membership").count - 1 == round)
            let list = try runCommand(Binaries.path("connectorctl"), ["list", "--json", "--socket", socket])
            #expect(list.status == 0, "\(list.stderr)")
        }
        #expect(daemon.stop() == 0, "a clean stop after SIGHUP: \(daemon.stderrText)")
    }
}
