import Foundation
import NIOCore
import TTRPC
import Testing

extension StreamSuites {
    /// What one client can make a server connection hold, whatever it sends:
    /// bounded by `maximumBufferedBytesPerConnection`, not by
    /// streams x frame size.
    @Suite("Streams: memory per connection", .timeLimit(.minutes(3)))
    struct StreamMemoryTests {
        /// The process's resident memory, in KiB (`VmRSS` of /proc/self/status).
        static func residentKiB() throws -> Int {
            let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
                let kiB = Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])
            else { throw HarnessError("no VmRSS in /proc/self/status") }
            return kiB
        }

        @Test("60 streams each sent a 4 MiB message their handlers do not take: the connection holds at most its budget, the other streams go on")
        func floodOfLargeMessages() async throws {
            let streamCount = 60
            let configuration = TTRPCServer.Configuration(socketPath: "")
            let budget = configuration.maximumBufferedBytesPerConnection
            let messageSize = Frame.maximumDataSize
            // Each message is counted with its overhead; one more would pass the budget.
            let fitting = budget / (messageSize + 64)
            #expect(fitting < streamCount)

            let gates = [Gate()]
            defer { gates[0].open() }
            try await withServer(router: ConnectionBufferTests.router(gates: gates)) { _, path async throws in
                try await withRawPeer(path) { peer in
                    try await peer.expectEcho(streamID: 1)
                    let baseline = try Self.residentKiB()
                    let payload = ByteBuffer(repeating: 0x4d, count: messageSize)
                    let streamIDs = (0..<UInt32(streamCount)).map { 3 + 2 * $0 }
                    for streamID in streamIDs {
                        try await ConnectionBufferTests.openHold(peer, streamID: streamID, gate: 0)
                        try await peer.write(rawFrame(streamID: streamID, type: 3, length: UInt32(messageSize), data: []))
                        try await peer.write(payload)
                    }
                    // Every stream past the budget fails; the echo comes after the last data frame was taken.
                    let echoID = streamIDs.last! + 2
                    try await peer.write(requestFrame(streamID: echoID, method: "Echo", payload: [0x42]))
                    var failed: [UInt32] = []
                    var echoed = false
                    while !echoed || failed.count < streamCount - fitting {
                        let frame = try await peer.readFrame()
                        #expect(frame.type == .response)
                        if frame.streamID == echoID {
                            echoed = true
                            #expect(try ResponseEnvelope(decoding: frame.data).result.get() == ByteBuffer(bytes: [0x42]))
                        } else {
                            let error = try status(of: frame)
                            #expect(error?.code == .resourceExhausted)
                            #expect(error?.message.hasPrefix("connection buffer full") == true, "\(String(describing: error))")
                            failed.append(frame.streamID)
                        }
                    }
                    let held = try Self.residentKiB()
                    // The first streams, in the order their data came, are the ones that fit.
                    #expect(failed.sorted() == Array(streamIDs.dropFirst(fitting)))
                    print("[reliability] \(streamCount) streams x 4 MiB unread on one connection: VmRSS \(baseline) KiB -> \(held) KiB (budget \(budget >> 20) MiB)")
                    // Without the budget the connection would hold 60 x 4 MiB = 240 MiB.
                    #expect(held - baseline < 100 << 10, "VmRSS \(baseline) -> \(held) KiB")

                    // The streams that fit go on: their handlers read their message once let go.
                    gates[0].open()
                    for streamID in streamIDs.prefix(fitting) {
                        #expect(try await ConnectionBufferTests.closeAndReadCount(peer, streamID: streamID) == 1)
                    }
                    // And the budget is back: a new stream takes a message of the frame limit.
                    let again = echoID + 2
                    try await ConnectionBufferTests.openHold(peer, streamID: again, gate: 0)
                    try await peer.write(rawFrame(streamID: again, type: 3, length: UInt32(messageSize), data: []))
                    try await peer.write(payload)
                    #expect(try await ConnectionBufferTests.closeAndReadCount(peer, streamID: again) == 1)
                    try await peer.expectEcho(streamID: again + 2)
                }
            }
        }
    }
}
