// The errno funnel: EINTR retried, EAGAIN a result, programmer errors trapped, the rest a typed error.
import CBrokerShim
import Glibc
import Testing
@testable import Posix

/// A fake system call: fails with each errno of `failures` in turn (-1 and errno
/// set), then returns `result`. Counts how often it was made.
private final class ScriptedCall {
    var failures: [Int32]
    let result: Int
    var calls = 0
    init(failing failures: [Int32], then result: Int) {
        self.failures = failures
        self.result = result
    }
    func callAsFunction() -> Int {
        calls += 1
        if failures.isEmpty { return result }
        cbroker_set_errno(failures.removeFirst())
        return -1
    }
}

@Suite struct SyscallTests {
    @Test func anInterruptedCallIsMadeAgainUntilItSucceeds() throws {
        let call = ScriptedCall(failing: [EINTR, EINTR, EINTR], then: 7)
        #expect(try Syscall.nonBlocking("read") { call() } == .done(7))
        #expect(call.calls == 4)
        let blocking = ScriptedCall(failing: [EINTR], then: 3)
        #expect(try Syscall.blocking("bind") { blocking() } == 3)
        #expect(blocking.calls == 2)
    }

    @Test func eagainIsWouldBlockOnANonBlockingCall() throws {
        let call = ScriptedCall(failing: [EAGAIN], then: 1)
        #expect(try Syscall.nonBlocking("recv") { call() } == .wouldBlock)
        #expect(call.calls == 1)
        let interrupted = ScriptedCall(failing: [EINTR, EWOULDBLOCK], then: 1)
        #expect(try Syscall.nonBlocking("send") { interrupted() } == .wouldBlock)
        #expect(interrupted.calls == 2)
    }

    @Test func eagainIsAnErrorOnABlockingCall() {
        let call = ScriptedCall(failing: [EAGAIN], then: 1)
        #expect(throws: SystemError("connect", errno: EAGAIN)) { try Syscall.blocking("connect") { call() } }
    }

    @Test func anyOtherErrnoIsASystemErrorNamingTheCall() {
        let call = ScriptedCall(failing: [ECONNREFUSED], then: 0)
        let thrown = #expect(throws: SystemError.self) { try Syscall.nonBlocking("connect") { call() } }
        #expect(thrown == SystemError("connect", errno: ECONNREFUSED))
        #expect(thrown?.description == "connect: Connection refused")
        #expect(call.calls == 1)
    }

    @Test func zeroAndPositiveResultsAreResults() throws {
        #expect(try Syscall.nonBlocking("recv") { 0 } == .done(0))
        #expect(try Syscall.blocking("socket") { Int32(5) } == 5)
    }

    // EBADF and EFAULT trap (preconditionFailure): they are bugs of this program.
    // A trap cannot be caught in-process, so these run as exit tests, in a child process.
    @Test func ebadfTrapsNamingTheCall() async throws {
        let result = try await #require(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = try? Syscall.nonBlocking("recv") { () -> Int in
                cbroker_set_errno(EBADF)
                return -1
            }
        }
        let message = String(decoding: result.standardErrorContent, as: UTF8.self)
        #expect(message.contains("recv: Bad file descriptor"))
    }

    @Test func efaultTraps() async {
        await #expect(processExitsWith: .failure) {
            _ = try? Syscall.blocking("getsockname") { () -> Int32 in
                cbroker_set_errno(EFAULT)
                return -1
            }
        }
    }
}
