#!/usr/bin/env bash
# The two workloads of issue #17 that the kernel bounds, against their ceiling: fanbench (the
# same generator and pinning as scripts/bench-peers.sh: server on CPU 0, generator on CPU 1)
# against this broker, Redis, and scripts/minibroker.c (the least a line server can do: no
# ring, no queue, no copy in user space), the systems alternating within each repetition.
#   WORKLOAD=fanout (default): N subscribers, one publisher, large payloads. Prints per system
#     the median deliveries/s, each repetition's, server and generator CPU, delivered share.
#   WORKLOAD=churn: 16 loops of connect, subscribe, round trip, close. Prints per system the
#     median connections/s, server CPU % per 1,000 connections/s (issue #17's measure), and the
#     server's user and system seconds (/proc/PID/stat).
# Usage: scripts/bench-ceiling.sh [TAG]   knobs: WORKLOAD (fanout) REPS (5) SYSTEMS ("mini line
#        redis"); fanout: SUBS (16) PAYLOAD (65000) MSGS (150000); churn: LOOPS (16) CHURN_SECONDS (5).
#        Writes docs/bench/ceiling-TAG.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -le 1 ] || { echo "usage: $0 [TAG]" >&2; exit 64; }
tag=${1:-$(date -u +%Y%m%d-%H%M)}
repo=$PWD
workload=${WORKLOAD:-fanout}
reps=${REPS:-5} subs=${SUBS:-16} payload=${PAYLOAD:-65000} msgs=${MSGS:-150000} loops=${LOOPS:-16} seconds=${CHURN_SECONDS:-5}
case $workload in fanout|churn) ;; *) echo "WORKLOAD is fanout or churn, not $workload" >&2; exit 64 ;; esac
systems=${SYSTEMS:-"mini line redis"}
swift build -c release --product broker-server >/dev/null
scratch=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$scratch"' EXIT
cp .build/release/broker-server "$scratch/broker-server"
cc -O2 -o "$scratch/minibroker" scripts/minibroker.c
cp -r ../shared/bench/peers/. "$scratch/peers"
make -s -C "$scratch/peers" fanbench
out="$repo/docs/bench/ceiling-$tag.jsonl"
: > "$out"
port=17430
for rep in $(seq "$reps"); do
    for system in $systems; do
        case $system in
            mini) cmd=("$scratch/minibroker" --port $port); proto=line ;;
            line) cmd=("$scratch/broker-server" --port $port --threads 1 --log-level warn --config /dev/null); proto=line ;;
            redis) cmd=(redis-server --port $port --bind 127.0.0.1 --save '' --appendonly no); proto=redis ;;
            *) echo "unknown system: $system" >&2; exit 64 ;;
        esac
        taskset -c 0 "${cmd[@]}" >"$scratch/$system.log" 2>&1 &
        pid=$!
        for _ in $(seq 100); do
            (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
            kill -0 $pid 2>/dev/null || { echo "$system did not start: $(cat "$scratch/$system.log")" >&2; exit 1; }
            sleep 0.05
        done
        before=$(awk '{print $14, $15}' /proc/$pid/stat)
        if [ "$workload" = fanout ]; then
            taskset -c 1 "$scratch/peers/fanbench" --proto $proto --port $port --server-pid $pid --workload fanout \
                --subs "$subs" --payload "$payload" --msgs "$msgs" --time 3 > "$scratch/row.json"
        else
            taskset -c 1 "$scratch/peers/fanbench" --proto $proto --port $port --server-pid $pid --workload churn \
                --loops "$loops" --time "$seconds" > "$scratch/row.json"
        fi
        after=$(awk '{print $14, $15}' /proc/$pid/stat)
        kill $pid; wait $pid 2>/dev/null || true
        python3 -c "import json,os,sys; d=json.load(open(sys.argv[1])); d['system']=sys.argv[2]; d['rep']=int(sys.argv[3])
tick=os.sysconf('SC_CLK_TCK'); b=sys.argv[4].split(); a=sys.argv[5].split()
d['srv_user_s']=(int(a[0])-int(b[0]))/tick; d['srv_sys_s']=(int(a[1])-int(b[1]))/tick; print(json.dumps(d))" \
            "$scratch/row.json" "$system" "$rep" "$before" "$after" >> "$out"
    done
done
python3 - "$out" "$workload" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
if sys.argv[2] == "churn":
    print(f"{'system':8} {'connections/s':>14} {'CPU % per 1,000 conn/s':>23} {'each repetition':>32} {'user s':>7} {'sys s':>7}")
    for system in dict.fromkeys(r['system'] for r in rows):
        mine = [r for r in rows if r['system'] == system]
        per = [r['srv_cpu_pct'] / r['connections_per_s'] * 1000 for r in mine]
        med = lambda key: statistics.median(r[key] for r in mine)
        print(f"{system:8} {med('connections_per_s'):>14,.0f} {statistics.median(per):>23.2f} "
              f"{' '.join(f'{x:.2f}' for x in per):>32} {med('srv_user_s'):>7.2f} {med('srv_sys_s'):>7.2f}")
    sys.exit(0)
print(f"{'system':8} {'deliveries/s (median)':>22} {'each repetition':>40} {'srv CPU %':>9} {'gen CPU %':>9} {'delivered':>9}")
for system in dict.fromkeys(r['system'] for r in rows):
    mine = [r for r in rows if r['system'] == system]
    rates = [r['deliver_rate'] for r in mine]
    med = lambda key: statistics.median(r[key] for r in mine)
    print(f"{system:8} {statistics.median(rates):>22,.0f} {' '.join(f'{x/1000:.1f}k' for x in rates):>40} "
          f"{med('srv_cpu_pct'):>9.1f} {med('gen_cpu_pct'):>9.1f} {med('delivered_frac'):>9.3f}")
PY
echo "results: docs/bench/ceiling-$tag.jsonl"
