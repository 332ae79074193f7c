#!/usr/bin/env bash
# Runs the whole test suite under a sanitizer: scripts/sanitizers.sh thread|address
#   thread  -> swift test --sanitize=thread  (scratch path .build-tsan)
#   address -> swift test --sanitize=address (scratch path .build-asan)
# Extra arguments go to swift test (e.g. --filter HostileClientTests).
set -euo pipefail
cd "$(dirname "$0")/.."

kind="${1:-}"
case "$kind" in
    thread) scratch=.build-tsan ;;
    address) scratch=.build-asan ;;
    *) echo "usage: scripts/sanitizers.sh thread|address [swift test arguments]" >&2; exit 64 ;;
esac
shift

# Any report fails the run (TSan's default exit code on a report is 66; ASan aborts).
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=0 exitcode=66 second_deadlock_stack=1}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1 halt_on_error=1}"
# Leaks in the test harness's child-process helpers and toolchain libraries (documented there).
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$PWD/scripts/lsan-suppressions.txt print_suppressions=0}"

echo "== swift test --sanitize=$kind --scratch-path $scratch $*"
swift test --sanitize="$kind" --scratch-path "$scratch" "$@"
