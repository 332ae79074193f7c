#if canImport(Glibc)
import Glibc
#endif

/// A task executor with W worker threads (2 by default) that schedules like
/// tokio's multi-thread runtime in the ways that matter for these workloads:
///
/// - A job woken from a worker thread goes to that worker's **LIFO slot** and
///   runs next on the same thread, without waking another thread (tokio's
///   `lifo_slot`); the job it displaces goes to the shared queue and an idle
///   worker is woken.
/// - ``yieldNow()`` is tokio's `yield_now`: the task is deferred on its
///   worker and resumed only when that worker has nothing else to run (no
///   LIFO job, empty shared queue); no other worker is woken for it.
///   (`Task.yield()` cannot be used for this: it enqueues a separate
///   continuation job, which this executor cannot tell apart from a wake-up.)
/// - Jobs enqueued from other threads go to the shared FIFO queue.
/// - At most `lifoBudget` LIFO jobs run in a row before the shared queue gets
///   a turn (tokio caps LIFO polls too), so nothing starves.
///
/// This is a benchmark harness, not library code: one mutex-protected shared
/// queue, no per-worker stealing deques.
///
/// `@unchecked Sendable` invariant: the shared queue, `idle` and `shutdown`
/// are only accessed with `mutex` held; each `Worker`'s `lifo`, `current` and
/// `lifoRun` are only accessed by that worker's own thread (identified by
/// `pthread_self()` compared with `threads`, which are written before any job
/// is accepted and never change).
final class TwoWorkerExecutor: TaskExecutor, @unchecked Sendable {
    private final class Worker {
        var lifo: UnownedJob? = nil
        var current: UnsafeRawPointer? = nil
        var lifoRun = 0
        var deferred: [UnsafeContinuation<Void, Never>] = []
    }

    /// Yields like tokio's `yield_now` (see the type's doc comment). Outside a
    /// worker thread it falls back to `Task.yield()`.
    func yieldNow() async {
        await withUnsafeContinuation { (c: UnsafeContinuation<Void, Never>) in
            if let w = currentWorker() {
                w.deferred.append(c)
            } else {
                c.resume()
            }
        }
    }

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var queue: [UnownedJob?] = Array(repeating: nil, count: 1024)
    private var head = 0
    private var count = 0
    private var idle = 0
    private let workers: [Worker]
    private var threads: [pthread_t] = []
    private let lifoBudget = 64

    init(workers n: Int) {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
        workers = (0..<max(n, 1)).map { _ in Worker() }
        let box = Unmanaged.passRetained(StartBox(self))
        var started: [pthread_t] = []
        for i in 0..<workers.count {
            var t = pthread_t()
            let arg = UnsafeMutableRawPointer(bitPattern: (i << 1) | 1)
            _ = box.retain()
            let ctx = UnsafeMutablePointer<(UnsafeMutableRawPointer, Int)>.allocate(capacity: 1)
            ctx.initialize(to: (box.toOpaque(), i))
            _ = arg
            pthread_create(&t, nil, { raw in
                guard let raw else { return nil }
                let ctx = raw.assumingMemoryBound(to: (UnsafeMutableRawPointer, Int).self)
                let (boxPtr, index) = ctx.pointee
                ctx.deallocate()
                let box = Unmanaged<StartBox>.fromOpaque(boxPtr).takeRetainedValue()
                box.executor.run(index)
                return nil
            }, ctx)
            started.append(t)
        }
        pthread_mutex_lock(mutex)
        threads = started
        pthread_cond_broadcast(cond)
        pthread_mutex_unlock(mutex)
        box.release()
    }

    private final class StartBox {
        let executor: TwoWorkerExecutor
        init(_ e: TwoWorkerExecutor) { executor = e }
    }

    @inline(__always)
    private func currentWorker() -> Worker? {
        let me = pthread_self()
        var i = 0
        while i < threads.count {
            if pthread_equal(threads[i], me) != 0 { return workers[i] }
            i += 1
        }
        return nil
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let j = UnownedJob(job)
        if let w = currentWorker() {
            let id = unsafeBitCast(j, to: UnsafeRawPointer.self)
            if id != w.current {
                if let old = w.lifo {
                    w.lifo = j
                    push(old)
                } else {
                    w.lifo = j
                }
                return
            }
        }
        push(j)
    }

    private func push(_ j: UnownedJob, signal: Bool = true) {
        pthread_mutex_lock(mutex)
        if count == queue.count {
            var bigger = [UnownedJob?](repeating: nil, count: queue.count * 2)
            for k in 0..<count { bigger[k] = queue[(head + k) % queue.count] }
            queue = bigger
            head = 0
        }
        queue[(head + count) % queue.count] = j
        count += 1
        if signal && idle > 0 { pthread_cond_signal(cond) }
        pthread_mutex_unlock(mutex)
    }

    private func pop(block: Bool) -> UnownedJob? {
        pthread_mutex_lock(mutex)
        while count == 0 {
            if !block {
                pthread_mutex_unlock(mutex)
                return nil
            }
            idle += 1
            pthread_cond_wait(cond, mutex)
            idle -= 1
        }
        let j = queue[head]
        queue[head] = nil
        head = (head + 1) % queue.count
        count -= 1
        pthread_mutex_unlock(mutex)
        return j
    }

    private func run(_ index: Int) {
        pthread_mutex_lock(mutex)
        while threads.count <= index { pthread_cond_wait(cond, mutex) }
        pthread_mutex_unlock(mutex)
        let w = workers[index]
        let me = asUnownedTaskExecutor()
        while true {
            var next: UnownedJob?
            if let l = w.lifo, w.lifoRun < lifoBudget {
                w.lifo = nil
                w.lifoRun += 1
                next = l
            } else {
                if let l = w.lifo {
                    w.lifo = nil
                    push(l)
                }
                w.lifoRun = 0
                next = pop(block: w.deferred.isEmpty)
                if next == nil {
                    // Nothing else to run: resume the tasks that yielded.
                    let ds = w.deferred
                    w.deferred.removeAll(keepingCapacity: true)
                    for d in ds { d.resume() }
                    continue
                }
            }
            guard let job = next else { continue }
            w.current = unsafeBitCast(job, to: UnsafeRawPointer.self)
            job.runSynchronously(on: me)
            w.current = nil
        }
    }
}
