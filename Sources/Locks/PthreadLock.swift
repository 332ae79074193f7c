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
/// The mutex and the value live in one allocation (a `ManagedBuffer`: the mutex as
/// its header, the value as its one element; swift-nio's `LockStorage` has them the
/// other way round, see ``PthreadLockStorage``), and are reached through pointers, so
/// `withLock` needs no dynamic exclusivity check.
/// One allocation rather than three (an object, the mutex, the value): at least
/// 32 bytes of heap less per lock, which counts for a broadcast ring's (one per topic).
///
/// A copy of a `PthreadLock` is the same lock (it refers to the same storage).
///
/// `@unchecked Sendable` invariant: the value is only read or written inside
/// `withLock`, i.e. while the mutex is held; the storage is made in `init` and
/// freed when the last copy goes (no other reference exists then). `Value` must
/// be `Sendable` because it is handed between threads.
/// Inlinable, so that the channels in other modules get it specialized and inlined.
public struct PthreadLock<Value: Sendable>: @unchecked Sendable {
    /// The mutex and the value (shared by every copy).
    public let storage: PthreadLockStorage<Value>

    public init(_ initial: Value) {
        storage = PthreadLockStorage.make(initial)
    }

    /// Runs `body` with exclusive access to the value. Never call a waker or
    /// resume a continuation inside `body`, and never re-enter the same lock.
    @inlinable @inline(__always)
    public func withLock<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        try storage.withLock(body)
    }
}

/// The storage of a ``PthreadLock``: one `pthread_mutex_t` (the buffer's header) and
/// the value (its one element), initialized by ``make(_:)`` and destroyed in `deinit`.
///
/// The mutex comes first, beside the object's reference count, and the value after
/// it: a retain or release of the storage (a handle copied into an async frame, say)
/// then writes the cache line the lock's users write anyway, not the value's. With
/// the value first, beside the count, `channel-bench` mpsc with 4 producers ran at
/// 5.2 M msgs/s against 6.3 M with the value in an allocation of its own.
///
/// Open, so that an object whose state is behind the lock can be the storage itself
/// (a broadcast channel's shared part: one allocation for the object, the mutex and the
/// state). A subclass has no stored property of its own (a `ManagedBuffer`'s rule):
/// everything it keeps is in `Value`, made by ``make(_:)`` called on the subclass.
open class PthreadLockStorage<Value: Sendable>: ManagedBuffer<pthread_mutex_t, Value> {
    // Not `Sendable` (a `ManagedBuffer` cannot be): the handles that share it across
    // threads (``PthreadLock``, a channel's sender and receivers) are, by their invariant.

    /// A storage of the dynamic type this is called on, holding `initial`.
    public final class func make(_ initial: Value) -> Self {
        let buffer = create(minimumCapacity: 1) { _ in pthread_mutex_t() }
        let storage = unsafeDowncast(buffer, to: self)
        storage.withUnsafeMutablePointers { mutex, value in
            value.initialize(to: initial)
            var attributes = pthread_mutexattr_t()
            pthread_mutexattr_init(&attributes)
            pthread_mutexattr_settype(&attributes, Int32(PTHREAD_MUTEX_ADAPTIVE_NP))
            pthread_mutex_init(mutex, &attributes)
            pthread_mutexattr_destroy(&attributes)
        }
        return storage
    }

    /// Runs `body` with exclusive access to the value (see ``PthreadLock/withLock(_:)``).
    @inlinable @inline(__always)
    public final func withLock<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        try withUnsafeMutablePointers { (mutex, value) throws(E) -> R in
            pthread_mutex_lock(mutex)
            defer { pthread_mutex_unlock(mutex) }
            return try body(&value.pointee)
        }
    }

    deinit {
        withUnsafeMutablePointers { mutex, value in
            pthread_mutex_destroy(mutex)
            value.deinitialize(count: 1)
        }
    }
}
