// The stream-state half of the frame fuzzer: the byte stream goes to a real
// TTRPCServer over a Unix socket, and what it answers is checked.
//
// The server (started once per process) has a unary `Echo`, a server-streaming
// `Count` (sends payload[0] % 8 messages, fails if payload[1] is odd), a
// client-streaming `Collect` and a bidirectional `Echo` of service
// `fuzz.Streams`, and small bounds (frames of 256 bytes, 4 small messages
// buffered per stream), so that short inputs reach the oversized-frame and full-buffer
// paths. Each input is written on a new connection, which is then half-closed;
// the answers are read until the server closes.
//
// Findings (a failed precondition), besides crashes and sanitizer reports:
//   - the server does not close the connection within 10 s of the client's
//     half-close (a stream or call that never ends);
//   - an answer that is not a whole frame, is of a type other than response
//     or data, or a response that does not decode;
//   - a data frame on a stream after that stream's last frame (a response,
//     or data flagged remote closed), for the streams whose id the input used
//     for one request and not before it (data the client sends after the end
//     is answered with a response, as the reference does: that is no finding);
//   - when the input ends on a frame boundary: a request frame, or an
//     oversized frame, that got no frame at all back on its id;
//   - every 256 inputs: a new connection's unary call is not answered.
//
// FRAME_FUZZER_VERBOSE=1 prints what each input got back.

import Dispatch
import Foundation
import Glibc
import NIOCore
import Synchronization
import TTRPC

/// The server every stream-state input talks to.
final class StreamServerHarness: Sendable {
    static let shared = StreamServerHarness()
    static let service = "fuzz.Streams"
    static let frameLimit = 256

    let path: String
    private let server: TTRPCServer
    private let inputs = Atomic<Int>(0)

    private init() {
        let directory = "/tmp/ttrpc-fuzz-\(getpid())"
        mkdir(directory, 0o700)
        path = "\(directory)/s.sock"
        var configuration = TTRPCServer.Configuration(socketPath: path)
        configuration.maximumFrameSize = Self.frameLimit
        configuration.maximumBufferedBytesPerStream = 4 * 65  // four 1-byte messages, with the 64 bytes each is counted for
        configuration.streamSendTimeout = .seconds(2)
        server = TTRPCServer(configuration: configuration, router: Self.router)
        let listening = DispatchSemaphore(value: 0)
        let server = server
        // The fuzzing thread waits on a semaphore: it is libFuzzer's, not one
        // of the cooperative pool's, so blocking it is acceptable.
        Task.detached {
            try await server.run(onListening: { listening.signal() })
        }
        listening.wait()
        atexit { unlink("/tmp/ttrpc-fuzz-\(getpid())/s.sock"); rmdir("/tmp/ttrpc-fuzz-\(getpid())") }
    }

    static var router: Router {
        var router = Router()
        router.register(service: service, method: "Echo") { payload, _ in payload }
        router.registerServerStreaming(service: service, method: "Count") { request, responses, _ in
            let bytes = Array(request.readableBytesView)
            let count = Int(bytes.first ?? 0) % 8
            for index in 0..<count { try await responses.write(ByteBuffer(bytes: [UInt8(index)])) }
            if bytes.count > 1, bytes[1] & 1 == 1 { throw RPCError(code: .failedPrecondition, message: "asked to fail") }
        }
        router.registerClientStreaming(service: service, method: "Collect") { requests, _ in
            var count: UInt8 = 0
            for try await _ in requests { count &+= 1 }
            return ByteBuffer(bytes: [count])
        }
        router.registerBidirectionalStreaming(service: service, method: "Stream") { requests, responses, _ in
            for try await message in requests { try await responses.write(message) }
        }
        return router
    }

    /// Sends `stream` on a new connection, half-closes, reads the answers until
    /// the server closes, and checks them.
    func check(_ stream: UnsafeRawBufferPointer) {
        // What the client sent, as the server's decoder splits it.
        var decoder = FrameDecoder(maximumDataSize: Self.frameLimit)
        var input = ByteBuffer(bytes: stream)
        var sent: [FrameDecoder.Event] = []
        while let event = try? decoder.decode(buffer: &input) { sent.append(event) }
        let endsOnFrameBoundary = input.readableBytes == 0

        let answers = exchange(Array(stream))
        if getenv("FRAME_FUZZER_VERBOSE") != nil {
            print("sent \(sent.count) frames (\(stream.count) bytes), got \(answers.count) bytes back: \(hex(answers))")
        }
        checkAnswers(answers, sent: sent, endsOnFrameBoundary: endsOnFrameBoundary)
        if inputs.add(1, ordering: .relaxed).newValue % 256 == 0 {
            var echo = ByteBuffer()
            echo.writeFrame(streamID: 1, type: .request) {
                RequestEnvelope(service: Self.service, method: "Echo", payload: ByteBuffer(bytes: [7])).encode(into: &$0)
            }
            let answer = exchange(Array(echo.readableBytesView))
            precondition(answer.count == Frame.headerSize + 3 && answer[8] == 2, "the server no longer answers a unary call")
        }
    }

    private func checkAnswers(_ answers: [UInt8], sent: [FrameDecoder.Event], endsOnFrameBoundary: Bool) {
        // Every request frame, and every oversized frame, is answered on its
        // id. Streams whose id the client used only for one request, and not
        // before it, have a clear end: nothing may follow it.
        var mustAnswer: Set<UInt32> = []
        var requestsPerID: [UInt32: Int] = [:]
        var usedBeforeRequest: Set<UInt32> = []
        for event in sent {
            switch event {
            case .frame(let frame) where frame.type == .request:
                mustAnswer.insert(frame.streamID)
                requestsPerID[frame.streamID, default: 0] += 1
            case .frame(let frame):
                if requestsPerID[frame.streamID] == nil { usedBeforeRequest.insert(frame.streamID) }
            case .oversized(let streamID, _, _):
                mustAnswer.insert(streamID)
                if requestsPerID[streamID] == nil { usedBeforeRequest.insert(streamID) }
            }
        }

        var decoder = FrameDecoder()
        var buffer = ByteBuffer(bytes: answers)
        var finished: Set<UInt32> = []
        var answered: Set<UInt32> = []
        while let event = try? decoder.decode(buffer: &buffer) {
            guard case .frame(let frame) = event else { preconditionFailure("the server sent an oversized frame") }
            answered.insert(frame.streamID)
            let checked = requestsPerID[frame.streamID] == 1 && !usedBeforeRequest.contains(frame.streamID)
            switch frame.type {
            case .response:
                guard (try? ResponseEnvelope(decoding: frame.data)) != nil else {
                    preconditionFailure("the server sent a response that does not decode")
                }
                finished.insert(frame.streamID)
            case .data:
                precondition(!checked || !finished.contains(frame.streamID), "a data frame after the stream's last frame")
                precondition(frame.data.readableBytes <= Self.frameLimit, "a data frame over the limit")
                if frame.flags & Frame.Flags.remoteClosed != 0 { finished.insert(frame.streamID) }
            default:
                preconditionFailure("the server sent a frame of type \(frame.type.rawValue)")
            }
        }
        precondition(buffer.readableBytes == 0, "the server's answers end inside a frame")
        if endsOnFrameBoundary {
            for streamID in mustAnswer {
                precondition(answered.contains(streamID), "a request on stream \(streamID) got no answer")
            }
        }
    }

    private func hex(_ bytes: [UInt8]) -> String {
        bytes.prefix(400).map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }

    /// Writes `input`, half-closes, and returns everything read until the
    /// server closes. Non-blocking, with poll: reads while writing, so
    /// neither side can fill the other's buffer and stall.
    private func exchange(_ input: [UInt8]) -> [UInt8] {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        precondition(fd >= 0, "socket: \(errno)")
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8)
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        precondition(connected == 0, "connect: \(errno)")

        var sent = 0
        var halfClosed = false
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            if sent == input.count, !halfClosed {
                shutdown(fd, Int32(SHUT_WR))
                halfClosed = true
            }
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN) | (halfClosed ? 0 : Int16(POLLOUT)), revents: 0)
            _ = poll(&descriptor, 1, 100)
            precondition(ContinuousClock.now < deadline, "the server did not close the connection within 10 s of the half-close")
            if !halfClosed, descriptor.revents & Int16(POLLOUT) != 0 {
                let count = input.withUnsafeBytes { send(fd, $0.baseAddress! + sent, input.count - sent, Int32(MSG_NOSIGNAL)) }
                if count > 0 { sent += count } else if count < 0, errno != EAGAIN, errno != EINTR { return received }
            }
            if descriptor.revents & (Int16(POLLIN) | Int16(POLLHUP) | Int16(POLLERR)) != 0 {
                let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
                if count > 0 {
                    received += chunk[..<count]
                } else if count == 0 || (errno != EAGAIN && errno != EINTR) {
                    return received  // closed (a reset counts: the server may close before reading all)
                }
            }
        }
    }
}
