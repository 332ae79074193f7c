// The system's error text, read thread-safely with strerror_r.
import Dispatch
import Glibc
import Synchronization
import Testing
@testable import Posix

@Suite struct ErrorTextTests {
    @Test(arguments: [
        (ECONNREFUSED, "Connection refused"),
        (EPIPE, "Broken pipe"),
        (ENOENT, "No such file or directory"),
        (EADDRINUSE, "Address already in use"),
        (ETIMEDOUT, "Connection timed out"),
    ])
    func knownErrnosReadAsTheSystemWritesThem(code: Int32, text: String) {
        #expect(SystemError.text(errno: code) == text)
        #expect(SystemError("bind", errno: code).description == "bind: \(text)")
    }

    @Test func anUnknownErrnoSaysItsNumber() {
        #expect(SystemError.text(errno: 4242) == "Unknown error 4242")
    }

    @Test func threadsFormattingDifferentErrnosAtOnceEachGetTheirOwnText() {
        // Known codes (static strings) and unknown ones (written into the caller's buffer).
        let codes: [Int32] = [ECONNREFUSED, EPIPE, ENOENT, EADDRINUSE, ETIMEDOUT, ECONNRESET, 4001, 4002]
        let expected = codes.map { SystemError.text(errno: $0) }
        let mismatches = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: codes.count) { index in
            for _ in 0..<2000 where SystemError.text(errno: codes[index]) != expected[index] {
                mismatches.add(1, ordering: .relaxed)
            }
        }
        #expect(mismatches.load(ordering: .relaxed) == 0)
        #expect(expected[6] == "Unknown error 4001")
    }
}
