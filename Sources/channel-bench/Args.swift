/// Command-line options, the same as tokio-broadcast-bench's.
struct Args {
    enum Mode: String { case fanout, lag, mpsc }
    enum Pace: String { case yield, none }

    var mode = Mode.fanout
    var receivers = 0
    var capacity = 1024
    var messages: UInt64 = 1_000_000
    var payload = 64
    var pace = Pace.yield
    var margin = -1
    var producers = 1
    var workers = 2
    var slowUs: UInt64 = 1000
    var warmup: UInt64? = nil
    /// Swift only: `tokio-like` (default, a `TwoWorkerExecutor` with `--workers`
    /// threads) or `global` (Swift's default cooperative pool).
    var executor = "tokio-like"
    var taskExecutor: (any TaskExecutor)? = nil

    static let usage = """
        usage: channel-bench [--mode fanout|lag|mpsc] [options]
          --mode MODE        fanout (default), lag or mpsc
          --receivers N      broadcast receivers (fanout default 16, lag default 4)
          --capacity C       channel capacity (default 1024)
          --messages M       messages sent in the measured pass (default 1000000)
          --payload P        payload bytes per message (default 64)
          --pace yield|none  fanout sender pacing (default yield; lag mode always yields)
          --margin X         pacing margin: yield when pending >= C - X (default C/8)
          --producers K      mpsc producers (default 1)
          --workers W        worker threads of the tokio-like executor (default 2)
          --executor E       tokio-like (default) or global (Swift's cooperative pool,
                             one thread per core; --workers is then ignored)
          --slow-us U        lag mode: sleep of the slow receiver per message (default 1000)
          --warmup W         messages in the unmeasured warm-up pass (default M/20, 0 = none)

        """

    static func parse(_ argv: [String]) -> Result<Args, ArgError> {
        var a = Args()
        var it = argv.makeIterator()
        while let flag = it.next() {
            if flag == "-h" || flag == "--help" { return .failure(ArgError(message: "")) }
            guard let val = it.next() else { return .failure(ArgError(message: "missing value after \(flag)")) }
            let num = UInt64(val.replacingOccurrences(of: "_", with: ""))
            func need() -> UInt64? { num }
            switch flag {
            case "--executor":
                guard val == "tokio-like" || val == "global" else { return .failure(ArgError(message: "unknown executor \(val)")) }
                a.executor = val
            case "--mode":
                guard let m = Mode(rawValue: val) else { return .failure(ArgError(message: "unknown mode \(val)")) }
                a.mode = m
            case "--pace":
                guard let p = Pace(rawValue: val) else { return .failure(ArgError(message: "unknown pace \(val)")) }
                a.pace = p
            case "--receivers", "--capacity", "--messages", "--payload", "--margin", "--producers",
                 "--workers", "--slow-us", "--warmup":
                guard let n = num, n < (1 << 62) else { return .failure(ArgError(message: "bad number for \(flag): \(val)")) }
                switch flag {
                case "--receivers": a.receivers = Int(n)
                case "--capacity": a.capacity = Int(n)
                case "--messages": a.messages = n
                case "--payload": a.payload = Int(n)
                case "--margin": a.margin = Int(n)
                case "--producers": a.producers = Int(n)
                case "--workers": a.workers = Int(n)
                case "--slow-us": a.slowUs = n
                default: a.warmup = n
                }
            default:
                return .failure(ArgError(message: "unknown option \(flag)"))
            }
        }
        if a.receivers == 0 { a.receivers = a.mode == .lag ? 4 : 16 }
        if a.margin < 0 { a.margin = a.capacity / 8 }
        if a.mode == .lag {
            a.pace = .yield
            if a.receivers < 2 { return .failure(ArgError(message: "lag mode needs at least 2 receivers")) }
        }
        if a.capacity == 0 || a.messages == 0 || a.workers == 0 || a.producers == 0 {
            return .failure(ArgError(message: "capacity, messages, workers and producers must be > 0"))
        }
        if a.margin >= a.capacity { return .failure(ArgError(message: "margin must be smaller than capacity")) }
        return .success(a)
    }
}

struct ArgError: Error { let message: String }
