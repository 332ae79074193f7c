#!/usr/bin/env bash
# CI: a short fuzzing pass over every target in Fuzz/ (20 s each, about a minute with the builds).
# Needs only the toolchain (swiftc -sanitize=fuzzer,address); fails if any target crashes or
# breaks an invariant. Longer runs: scripts/fuzz.sh SECONDS [RUNS], see docs/hardening.md.
set -euo pipefail
cd "$(dirname "$0")/.."
# A fixed seed and input count make the CI pass reproducible (the same inputs every run);
# the long, randomly seeded runs are `scripts/fuzz.sh` (docs/hardening.md).
FUZZ_SEED=${FUZZ_SEED:-1} exec scripts/fuzz.sh 40 150000
