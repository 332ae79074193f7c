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
. scripts/callgrind-broker.sh
swift build -c release --product broker-cli >/dev/null
work=$(mktemp -d)
trap 'kill "$vg" 2>/dev/null || true; [ -n "${KEEP_CALLGRIND:-}" ] && cp "$work"/cg.* "$KEEP_CALLGRIND"/; rm -rf "$work"' EXIT
callgrind_prepare
for protocol in 1 2; do
    callgrind_start "$work/cg.$protocol"
    .build/release/broker-cli bench --port "$port" --subs "$subs" --msgs "$msgs" --size "$payload" \
        --protocol "$protocol" --timeout 60 --json >"$work/bench.$protocol.json"
    callgrind_stop
    total=$(callgrind_total "$work/cg.$protocol")
    echo "callgrind protocol=$protocol subs=$subs msgs=$msgs payload=$payload instructions=$total per_delivery=$((total / (subs * msgs)))"
done
