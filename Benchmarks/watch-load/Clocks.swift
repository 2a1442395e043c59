import Foundation
import Glibc

/// The wall clock in microseconds since the Unix epoch, as connectord stamps changes.
enum WallClock {
    static func microseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000
    }

    /// `2025-10-13T20:00:00.000000Z` (RFC 3339, UTC, microseconds) in microseconds since the epoch.
    static func microseconds(rfc3339 text: String) -> Int64? {
        let bytes = Array(text.utf8)
        guard bytes.count == 27, bytes[4] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: "T"),
            bytes[19] == UInt8(ascii: "."), bytes[26] == UInt8(ascii: "Z")
        else { return nil }
        func number(_ from: Int, _ count: Int) -> Int64? {
            var value: Int64 = 0
            for byte in bytes[from..<from + count] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2), let hour = number(11, 2),
            let minute = number(14, 2), let second = number(17, 2), let micros = number(20, 6)
        else { return nil }
        // Days from 1970-01-01 to the civil date (Howard Hinnant's days_from_civil).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        return ((days * 24 + hour) * 60 + minute) * 60_000_000 + second * 1_000_000 + micros
    }
}

/// A process's CPU time: the growth of each thread's `/proc/PID/task/TID/schedstat`
/// run time, as ttrpc-load measures it (threads alive at the end; one that
/// began in between counts in full).
struct ServerCPU {
    let pid: Int32
    private let start: [String: Int64]

    init(pid: Int32) {
        self.pid = pid
        start = Self.threadTimes(pid)
    }

    func elapsedNanoseconds() -> Int64 {
        Self.threadTimes(pid).reduce(0) { sum, thread in sum + thread.value - (start[thread.key] ?? 0) }
    }

    private static func threadTimes(_ pid: Int32) -> [String: Int64] {
        let tasks = "/proc/\(pid)/task"
        let threads = (try? FileManager.default.contentsOfDirectory(atPath: tasks)) ?? []
        var times: [String: Int64] = [:]
        for thread in threads {
            guard let text = try? String(contentsOfFile: "\(tasks)/\(thread)/schedstat", encoding: .utf8),
                let first = text.split(separator: " ").first, let ns = Int64(first)
            else { continue }
            times[thread] = ns
        }
        return times
    }
}
