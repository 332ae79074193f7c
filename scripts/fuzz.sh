#!/usr/bin/env bash
# Builds the libFuzzer targets under Fuzz/ and runs each one, one after another, on a scratch copy of its seed corpus.
#
# usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [RUNS]
#   SECONDS_PER_TARGET  -max_total_time for each target (default 60; 0 = no time limit)
#   RUNS                if given and > 0, also -runs=RUNS (whichever limit comes first ends the run)
# Environment: FUZZ_TARGETS (default "framer config acl"), FUZZ_SEED (libFuzzer -seed; unset = random), SWIFTC (default swiftc on PATH, else /opt/swift/usr/bin/swiftc).
#
# Prints, per target, the inputs executed (libFuzzer's stat::number_of_executed_units) and
# the time taken. Exits 1 if any target crashed, hit an invariant or timed out; the failing
# input is left in .build-fuzz/artifacts/. The repository's corpus is never written to.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
    echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [RUNS]" >&2
    exit 64
}
is_count() { [[ "$1" =~ ^[0-9]+$ ]]; }

[ $# -le 2 ] || usage
seconds="${1:-60}"
runs="${2:-0}"
is_count "$seconds" || usage
is_count "$runs" || usage
if [ "$seconds" -eq 0 ] && [ "$runs" -eq 0 ]; then
    echo "fuzz.sh: give a time limit or a run count, or the fuzzer never stops" >&2
    usage
fi

swiftc="${SWIFTC:-$(command -v swiftc || echo /opt/swift/usr/bin/swiftc)}"
out=.build-fuzz
mkdir -p "$out/artifacts"

# target name -> module name, sources (the module under test plus the fuzz entry point), -max_len.
sources_for() {
    case "$1" in
        framer) echo "Sources/Protocol/*.swift Fuzz/FramerParser/*.swift" ;;
        # The configuration names the acl_file's types, which use the protocol's names and SHA-256.
        config) echo "Sources/Protocol/*.swift Sources/Broker/Config/*.swift Sources/Broker/Access/*.swift Fuzz/Config/*.swift" ;;
        acl) echo "Sources/Protocol/*.swift Sources/Broker/Config/*.swift Sources/Broker/Access/*.swift Fuzz/Config/SystemErrorText.swift Fuzz/Config/TLSContextStandIn.swift Fuzz/AccessList/*.swift" ;;
        *) echo "fuzz.sh: unknown target '$1' (known: framer config acl)" >&2; exit 64 ;;
    esac
}
module_for() {
    case "$1" in framer) echo FuzzFramerParser ;; config) echo FuzzConfig ;; acl) echo FuzzAccessList ;; esac
}
# Small inputs keep the rate high; the framer's small maximum (1...64) reaches the
# long-line paths, and the config limit fits the shipped conf/broker.conf.
max_len_for() {
    case "$1" in framer) echo 512 ;; config) echo 2400 ;; acl) echo 2400 ;; esac
}

failed=0
summary=()
for target in ${FUZZ_TARGETS:-framer config acl}; do
    sources=$(sources_for "$target")
    binary="$out/fuzz-$target"
    echo "== fuzz $target: building $binary"
    # shellcheck disable=SC2086 # the globs in $sources are meant to expand
    if ! "$swiftc" -swift-version 6 -sanitize=fuzzer,address -parse-as-library -O \
        -module-name "$(module_for "$target")" $sources -o "$binary" >"$out/$target.build.log" 2>&1; then
        # The gold linker warns about local ASan symbols; the log holds the real error too.
        grep -v "Cannot export local symbol" "$out/$target.build.log" >&2 || true
        echo "fuzz.sh: building $target failed" >&2
        exit 1
    fi

    corpus=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-corpus-$target.XXXXXX")
    cp Fuzz/corpus/"$target"/* "$corpus"/
    args=(-print_final_stats=1 -max_len="$(max_len_for "$target")" -timeout=30
          -artifact_prefix="$out/artifacts/$target-")
    [ "$seconds" -gt 0 ] && args+=(-max_total_time="$seconds")
    [ "$runs" -gt 0 ] && args+=(-runs="$runs")
    [ -n "${FUZZ_SEED:-}" ] && args+=(-seed="$FUZZ_SEED")
    log="$out/$target.log"
    echo "== fuzz $target: ${args[*]} (log: $log)"
    started=$(date +%s)
    rc=0
    # malloc_context_size=0: ASan records no stack per allocation, which is most of its
    # cost here; crash stacks are still complete. Rerun an artifact without it for more.
    # SWIFT_BACKTRACE=enable=no leaves crash reporting to libFuzzer and ASan.
    SWIFT_BACKTRACE=enable=no ASAN_OPTIONS="${ASAN_OPTIONS:-malloc_context_size=0}" "$binary" "${args[@]}" "$corpus" >"$log" 2>&1 || rc=$?
    elapsed=$(( $(date +%s) - started ))
    rm -rf "$corpus"

    executed=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    if [ "$rc" -ne 0 ]; then
        failed=1
        echo "== fuzz $target: FAILED (exit $rc); the end of $log:" >&2
        tail -n 40 "$log" >&2
        summary+=("$target: FAILED after ${executed:-?} inputs in ${elapsed}s (exit $rc, artifacts in $out/artifacts/)")
    else
        summary+=("$target: ${executed:-?} inputs executed in ${elapsed}s (${rate:-?}/s), no crash")
    fi
done

echo "== fuzz summary"
printf '%s\n' "${summary[@]}"
exit "$failed"
