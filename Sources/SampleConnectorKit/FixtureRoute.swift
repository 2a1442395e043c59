/// What a `FixtureHTTPServer` does for one path.
public enum FixtureRoute: Sendable, Hashable {
    /// Answers with a status, headers and a body.
    case respond(status: Int = 200, headers: [String: String] = [:], body: [UInt8])
    /// Answers 302 (or `status`) with a Location header.
    case redirect(to: String, status: Int = 302)
    /// Sends the head, then `chunks` chunks of `chunkSize` bytes, one per `interval`.
    case drip(chunks: Int, chunkSize: Int = 16, interval: Duration)
    /// Sends a body of `bytes` bytes, quickly, declaring its length up front or not.
    case large(bytes: Int, declareLength: Bool)
    /// Accepts the request and never answers.
    case hang

    /// A JSON body with status 200.
    public static func json(_ text: String, status: Int = 200) -> FixtureRoute {
        .respond(status: status, headers: ["Content-Type": "application/json"], body: Array(text.utf8))
    }
}
