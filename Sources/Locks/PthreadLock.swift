// A value behind a pthread mutex: the one lock type of the package.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A value protected by a `pthread_mutex_t`: the lock of the broker's channels,
/// registry and event-loop inboxes, and of the client library.
///
/// Why not `Synchronization.Mutex`: on Linux it is built on raw futex calls
/// that ThreadSanitizer cannot see, so every access it protects is reported
/// as a race (verified with a two-thread counter: exact result, TSan
/// reports). `pthread_mutex_t` is intercepted by TSan, and its uncontended
/// path is one atomic exchange, like `Mutex`.
///
/// The mutex is glibc's adaptive type (`PTHREAD_MUTEX_ADAPTIVE_NP`): a thread
/// that finds it held spins briefly before sleeping in the kernel, as
/// `Synchronization.Mutex` does. With the default type every contended acquire
/// slept at once: `channel-bench` mpsc with 4 producers ran at 5.0 M msgs/s and
/// fanout to 16 receivers at 10.7 M deliveries/s, against 6.8 M and 16.2 M
/// adaptive (medians of interleaved runs; docs/benchmarks.md).
///
/// The value lives in its own allocation and is reached through a pointer, so
/// `withLock` needs no dynamic exclusivity check.
///
/// `@unchecked Sendable` invariant: `value` is only read or written inside
/// `withLock`, i.e. while `mutex` is held; `mutex` and `value` are `let`
/// pointers set in `init` and freed in `deinit` (no other reference exists
/// then). `Value` must be `Sendable` because it is handed between threads.
/// Inlinable, so that the channels in other modules get it specialized and inlined.
public final class PthreadLock<Value: Sendable>: @unchecked Sendable {
    @usableFromInline let mutex: UnsafeMutablePointer<pthread_mutex_t>
    @usableFromInline let value: UnsafeMutablePointer<Value>

    public init(_ initial: Value) {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        var attributes = pthread_mutexattr_t()
        pthread_mutexattr_init(&attributes)
        pthread_mutexattr_settype(&attributes, Int32(PTHREAD_MUTEX_ADAPTIVE_NP))
        pthread_mutex_init(mutex, &attributes)
        pthread_mutexattr_destroy(&attributes)
        value = .allocate(capacity: 1)
        value.initialize(to: initial)
    }

    deinit {
        value.deinitialize(count: 1)
        value.deallocate()
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with exclusive access to the value. Never call a waker or
    /// resume a continuation inside `body`, and never re-enter the same lock.
    @inlinable @inline(__always)
    public func withLock<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value.pointee)
    }
}
