#!/usr/bin/env bash
# Broker instructions per delivery, per publish and per connection for each workload of
# ../shared/bench/peers (fanbench), under callgrind: repeatable whatever else the machine does.
# Usage: scripts/callgrind-workloads.sh [WORKLOAD...]
#   WORKLOAD: fanout topics fanin patterns churn latency (default: all of them)
#   BROKER=path  measures that broker-server (say, a build of an older commit) instead of
#                building this tree's; the figures of two builds are then side by side.
#   KEEP_CALLGRIND=dir  keeps each workload's callgrind output there (cg.WORKLOAD).
# Sizes are the peers workloads' shapes with fewer messages (callgrind runs ~50x slower):
#   fanout   16 subscribers, 50,000 messages of 16 B
#   topics   10,000 topics, 100 connections, 200,000 messages (subscribing all included)
#   fanin    64 publishers, 1 subscriber, 200,000 messages
#   patterns 16 subscribers, 10,000 never-matching patterns on 100 connections, 50,000
#            messages twice (fanbench's run without the patterns, then with them)
#   churn    16 loops of connect, subscribe, PING, close, for 10 s
#   latency  64 subscribers, 2,000 messages at 200 msgs/s (every delivery its own write)
# Needs valgrind (installed when missing) and ../shared/bench/peers.
set -euo pipefail
cd "$(dirname "$0")/.."
workloads=("$@")
[ ${#workloads[@]} -eq 0 ] && workloads=(fanout topics fanin patterns churn latency)
for w in "${workloads[@]}"; do
    case "$w" in fanout|topics|fanin|patterns|churn|latency) ;;
        *) echo "usage: $0 [fanout|topics|fanin|patterns|churn|latency ...]" >&2; exit 64;; esac
done
. scripts/callgrind-broker.sh
work=$(mktemp -d)
vg=
trap '[ -n "$vg" ] && kill "$vg" 2>/dev/null; [ -n "${KEEP_CALLGRIND:-}" ] && cp "$work"/cg.* "$KEEP_CALLGRIND"/ 2>/dev/null; rm -rf "$work"' EXIT
cp -r ../shared/bench/peers/. "$work/peers"
make -s -C "$work/peers" fanbench >/dev/null
if [ -n "${BROKER:-}" ]; then
    command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
    objcopy --strip-debug "$BROKER" "$work/broker-server"
else
    callgrind_prepare
fi
# A count from fanbench's JSON; for patterns, its two passes together (`baseline` is the first).
field() {
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); b=d.get('baseline') or {}
print(int(d.get(sys.argv[2]) or 0) + int(b.get(sys.argv[2]) or 0))" "$1" "$2"
}
for w in "${workloads[@]}"; do
    case "$w" in
        fanout)   args=(--workload fanout --subs 16 --payload 16 --msgs 50000 --time 300) ;;
        topics)   args=(--workload topics --topics 10000 --subs 100 --msgs 200000 --time 300) ;;
        fanin)    args=(--workload fanin --pubs 64 --msgs 200000 --time 300) ;;
        patterns) args=(--workload patterns --patterns 10000 --pattern-conns 100 --subs 16 --msgs 50000 --time 300) ;;
        churn)    args=(--workload churn --loops 16 --time 10) ;;
        latency)  args=(--workload latency --subs 64 --rate 200 --msgs 2000 --warmup 0 --time 60) ;;
    esac
    callgrind_start "$work/cg.$w"
    "$work/peers/fanbench" --proto line --port "$port" "${args[@]}" --drain 60 >"$work/$w.json" 2>/dev/null
    callgrind_stop
    vg=
    total=$(callgrind_total "$work/cg.$w")
    delivered=$(field "$work/$w.json" delivered)
    published=$(field "$work/$w.json" published)
    line="callgrind workload=$w instructions=$total"
    if [ "$w" = churn ]; then
        cycles=$(field "$work/$w.json" cycles)
        line+=" connections=$cycles per_connection=$((total / (cycles > 0 ? cycles : 1)))"
    else
        line+=" published=$published delivered=$delivered"
        line+=" per_publish=$((total / (published > 0 ? published : 1))) per_delivery=$((total / (delivered > 0 ? delivered : 1)))"
    fi
    echo "$line"
done
