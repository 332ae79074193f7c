#!/usr/bin/env bash
# WebSocket fan-out beside TCP fan-out, in the same run against the same broker (issue #16):
# `broker-cli bench` over TCP and over ws:// (the same client, the same subscribers and
# publisher), interleaved, REPS pairs; prints each pair's deliveries/s and WS ÷ TCP.
#
#   scripts/bench-websocket.sh [SUBS [MSGS [SIZE]]]     (defaults 16 500000 16; REPS=5;
#                                                        PROTOCOL=1|2, default 1)
set -euo pipefail
cd "$(dirname "$0")/.."
subs=${1:-16}
msgs=${2:-500000}
size=${3:-16}
reps=${REPS:-5}
protocol=${PROTOCOL:-1}
. scripts/http-broker.sh
swift build -c release --product broker-cli >/dev/null
start_http_broker
cli=.build/release/broker-cli

rate() {  # deliveries/s from one bench run over $1
    "$cli" bench --server "$1" --subs "$subs" --msgs "$msgs" --size "$size" --protocol "$protocol" \
        | awk '/^delivered:/ { for (i = 1; i <= NF; i++) if ($i == "msgs/s") { gsub(",", "", $(i-1)); print $(i-1) } }'
}

echo "broker-cli bench --subs $subs --msgs $msgs --size $size --protocol $protocol, $reps interleaved pairs (deliveries/s)"
printf '%-6s %14s %14s %8s\n' pair tcp websocket ws/tcp
ratios=()
for rep in $(seq "$reps"); do
    tcp=$(rate "127.0.0.1:$TCP_PORT")
    ws=$(rate "ws://127.0.0.1:$HTTP_PORT/ws")
    ratio=$(python3 -c "print(f'{$ws / $tcp:.3f}')")
    ratios+=("$ratio")
    printf '%-6s %14s %14s %8s\n' "$rep" "$tcp" "$ws" "$ratio"
done
python3 -c "import statistics, sys; r = sorted(map(float, sys.argv[1:])); print(f'median ws/tcp {statistics.median(r):.3f} (min {r[0]:.3f}, max {r[-1]:.3f})')" "${ratios[@]}"
