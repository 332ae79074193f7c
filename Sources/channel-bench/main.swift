// channel-bench: the Swift counterpart of tokio-broadcast-bench
// (/work/shared/bench/tokio-broadcast). Same workloads, same option names,
// same `result mode=... key=value` line, so that the two can be compared
// column for column.
//
// Runtime: by default a `TwoWorkerExecutor` (a task executor with `--workers`
// threads, 2 by default, with a tokio-like LIFO slot; see its doc comment),
// the closest equivalent of tokio's 2-worker multi-thread runtime. With
// `--executor global`, Swift's default cooperative pool is used instead (one
// thread per CPU, i.e. also 2 here). All senders and receivers are tasks with
// that executor preference; the main thread only awaits them.
#if canImport(Glibc)
import Glibc
#endif

let args: Args
switch Args.parse(Array(CommandLine.arguments.dropFirst())) {
case .success(var a):
    if a.executor == "tokio-like" { a.taskExecutor = TwoWorkerExecutor(workers: a.workers) }
    args = a
case .failure(let e):
    if !e.message.isEmpty { FileHandleStderr.write("error: \(e.message)\n") }
    FileHandleStderr.write(Args.usage)
    exit(2)
}

let warmup = args.warmup ?? args.messages / 20
let ok: Bool
switch args.mode {
case .fanout: ok = await runFanout(args, warmup: warmup)
case .lag: ok = await runLag(args, warmup: warmup)
case .mpsc: ok = await runMpsc(args, warmup: warmup)
}
exit(ok ? 0 : 1)
