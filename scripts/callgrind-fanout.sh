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
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
swift build -c release --product broker-server >/dev/null
work=$(mktemp -d)
trap 'kill "$vg" 2>/dev/null || true; [ -n "${KEEP_CALLGRIND:-}" ] && cp "$work/cg.out" "$KEEP_CALLGRIND"; rm -rf "$work"' EXIT
cp -r ../shared/bench/peers/. "$work/peers"
make -s -C "$work/peers" fanbench >/dev/null
# valgrind 3.19 cannot read the toolchain's DWARF: keep the symbols, drop the debug info.
objcopy --strip-debug .build/release/broker-server "$work/broker-server"
port=$((20000 + RANDOM % 20000))
valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$work/broker-server" \
    --port "$port" --threads 1 --config /dev/null >"$work/stdout" 2>"$work/stderr" &
vg=$!
for _ in $(seq 300); do grep -q '^listening on' "$work/stdout" 2>/dev/null && break; sleep 0.1; done
grep -q '^listening on' "$work/stdout" || { cat "$work/stderr" >&2; exit 1; }
"$work/peers/fanbench" --proto line --port "$port" "${workload[@]}" --subs "$subs" --payload "$payload" \
    --msgs "$msgs" --drain 60 >"$work/fanbench.json" 2>/dev/null
kill -TERM "$vg"; wait "$vg" || true
total=$(callgrind_annotate "$work/cg.out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
deliveries=$((subs * msgs))
echo "callgrind subs=$subs msgs=$msgs payload=$payload rate=${rate:-unpaced} instructions=$total per_delivery=$((total / deliveries))"
callgrind_annotate "$work/cg.out" 2>/dev/null | sed -n '/file:function/,$p' | sed -n '3,17p' | cut -c1-160
