#!/usr/bin/env bash
# CI check: the whole test suite under ThreadSanitizer (run by .ci/run; a few minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
exec scripts/sanitizers.sh thread
