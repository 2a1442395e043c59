import Testing

/// The streaming suites, run one test at a time: long streams, a hundred at
/// once and floods saturate the two CPUs of the machines the tests run on.
/// `scripts/test.sh` runs them after the other suites (some of which time
/// their answers), as it does the other heavy suites.
@Suite("Streams", .serialized)
enum StreamSuites {}
