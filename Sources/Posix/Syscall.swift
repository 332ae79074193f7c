// The one funnel for errno: every system call of the layer goes through `Syscall.run`.
import CBrokerShim
import Glibc

/// The result of a call on a non-blocking descriptor.
///
/// A value. End of file is not a case of its own: a read into a non-empty buffer
/// that returns `.done(0)` met end of file, exactly as `read(2)` says. A send
/// returns `.done(0)` only for an empty buffer.
public enum IOResult<Value: ~Copyable>: ~Copyable {
    /// The call did (part of) its work.
    case done(Value)
    /// The call would block (`EAGAIN`/`EWOULDBLOCK`): wait for readiness.
    case wouldBlock
}

extension IOResult: Copyable where Value: Copyable {}
extension IOResult: Sendable where Value: Sendable & ~Copyable {}
extension IOResult: Equatable where Value: Equatable {}

/// The errno funnel: how every system call of this layer is made.
///
/// Stateless; any thread. A call is a closure returning the syscall's result
/// (-1 with errno set on failure). The funnel
/// - retries `EINTR` (the call is simply made again),
/// - reports `EAGAIN`/`EWOULDBLOCK` as ``IOResult/wouldBlock`` 
///   or throws it like any other errno (``blocking(_:_:)``),
/// - traps on `EBADF` and `EFAULT`: a closed or foreign descriptor, or a bad
///   pointer, is a bug in this program, not something the environment did
///   (as swift-nio does); going on could read or write someone else's file,
/// - throws ``SystemError`` with the call's name for every other errno.
///
/// What does not go through it, and why: calls that report errors another way
/// (`getaddrinfo`, `pthread_sigmask`, `signal`); `close` (see ``FileDescriptor``);
/// the signal handler's `write` (async-signal-safe code may not trap or allocate).
public enum Syscall {
    /// The funnel: makes a call on a non-blocking descriptor; `EAGAIN` is `.wouldBlock`.
    @inlinable
    public static func nonBlocking<T: FixedWidthInteger>(_ call: String, _ body: () -> T) throws(SystemError) -> IOResult<T> {
        while true {
            let result = body()
            if result >= 0 { return .done(result) }
            let code = cbroker_errno()
            switch code {
            case EINTR:
                continue
            case EAGAIN, EWOULDBLOCK:
                return .wouldBlock
            case EBADF, EFAULT:
                // Not unit-testable without crashing the test process (see PosixTests/SyscallTests).
                preconditionFailure("\(call): \(SystemError.text(errno: code)) — a descriptor or pointer bug in this program")
            default:
                throw SystemError(call, errno: code)
            }
        }
    }

    /// The funnel for a call whose `EAGAIN` is an error like any other (creating,
    /// binding, waiting): ``nonBlocking(_:_:)`` with `.wouldBlock` thrown as `EAGAIN`.
    @inlinable
    public static func blocking<T: FixedWidthInteger>(_ call: String, _ body: () -> T) throws(SystemError) -> T {
        switch try nonBlocking(call, body) {
        case let .done(result): return result
        case .wouldBlock: throw SystemError(call, errno: EAGAIN)  // EWOULDBLOCK is EAGAIN on Linux
        }
    }
}
