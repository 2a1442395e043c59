import ConnectorAPI
import ConnectorClient
import ConnectorServer
import TTRPC
import Testing

/// Concurrent calls over the wire: one shared connection multiplexes them, and
/// the registry keeps names unique.
@Suite(.timeLimit(.minutes(5)))
struct ConcurrencyTests {
    @Test func fiftyConcurrentRegistrationsOnOneClient() async throws {
        try await withDaemon { running, _ in
            let client = running.client
            let results = await withTaskGroup(of: (Int, Result<ConnectorsV1.RegisterResponse, RPCError>).self) { group in
                for index in 0..<50 {
                    group.addTask {
                        (index, await capture { try await client.register(name: "conc_\(index)", description: "Connector \(index)") })
                    }
                }
                var results: [Int: Result<ConnectorsV1.RegisterResponse, RPCError>] = [:]
                for await (index, result) in group { results[index] = result }
                return results
            }
            #expect(results.count == 50)
            var ids: Set<UInt64> = []
            for (index, result) in results {
                switch result {
                case .success(let response):
                    #expect(response.connector.name == "conc_\(index)", "each answer belongs to its own call")
                    #expect(response.message == "Connector 'conc_\(index)' registered successfully")
                    ids.insert(response.connector.id)
                case .failure(let error):
                    Issue.record("registration \(index) failed: \(error)")
                }
            }
            #expect(ids.count == 50, "distinct ids")
            let listed = try await client.listAll()
            #expect(listed.count == 50)
            #expect(Set(listed.map(\.id)) == ids)
            #expect(Set(listed.map(\.name)) == Set((0..<50).map { "conc_\($0)" }))
            #expect(listed.map(\.id) == listed.map(\.id).sorted())
        }
    }

    @Test func tenConcurrentRegistrationsOfOneNameGiveExactlyOneSuccess() async throws {
        try await withDaemon { running, _ in
            let client = running.client
            let results = await withTaskGroup(of: Result<ConnectorsV1.RegisterResponse, RPCError>.self) { group in
                for index in 0..<10 {
                    group.addTask { await capture { try await client.register(name: "contended", description: "attempt \(index)") } }
                }
                var results: [Result<ConnectorsV1.RegisterResponse, RPCError>] = []
                for await result in group { results.append(result) }
                return results
            }
            let successes = results.compactMap { try? $0.get() }
            let failures = results.compactMap(\.failure)
            #expect(successes.count == 1)
            #expect(failures.count == 9)
            for failure in failures {
                #expect(failure == RPCError(code: .alreadyExists, message: "Connector with name 'contended' already exists"))
            }
            let listed = try await client.list().connectors
            #expect(listed.count == 1)
            #expect(listed.first?.id == successes.first?.connector.id)
        }
    }

    @Test func concurrentCallsFromSeveralClients() async throws {
        try await withDaemon { running, _ in
            let socketPath = running.socketPath
            try await withThrowingTaskGroup(of: Void.self) { group in
                for clientIndex in 0..<5 {
                    group.addTask {
                        try await ConnectorClient.with(socketPath: socketPath) { client in
                            for index in 0..<8 {
                                let id = try await client.register(name: "c\(clientIndex)_\(index)", description: "d").connector.id
                                #expect(try await client.get(id: id).name == "c\(clientIndex)_\(index)")
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await running.client.listAll().count == 40)
        }
    }
}
