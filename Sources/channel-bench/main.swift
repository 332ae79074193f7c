// channel-bench: the Swift counterpart of tokio-broadcast-bench
// (/work/shared/bench/tokio-broadcast). Same workloads, same option names,
// same `result mode=... key=value` line, so that the two can be compared
// column for column.
//
// Runtime: Swift's global concurrent executor (the cooperative pool). On Linux
// it has one thread per CPU, i.e. 2 threads on the 2-core benchmark machine,
// the closest equivalent of tokio's 2 worker threads. All senders and
// receivers are detached tasks; the main thread only awaits them.
#if canImport(Glibc)
import Glibc
#endif

let args: Args
switch Args.parse(Array(CommandLine.arguments.dropFirst())) {
case .success(let a): args = a
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
