import ConnectorAPI
import ConnectorClient
import ConnectorRegistry
import ConnectorServer
import SampleConnectorKit
import TTRPC
import TestSupport
import Testing

/// Calls in flight: the caller's deadline reaches the fetch, a second
/// activation of the same connector is ABORTED, and a graceful stop lets a
/// running call finish.
@Suite(.timeLimit(.minutes(5)))
struct LifecycleTests {
    @Test func callerDeadlineAndAbortedActivation() async throws {
        try await withTempDirectory { directory in
            var configuration = testConfiguration(in: directory)
            // The daemon's own bound is an hour away: only the caller's deadline can end the fetch soon.
            configuration.fetchLimits.totalTimeout = .seconds(3600)
            var routes = SampleConnector.routes
            routes["/hang.json"] = .hang
            try await withDaemon(configuration) { running in
                try await FixtureHTTPServer.with(routes: routes) { server in
                    let id = try await running.client.register(name: "hung", description: "d").connector.id
                    let socketPath = running.socketPath
                    let hangURL = server.url("/hang.json")
                    let slow = Task {
                        await capture {
                            try await ConnectorClient.with(socketPath: socketPath, timeout: .seconds(5)) { client in
                                try await client.activate(id: id, url: hangURL)
                            }
                        }
                    }
                    // While that fetch hangs, a second activation of the same connector is ABORTED.
                    #expect(try await eventually { server.hitCount("/hang.json") == 1 })
                    await expectRPCError(
                        .aborted, "Connector with ID \(id) is already being activated; try again when that finishes"
                    ) {
                        try await running.client.activate(id: id, url: server.url("/connector.json"))
                    }
                    // Other calls are not held up meanwhile.
                    #expect(try await running.client.get(id: id).mode == .deactive)

                    let result = await slow.value
                    #expect(result.failure?.code == .deadlineExceeded, "\(result)")

                    // The daemon gave up at the caller's deadline, not after its own hour:
                    // the connector can be activated again.
                    var activated: ConnectorsV1.ActivateResponse?
                    _ = try await eventually {
                        switch await capture({ try await running.client.activate(id: id, url: server.url("/connector.json")) }) {
                        case .success(let response):
                            activated = response
                            return true
                        case .failure(let error):
                            #expect(error.code == .aborted, "\(error)")
                            return false
                        }
                    }
                    #expect(activated?.connector.mode == .active)
                    #expect(activated?.connector.toolsCount == 3)
                }
            }
        }
    }

    @Test func gracefulStopLetsACallInFlightFinish() async throws {
        try await withTempDirectory { directory in
            var configuration = testConfiguration(in: directory)
            configuration.shutdownGracePeriod = .seconds(120)
            var routes = SampleConnector.routes
            routes["/slow.json"] = .json(
                #"{"name": "slow", "version": "3.0.0", "logo_url": "/slow.svg", "tools": [], "templates": []}"#)
            routes["/slow.svg"] = .drip(chunks: 8, chunkSize: 1, interval: .milliseconds(100))
            try await FixtureHTTPServer.with(routes: routes) { server in
                try await withDaemon(configuration) { running in
                    let client = running.client
                    let id = try await client.register(name: "in_flight", description: "d").connector.id
                    let url = server.url("/slow.json")
                    server.hold("/slow.svg")
                    let activation = Task { await capture { try await client.activate(id: id, url: url) } }
                    // The schema is fetched; the logo is held.
                    #expect(try await eventually { server.hitCount("/slow.svg") == 1 })
                    running.daemon.stop()

                    // No new connections once the stop began. Each attempt is a new
                    // connection: one accepted before the listener closed is still
                    // served during the grace period, as the call in flight is.
                    let socketPath = running.socketPath
                    #expect(try await eventually {
                        let attempt = await capture {
                            try await ConnectorClient.with(socketPath: socketPath, timeout: .seconds(30)) { try await $0.list() }
                        }
                        return attempt.failure?.code == .unavailable
                    })
                    server.release("/slow.svg")

                    // The call in flight completes (its logo is not an image: reported, not fatal).
                    let result = await activation.value
                    let response = try result.get()
                    #expect(response.connector.mode == .active)
                    #expect(response.connector.version == "3.0.0")
                    #expect(response.message.hasPrefix("Connector 'in_flight' activated successfully"))
                }
            }
            // Stored before the answer: a new daemon sees it.
            try await withDaemon(configuration) { running in
                let got = try await running.client.get(id: 1)
                #expect(got.mode == .active)
                #expect(got.version == "3.0.0")
            }
        }
    }
}
