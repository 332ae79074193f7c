// The fuzz build compiles the configuration sources without the TLS module: this stands in for
// the one type they name from it (the fuzzer never loads certificates).

/// `TLS.TLSContext` for the fuzz build.
public final class TLSContext: Sendable {}
