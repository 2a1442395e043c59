import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Glibc

/// Fetches connector schemas and logos over HTTP within `FetchLimits`.
///
/// Redirects are followed here, not by the HTTP client, so that each target
/// is checked: http or https only, at most `maximumRedirects`.
final class SchemaFetcher: Sendable {
    let limits: FetchLimits
    private let client: HTTPClient
    /// Fetches to one host (scheme, host and port) at once.
    static let connectionsPerHost = 64

    init(limits: FetchLimits) {
        self.limits = limits
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .nanoseconds(Int64(limits.connectTimeout.nanoseconds)), read: nil))
        configuration.decompression = .disabled
        // One connection attempt: a refused port is reported as such at once,
        // not retried until the connect timeout.
        configuration.connectionPool.retryConnectionEstablishment = false
        // Connectors often share a host: fetches stuck on one schema server
        // must not queue the others to that host behind them.
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = Self.connectionsPerHost
        configuration.connectionPool.idleTimeout = .seconds(10)
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Releases the HTTP client's connections.
    func shutdown() async {
        try? await client.shutdown()
    }

    /// GETs `url`, following redirects, and returns the body of a 200 answer
    /// with the URL it finally came from.
    /// - Throws: `FetchFailure`.
    func fetch(_ url: HTTPURL, maximumBytes: Int, deadline: ContinuousClock.Instant) async throws(FetchFailure) -> (body: [UInt8], from: HTTPURL) {
        do {
            return try await withThrowingTaskGroup(of: (body: [UInt8], from: HTTPURL)?.self) { group in
                group.addTask { try await self.follow(url, maximumBytes: maximumBytes, deadline: deadline) }
                group.addTask {
                    try? await Task.sleep(until: deadline)
                    return nil
                }
                defer { group.cancelAll() }
                guard let result = try await group.next()! else {
                    // The timer also ends early when this task is cancelled.
                    throw Task.isCancelled ? FetchFailure.cancelled : FetchFailure.deadlineExceeded
                }
                return result
            }
        } catch let failure as FetchFailure {
            throw failure
        } catch {
            if ContinuousClock.now >= deadline { throw .deadlineExceeded }
            if error is CancellationError || (error as? HTTPClientError) == .cancelled { throw .cancelled }
            throw .unreachable(Self.reason(error))
        }
    }

    private func follow(_ start: HTTPURL, maximumBytes: Int, deadline: ContinuousClock.Instant) async throws -> (body: [UInt8], from: HTTPURL) {
        var url = start
        var redirects = 0
        while true {
            var request = HTTPClientRequest(url: url.description)
            request.method = .GET
            request.headers.add(name: "Accept", value: "application/json, image/*;q=0.9, */*;q=0.5")
            request.headers.add(name: "User-Agent", value: "connectord")
            let remaining = ContinuousClock.now.duration(to: deadline)
            let response = try await client.execute(request, deadline: .now() + .nanoseconds(max(remaining.nanoseconds, 0)))

            if [301, 302, 303, 307, 308].contains(response.status.code), let location = response.headers.first(name: "location") {
                redirects += 1
                guard redirects <= limits.maximumRedirects else {
                    throw FetchFailure.badRedirect("more than \(limits.maximumRedirects) redirects")
                }
                do {
                    url = try url.resolving(location)
                } catch {
                    throw FetchFailure.badRedirect("redirect to '\(location)' refused: \(error.message)")
                }
                continue
            }
            guard response.status == .ok else { throw FetchFailure.status(Int(response.status.code)) }
            if let length = response.headers.first(name: "content-length").flatMap(Int.init), length > maximumBytes {
                throw FetchFailure.tooLarge(maximumBytes)
            }
            do {
                let body = try await response.body.collect(upTo: maximumBytes)
                return (Array(buffer: body), url)
            } catch is NIOTooManyBytesError {
                throw FetchFailure.tooLarge(maximumBytes)
            }
        }
    }

    /// A short reason for a connection failure, e.g. "Connection refused".
    static func reason(_ error: any Error) -> String {
        if let io = error as? IOError { return String(cString: strerror(io.errnoCode)) }
        if let connection = error as? NIOConnectionError, let first = connection.connectionErrors.first {
            return reason(first.error)
        }
        if let client = error as? HTTPClientError {
            switch client {
            case .connectTimeout: return "Connection timed out"
            case .remoteConnectionClosed: return "Connection closed by the server"
            case .readTimeout: return "Read timed out"
            case .getConnectionFromPoolTimeout:
                return "\(connectionsPerHost) fetches from this host are already running; try again later"
            default: return "\(client)"
            }
        }
        return "\(error)"
    }
}

/// Why a fetch failed.
enum FetchFailure: Error, Hashable, Sendable {
    /// No connection, or the connection broke.
    case unreachable(String)
    /// Answered with a status other than 200.
    case status(Int)
    /// The body is larger than the limit (bytes).
    case tooLarge(Int)
    /// A redirect that is not followed.
    case badRedirect(String)
    /// The deadline passed.
    case deadlineExceeded
    /// The caller went away.
    case cancelled
}

extension Duration {
    /// The duration in whole nanoseconds.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
