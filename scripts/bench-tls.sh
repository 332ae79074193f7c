#!/usr/bin/env bash
# TLS fan-out beside plaintext fan-out, in the same run against the same broker (issue #18):
# `broker-cli bench` over TCP and over tls:// (the same client, subscribers and publisher),
# interleaved, REPS pairs; prints each pair's deliveries/s and TLS ÷ TCP, and the broker's CPU
# time per pair. The broker serves both listeners with the dev certificates of
# Tests/Fixtures/tls; pinned with taskset when TASKSET=1 (broker on CPU 0, client on CPU 1).
#
#   scripts/bench-tls.sh [SUBS [MSGS [SIZE]]]     (defaults 16 500000 16; REPS=5; PROTOCOL=1|2)
set -euo pipefail
cd "$(dirname "$0")/.."
subs=${1:-16}
msgs=${2:-500000}
size=${3:-16}
reps=${REPS:-5}
protocol=${PROTOCOL:-1}
certs=Tests/Fixtures/tls
swift build -c release --product broker-server >/dev/null
swift build -c release --product broker-cli >/dev/null
read -r TCP_PORT TLS_PORT < <(python3 -c 'import socket
a, b = socket.socket(), socket.socket(); a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])')
work=$(mktemp -d)
server_pin=() client_pin=()
if [ "${TASKSET:-0}" = 1 ]; then server_pin=(taskset -c 0); client_pin=(taskset -c 1); fi
"${server_pin[@]}" .build/release/broker-server --config /dev/null --threads 1 --log-level warn --port "$TCP_PORT" \
    --tls-port "$TLS_PORT" --tls-cert-file "$certs/server.pem" --tls-key-file "$certs/server.key" >"$work/out" 2>"$work/err" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q "tls listening on" "$work/out" && break; sleep 0.1; done
grep -q "tls listening on" "$work/out" || { echo "$0: the broker did not start:" >&2; cat "$work/err" >&2; exit 1; }
cli=.build/release/broker-cli

cpu() {  # the broker's user+system CPU seconds so far
    awk '{ printf "%.2f\n", ($14 + $15) / 100 }' "/proc/$pid/stat"
}
rate() {  # deliveries/s from one bench run against $1 (and TLS options after it)
    local server=$1
    shift
    "${client_pin[@]}" "$cli" bench --server "$server" "$@" --subs "$subs" --msgs "$msgs" --size "$size" --protocol "$protocol" \
        | awk '/^delivered:/ { for (i = 1; i <= NF; i++) if ($i == "msgs/s") { gsub(",", "", $(i-1)); print $(i-1) } }'
}

echo "broker-cli bench --subs $subs --msgs $msgs --size $size --protocol $protocol, $reps interleaved pairs (deliveries/s; broker CPU s)"
printf '%-6s %14s %8s %14s %8s %8s\n' pair tcp cpu tls cpu tls/tcp
ratios=()
for rep in $(seq "$reps"); do
    before=$(cpu)
    tcp=$(rate "127.0.0.1:$TCP_PORT")
    middle=$(cpu)
    tls=$(rate "tls://127.0.0.1:$TLS_PORT" --ca "$certs/ca.pem")
    after=$(cpu)
    ratio=$(python3 -c "print(f'{$tls / $tcp:.3f}')")
    ratios+=("$ratio")
    printf '%-6s %14s %8s %14s %8s %8s\n' "$rep" "$tcp" "$(python3 -c "print(f'{$middle - $before:.2f}')")" \
        "$tls" "$(python3 -c "print(f'{$after - $middle:.2f}')")" "$ratio"
done
python3 -c "import statistics, sys; r = sorted(map(float, sys.argv[1:])); print(f'median tls/tcp {statistics.median(r):.3f} (min {r[0]:.3f}, max {r[-1]:.3f})')" "${ratios[@]}"
