// The fuzz build compiles the configuration sources alone, without the Posix module: this
// stands in for the one thing they take from it, an errno's text (the fuzzer never reads files).

/// `SystemError.text(errno:)` for the fuzz build.
enum SystemError {
    static func text(errno code: Int32) -> String { "errno \(code)" }
}
