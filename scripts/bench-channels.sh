#!/usr/bin/env bash
# Compare the Swift channels (Sources/channel-bench) with tokio 1.24.2
# (/work/shared/bench/tokio-broadcast) on the same workloads, interleaved.
#
#   scripts/bench-channels.sh                 # 7 runs of each configuration and implementation
#   REPS=3 SCALE=10 scripts/bench-channels.sh # quick smoke run
#
# Needs: /opt/swift toolchain; cargo on PATH (or in ~/.cargo/bin); the Debian
# package librust-tokio-dev (tokio sources for the offline build; see the tokio
# benchmark's README). /work/shared is read-only, so the tokio benchmark is
# copied to a temporary directory and built there.
#
# The Swift benchmark is built like the daemon, without -cross-module-optimization:
# the channels are generic and live in module Channels, the benchmark (like Broker)
# in another module, and the channels' hot paths are @inlinable, so the benchmark
# gets them specialized for its message type. (Before the Channels target, the
# script passed -cross-module-optimization for that.)
#
# Output: per-run lines, then for each configuration the median (min-max) of
# the headline figure for Swift and tokio, and the ratio of the medians.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

REPS=${REPS:-7}
SCALE=${SCALE:-1}
RUN_TIMEOUT=${RUN_TIMEOUT:-120}
TOKIO_SRC=${TOKIO_SRC:-/work/shared/bench/tokio-broadcast}
export PATH="$PATH:/opt/swift/usr/bin:$HOME/.cargo/bin"

if ! ls -d /usr/share/cargo/registry/tokio-1.* >/dev/null 2>&1; then
    echo "tokio sources missing: run 'apt-get install -y librust-tokio-dev' first" >&2
    exit 1
fi

WORK=$(mktemp -d /tmp/bench-channels.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cp -r "$TOKIO_SRC" "$WORK/tokio"
rm -rf "$WORK/tokio/target"

echo "== build swift (release)"
swift build -c release --scratch-path .build-release --product channel-bench 2>&1 | tail -n 1
SWIFT_BIN=$ROOT/.build-release/release/channel-bench
echo "== build tokio (offline, in $WORK/tokio)"
(cd "$WORK/tokio" && cargo build --release --offline 2>&1 | tail -n 1)
TOKIO_BIN=$WORK/tokio/target/release/tokio-broadcast-bench

# label | figure | arguments (identical for both programs)
CONFIGS=(
    "fanout-yield-N1|deliveries_per_s|--mode fanout --pace yield --receivers 1 --capacity 1024 --payload 64 --messages 20000000"
    "fanout-yield-N16|deliveries_per_s|--mode fanout --pace yield --receivers 16 --capacity 1024 --payload 64 --messages 1500000"
    "fanout-yield-N256|deliveries_per_s|--mode fanout --pace yield --receivers 256 --capacity 1024 --payload 64 --messages 64000"
    "mpsc-K1|msgs_per_s|--mode mpsc --producers 1 --capacity 1024 --payload 64 --messages 14000000"
    "mpsc-K4|msgs_per_s|--mode mpsc --producers 4 --capacity 1024 --payload 64 --messages 14000000"
)

scale_args() {
    local out=() prev=""
    for w in "$@"; do
        if [[ $prev == --messages ]]; then w=$(( w / SCALE )); fi
        out+=("$w"); prev=$w
    done
    echo "${out[@]}"
}

RAW=$WORK/raw.txt
: > "$RAW"
echo "== $(nproc) CPUs, $(uname -m), load at start:$(cut -d' ' -f1-3 /proc/loadavg); $REPS reps (SCALE=$SCALE)"
fail=0
for rep in $(seq 1 "$REPS"); do
    for c in "${CONFIGS[@]}"; do
        label=${c%%|*}; rest=${c#*|}; args=$(scale_args ${rest#*|})
        # alternate which implementation goes first
        if (( rep % 2 )); then order="swift tokio"; else order="tokio swift"; fi
        for impl in $order; do
            bin=$SWIFT_BIN; [[ $impl == tokio ]] && bin=$TOKIO_BIN
            set +e
            # shellcheck disable=SC2086
            out=$(timeout "$RUN_TIMEOUT" "$bin" $args)
            rc=$?
            set -e
            line=$(grep '^result ' <<<"$out" || echo "result check=NO-OUTPUT")
            if (( rc != 0 )); then echo "rep $rep $label $impl: exit status $rc" >&2; fail=1; fi
            echo "$impl $label rep=$rep ${line#result }" >> "$RAW"
            printf '  rep %d %-18s %-5s %s\n' "$rep" "$label" "$impl" \
                "$(grep -o 'deliveries_per_s=[^ ]*\|msgs_per_s=[^ ]*\|check=[^ ]*' <<<"$line" | tr '\n' ' ')"
        done
    done
done

# stats IMPL LABEL KEY -> "median min max" (raw numbers)
stats() {
    grep "^$1 $2 rep=" "$RAW" | grep -o " $3=[^ ]*" | cut -d= -f2 | sort -g |
    awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "0 0 0"; exit }
        med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        print med, v[1], v[NR] }'
}
rate() { awk -v x="$1" 'BEGIN { if (x >= 1e6) printf "%.2fM", x / 1e6; else if (x >= 1e3) printf "%.1fk", x / 1e3; else printf "%.0f", x }'; }
checks() { local t o; t=$(grep -c "^$1 $2 rep=" "$RAW" || true); o=$(grep "^$1 $2 rep=" "$RAW" | grep -c ' check=ok' || true); echo "$o/$t"; }

echo
echo "== results: median (min-max) over $REPS runs each, interleaved; $(date +%F); load at end:$(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| config | figure | Swift | tokio | Swift/tokio (medians) | checks Swift | checks tokio |"
echo "|---|---|---|---|---|---|---|"
for c in "${CONFIGS[@]}"; do
    label=${c%%|*}; rest=${c#*|}; key=${rest%%|*}
    read -r sm smin smax < <(stats swift "$label" "$key")
    read -r tm tmin tmax < <(stats tokio "$label" "$key")
    ratio=$(awk -v a="$sm" -v b="$tm" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
    echo "| $label | $key | $(rate "$sm") ($(rate "$smin")-$(rate "$smax")) | $(rate "$tm") ($(rate "$tmin")-$(rate "$tmax")) | $ratio | $(checks swift "$label") | $(checks tokio "$label") |"
done
echo
cp "$RAW" "$ROOT/.build-release/bench-channels-raw.txt" 2>/dev/null && echo "raw result lines: .build-release/bench-channels-raw.txt"
exit $fail
