#!/usr/bin/env bash
# Starts a redis-server and three broker-server nodes on it (engine redis://...), prints how to
# use them, and stops everything on Ctrl-C. Installs nothing: needs redis-server (Debian:
# apt-get install redis-server, or run scripts/ci-redis.sh once) and builds the broker.
# Usage: scripts/cluster-demo.sh [FIRST_PORT]   (nodes on FIRST_PORT..+2, default 7401; Redis on 16380)
set -euo pipefail
cd "$(dirname "$0")/.."
first=${1:-7401}
case "$first" in ''|*[!0-9]*) echo "usage: $0 [FIRST_PORT]" >&2; exit 64;; esac
redis_port=${REDIS_PORT:-16380}
command -v redis-server >/dev/null || { echo "cluster-demo: redis-server is not installed (apt-get install redis-server)" >&2; exit 69; }
swift build -c release --product broker-server >/dev/null
swift build -c release --product broker-cli >/dev/null
bin=.build/release/broker-server
logs=$(mktemp -d)
pids=()
stop() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    echo "stopped; logs were in $logs"
}
trap stop EXIT INT TERM
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >"$logs/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
addresses=()
for i in 0 1 2; do
    port=$((first + i))
    "$bin" --config /dev/null --port "$port" --engine "redis://127.0.0.1:$redis_port" >"$logs/node$i.out" 2>"$logs/node$i.log" &
    pids+=($!)
    addresses+=("127.0.0.1:$port")
done
for i in 0 1 2; do
    for _ in $(seq 100); do grep -q "connected to Redis" "$logs/node$i.log" 2>/dev/null && break; sleep 0.1; done
done
servers=$(IFS=,; echo "${addresses[*]}")
cat <<TEXT
Redis on 127.0.0.1:$redis_port; three nodes: ${addresses[*]} (logs in $logs)

  # subscribe on any node (fails over to the next one and resumes with from= if it dies):
  .build/release/broker-cli --server $servers sub demo.orders
  # publish on another:
  .build/release/broker-cli --server ${addresses[1]} pub demo.orders hello
  # what Redis holds:
  redis-cli -p $redis_port pubsub channels 'broker:*'
  redis-cli -p $redis_port xlen 'broker:{demo.orders}:s'

Ctrl-C stops everything.
TEXT
wait
