#!/usr/bin/env bash
# Figures that show the daemon's design holds (issue "broker-server", recorded in docs/benchmarks.md):
#  1. RSS growth with 200 never-reading subscribers and 100,000 messages of 1 KiB on one topic;
#  2. publish rate with 100,000 subscribed non-matching patterns against none;
#  3. system calls per delivered message at N = 16 (strace -c -f over a fixed run).
# Usage: scripts/daemon-figures.sh            (needs ../shared/bench/peers; installs strace if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 0 ] || { echo "usage: $0" >&2; exit 64; }
command -v strace >/dev/null || { apt-get update -qq && apt-get install -y -qq strace >/dev/null; }
swift build -c release --product broker-server >/dev/null
bin=$PWD/.build/release/broker-server
work=$(mktemp -d)
server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"' EXIT
cp -r ../shared/bench/peers/. "$work/peers"
make -s -C "$work/peers" fanbench >/dev/null
fanbench=$work/peers/fanbench
ulimit -n "$(ulimit -Hn)"

start() {  # start [prefix...] -- broker flags; sets server and port
    port=$((20000 + RANDOM % 20000))
    "$@" --port "$port" --threads 1 --config /dev/null >"$work/out" 2>"$work/err" &
    server=$!
    for _ in $(seq 300); do grep -q '^listening on' "$work/out" 2>/dev/null && return; sleep 0.1; done
    echo "broker did not start" >&2; cat "$work/err" >&2; exit 1
}
stop() { pkill -TERM -P "$server" 2>/dev/null || kill -TERM "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; server=""; }
field() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(d.get(sys.argv[2]))" "$1" "$2"; }

echo "== 1. slow subscribers: 200 never-reading + 1 fast, 100,000 x 1 KiB, capacity 1024"
start "$bin" --capacity 1024
rss0=$(awk '/VmRSS/ {print $2}' /proc/$server/status)
"$fanbench" --proto line --port "$port" --server-pid "$server" --workload slow --subs 1 --slow 200 \
    --payload 1024 --msgs 100000 --time 30 >"$work/slow.json" 2>/dev/null || true
peak=$(field "$work/slow.json" srv_rss_peak_kib)
echo "rss_before_kib=$rss0 rss_peak_kib=$peak growth_kib=$((peak - rss0)) bound_kib=$((2 * 1024 * 1 + 16 * 1024))"
echo "fast_delivered_frac=$(field "$work/slow.json" delivered_frac) slow_closed_by_server=$(field "$work/slow.json" closed_by_server) lost_unreported=$(field "$work/slow.json" lost_unreported)"
stop

echo "== 2. publish with 100,000 non-matching patterns subscribed, against none (fanout N=1, 16 B)"
for patterns in 0 100000; do
    start "$bin" --max-subscriptions-per-connection 200000
    if [ "$patterns" -gt 0 ]; then
        python3 - "$port" "$patterns" >"$work/holder.out" <<'PY' &
import socket, sys, time
port, count = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"".join(b"SUB other.%d.*.>\n" % i for i in range(count)) + b"PING ready\n")
buffer = b""
while b"PONG ready" not in buffer:
    buffer += s.recv(1 << 20)
print("patterns subscribed", flush=True)
time.sleep(3600)
PY
        holder=$!
        # The holder prints its line once the broker has answered the PING after every SUB.
        for _ in $(seq 1200); do grep -q 'patterns subscribed' "$work/holder.out" 2>/dev/null && break; sleep 0.1; done
        grep -q 'patterns subscribed' "$work/holder.out" || { echo "patterns were not subscribed" >&2; exit 1; }
    fi
    for run in 1 2 3; do
        "$fanbench" --proto line --port "$port" --server-pid "$server" --workload fanout --subs 1 --payload 16 \
            --msgs 2000000 --time 3 >"$work/pat.json" 2>/dev/null
        echo "patterns=$patterns run=$run pub_rate=$(field "$work/pat.json" pub_rate) deliver_rate=$(field "$work/pat.json" deliver_rate)"
    done
    [ "$patterns" -gt 0 ] && kill "$holder" 2>/dev/null
    stop
done

echo "== 3. system calls per delivered message, fanout N=16, 200,000 messages (strace -c -f)"
start strace -c -f -o "$work/strace.txt" "$bin"
"$fanbench" --proto line --port "$port" --workload fanout --subs 16 --payload 16 --msgs 200000 --time 60 \
    >"$work/strace.json" 2>/dev/null
stop
delivered=$(field "$work/strace.json" delivered)
head -n 12 "$work/strace.txt"
awk -v d="$delivered" '$NF ~ /^(writev|write|read|epoll_wait|epoll_ctl)$/ { printf "%s calls=%s per_delivered_message=%.4f\n", $NF, $4, $4 / d }' "$work/strace.txt"
echo "delivered=$delivered"
