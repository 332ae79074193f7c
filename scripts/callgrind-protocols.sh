#!/usr/bin/env bash
# Broker instructions per delivery for version 1 and version 2 subscribers, side by side
# (callgrind counts instructions: repeatable whatever else the machine does).
# The load is broker-cli bench (SUBS subscribers, MSGS messages of PAYLOAD bytes, one publisher);
# the figure includes the publish side, divided over SUBS deliveries per message.
# Usage: scripts/callgrind-protocols.sh [SUBS] [MSGS] [PAYLOAD]   (defaults 16 100000 16)
set -euo pipefail
cd "$(dirname "$0")/.."
subs=${1:-16}; msgs=${2:-100000}; payload=${3:-16}
case "$subs$msgs$payload" in *[!0-9]*) echo "usage: $0 [SUBS] [MSGS] [PAYLOAD]" >&2; exit 64;; esac
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
swift build -c release --product broker-server >/dev/null
swift build -c release --product broker-cli >/dev/null
work=$(mktemp -d)
trap 'kill "$vg" 2>/dev/null || true; [ -n "${KEEP_CALLGRIND:-}" ] && cp "$work"/cg.* "$KEEP_CALLGRIND"/; rm -rf "$work"' EXIT
# valgrind 3.19 cannot read the toolchain's DWARF: keep the symbols, drop the debug info.
objcopy --strip-debug .build/release/broker-server "$work/broker-server"
for protocol in 1 2; do
    port=$((20000 + RANDOM % 20000))
    valgrind --tool=callgrind --callgrind-out-file="$work/cg.$protocol" "$work/broker-server" \
        --port "$port" --threads 1 --config /dev/null >"$work/stdout" 2>"$work/stderr" &
    vg=$!
    for _ in $(seq 300); do grep -q '^listening on' "$work/stdout" 2>/dev/null && break; sleep 0.1; done
    grep -q '^listening on' "$work/stdout" || { cat "$work/stderr" >&2; exit 1; }
    .build/release/broker-cli bench --port "$port" --subs "$subs" --msgs "$msgs" --size "$payload" \
        --protocol "$protocol" --timeout 60 --json >"$work/bench.$protocol.json"
    kill -TERM "$vg"; wait "$vg" || true
    total=$(callgrind_annotate "$work/cg.$protocol" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
    echo "callgrind protocol=$protocol subs=$subs msgs=$msgs payload=$payload instructions=$total per_delivery=$((total / (subs * msgs)))"
done
