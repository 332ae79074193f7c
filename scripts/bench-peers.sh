#!/usr/bin/env bash
# The side-by-side comparison with NATS and Redis, in one command.
# Builds the release broker-server, copies ../shared/bench/peers to a scratch directory
# (../shared may be read-only) and runs its run-peers.sh there with SYSTEMS="line nats redis",
# writing the results into docs/bench/ (never the peers' own result files).
# Usage: scripts/bench-peers.sh [TAG]        e.g. TAG=after-batching; extra knobs pass through
#        (REPS, WORKLOADS, QUICK, QUIET_WAIT, SRV_CPU, ...; see ../shared/bench/peers/README.md).
#        LINE_THREADS=N runs the broker with N loop threads (default 1); give it the CPUs with
#        SRV_CPU, e.g. LINE_THREADS=2 SRV_CPU=0,1 SYSTEMS=line (the generator stays on CPU 1).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -le 1 ] || { echo "usage: $0 [TAG]" >&2; exit 64; }
tag=${1:-$(date -u +%Y%m%d-%H%M)}
repo=$PWD
swift build -c release --product broker-server >/dev/null
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# The binary measured is a copy: a build during the run cannot swap it between repetitions.
mkdir -p "$scratch/bin"
cp .build/release/broker-server "$scratch/bin/broker-server"
bin=$scratch/bin/broker-server
cp -r ../shared/bench/peers/. "$scratch/peers"
mkdir -p "$repo/docs/bench"
cd "$scratch/peers"
make -s fanbench
# The cluster workload runs three nodes on one redis-server (engine redis://...), which the
# driver starts first and counts as part of the system.
# threads 1 (LINE_THREADS): the server is pinned to one CPU, like every peer. Logging at warn, like the
# peers' defaults, which do not log every connection.
SYSTEMS=${SYSTEMS:-"line nats redis"} \
LINE_CMD="$bin --port 17400 --threads ${LINE_THREADS:-1} --log-level warn --config /dev/null" \
LINE_CLUSTER_CMD="$bin --port {port} --log-level warn --config /dev/null --engine redis://127.0.0.1:16390" \
LINE_CLUSTER_PRE="redis-server --port 16390 --bind 127.0.0.1 --save '' --appendonly no" LINE_CLUSTER_PRE_PORT=16390 \
OUT="$repo/docs/bench/peers-$tag.jsonl" MD="$repo/docs/bench/peers-$tag.md" \
    ./run-peers.sh
# The results name the broker's command; keep it relative to the repository, not this machine.
sed -i -e "s|$scratch/bin/broker-server|.build/release/broker-server|g" -e "s|$repo/||g" \
    "$repo/docs/bench/peers-$tag.jsonl" "$repo/docs/bench/peers-$tag.md"
echo "results: docs/bench/peers-$tag.jsonl and docs/bench/peers-$tag.md"
