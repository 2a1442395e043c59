import ConnectorAPI
import ConnectorClient
import ConnectorServer
import Foundation
import Glibc
import Logging
import ServiceLifecycle
import Testing

/// systemd readiness: with NOTIFY_SOCKET set, the daemon sends READY=1 once it
/// listens and STOPPING=1 when it begins to stop.
@Suite(.timeLimit(.minutes(5)))
struct SystemdNotifyTests {
    /// The lines of a notify datagram as a set of `KEY=VALUE`.
    static func lines(_ message: String?) -> [String] {
        (message ?? "").split(separator: "\n").map(String.init)
    }

    static func expectReady(_ message: String?, socketPath: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let lines = Self.lines(message)
        #expect(lines.contains("READY=1"), "got \(message ?? "nothing")", sourceLocation: sourceLocation)
        #expect(lines.contains("MAINPID=\(getpid())"), "got \(message ?? "nothing")", sourceLocation: sourceLocation)
        #expect(lines.contains { $0.hasPrefix("STATUS=") && $0.contains(socketPath) }, "got \(message ?? "nothing")", sourceLocation: sourceLocation)
    }

    @Test func readyAfterListening() async throws {
        try await withTempDirectory { directory in
            let receiver = try DatagramReceiver(address: directory("notify"))
            let configuration = testConfiguration(in: directory)
            try await withDaemon(configuration, environment: ["NOTIFY_SOCKET": receiver.address]) { running in
                // onListening has been called: READY=1 was sent before it.
                Self.expectReady(receiver.receiveNow(), socketPath: running.socketPath)
                _ = try await running.client.list()
                #expect(receiver.receiveNow() == nil, "one READY=1 only")
            }
        }
    }

    /// `stop()` is the graceful stop for embedders and tests: it should tell
    /// systemd too.
    @Test func stoppingAfterStop() async throws {
        try await withTempDirectory { directory in
            let receiver = try DatagramReceiver(address: directory("notify"))
            let configuration = testConfiguration(in: directory)
            try await withDaemon(configuration, environment: ["NOTIFY_SOCKET": receiver.address]) { running in
                Self.expectReady(try await receiver.receive(), socketPath: running.socketPath)
            }
            // run() has returned after daemon.stop().
            let stopping = try await receiver.receive()
            #expect(Self.lines(stopping).contains("STOPPING=1"), "after stop(): \(stopping ?? "nothing")")
        }
    }

    /// Under ServiceLifecycle (as connectord's main runs it), a graceful shutdown
    /// sends STOPPING=1 and run() returns.
    @Test func stoppingOnGracefulShutdownOfTheServiceGroup() async throws {
        try await withTempDirectory { directory in
            let receiver = try DatagramReceiver(address: directory("notify"))
            let configuration = testConfiguration(in: directory)
            try await ConnectorDaemon.withDaemon(
                configuration: configuration, environment: ["NOTIFY_SOCKET": receiver.address], logger: .quiet
            ) { daemon in
            let group = ServiceGroup(services: [daemon], logger: .quiet)
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                let ready = try await receiver.receive()
                Self.expectReady(ready, socketPath: configuration.socketPath)
                try await ConnectorClient.with(socketPath: configuration.socketPath) { client in
                    let list = try await client.list()
                    #expect(list.connectors.isEmpty)
                }
                await group.triggerGracefulShutdown()
                let stopping = try await receiver.receive()
                #expect(Self.lines(stopping).contains("STOPPING=1"), "got \(stopping ?? "nothing")")
                try await tasks.waitForAll()
            }
            }
            #expect(!fileExists(configuration.socketPath))
        }
    }

    @Test func abstractNamespaceNotifySocket() async throws {
        try await withTempDirectory { directory in
            let name = "@connectord-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            let receiver = try DatagramReceiver(address: name)
            try await withDaemon(testConfiguration(in: directory), environment: ["NOTIFY_SOCKET": name]) { running in
                Self.expectReady(try await receiver.receive(), socketPath: running.socketPath)
            }
        }
    }

    @Test func unreachableNotifySocketDoesNotStopTheDaemon() async throws {
        try await withTempDirectory { directory in
            let environment = ["NOTIFY_SOCKET": directory("nobody-listens-here")]
            try await withDaemon(testConfiguration(in: directory), environment: environment) { running in
                let list = try await running.client.list()
                #expect(list.connectors.isEmpty)
            }
        }
    }
}
