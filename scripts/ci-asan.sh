#!/usr/bin/env bash
# CI check: the whole test suite under AddressSanitizer with leak detection (run by .ci/run).
# A leak (a cycle that keeps a stopped server alive, a buffer never freed) fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1 halt_on_error=1}"
exec scripts/sanitizers.sh address
