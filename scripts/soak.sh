#!/usr/bin/env bash
# Soak test: a release broker-server under N minutes of mixed load with churn and hostile clients.
#
#   scripts/soak.sh [MINUTES]        mixed load (default 10 minutes); a figures line every ~10 s
#   scripts/soak.sh hostile-rounds   the hostile set five times; RSS after round 2 vs round 5
#
# Builds release (scratch path .build-soak, or $SCRATCH), starts broker-server on a
# free port (the client reads its `listening on` line), stops it by pid at the end.
# Exit status 1 if a message was lost outside LAGGED accounting, a client-side
# error was recorded, or the broker died or did not exit cleanly. The broker's log
# goes to $SOAK_LOG (default /tmp/broker-soak-<pid>.log).
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-10}"
scratch="${SCRATCH:-.build-soak}"

echo "== swift build -c release --scratch-path $scratch --product broker-server" >&2
swift build -c release --scratch-path "$scratch" --product broker-server >&2
binary="$(swift build -c release --scratch-path "$scratch" --show-bin-path)/broker-server"

# The client and the broker open many sockets.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

if [ "$mode" = "hostile-rounds" ]; then
    exec python3 scripts/soak_client.py "$binary" hostile-rounds
fi
case "$mode" in
    ''|*[!0-9.]*) echo "usage: scripts/soak.sh [MINUTES] | hostile-rounds" >&2; exit 64 ;;
esac
exec python3 scripts/soak_client.py "$binary" soak "$mode"
