#!/usr/bin/env bash
# Instruction count of broker-server per delivered message, under callgrind (repeatable, unlike time).
# Usage: scripts/callgrind-fanout.sh [SUBS] [MSGS] [PAYLOAD] [RATE]   (defaults 16 100000 16)
#   RATE (msgs/s): fanbench's latency workload at that rate instead of fanout, so that
#   every delivery is its own write (the shape of the latency target), e.g. 64 2000 16 200.
# Needs valgrind (apt-get install valgrind) and ../shared/bench/peers (for fanbench).
set -euo pipefail
cd "$(dirname "$0")/.."
subs=${1:-16}; msgs=${2:-100000}; payload=${3:-16}; rate=${4:-}
case "$subs$msgs$payload$rate" in *[!0-9]*) echo "usage: $0 [SUBS] [MSGS] [PAYLOAD] [RATE]" >&2; exit 64;; esac
if [ -n "$rate" ]; then
    workload=(--workload latency --rate "$rate" --warmup 0 --time $((msgs / rate + 60)))
else
    workload=(--workload fanout --time 120)
fi
. scripts/callgrind-broker.sh
work=$(mktemp -d)
trap 'kill "$vg" 2>/dev/null || true; [ -n "${KEEP_CALLGRIND:-}" ] && cp "$work/cg.out" "$KEEP_CALLGRIND"; rm -rf "$work"' EXIT
cp -r ../shared/bench/peers/. "$work/peers"
make -s -C "$work/peers" fanbench >/dev/null
callgrind_prepare
callgrind_start "$work/cg.out"
"$work/peers/fanbench" --proto line --port "$port" "${workload[@]}" --subs "$subs" --payload "$payload" \
    --msgs "$msgs" --drain 60 >"$work/fanbench.json" 2>/dev/null
callgrind_stop
total=$(callgrind_total "$work/cg.out")
deliveries=$((subs * msgs))
echo "callgrind subs=$subs msgs=$msgs payload=$payload rate=${rate:-unpaced} instructions=$total per_delivery=$((total / deliveries))"
callgrind_annotate "$work/cg.out" 2>/dev/null | sed -n '/file:function/,$p' | sed -n '3,17p' | cut -c1-160
