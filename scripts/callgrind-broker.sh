# Sourced by the callgrind-*.sh scripts: the release broker-server under callgrind, one loop.
# Needs $work (a scratch directory). Defines:
#   callgrind_prepare             installs valgrind if missing, builds broker-server, strips its debug info
#   callgrind_start OUT           starts it writing to OUT, sets $port and $vg, waits for its readiness line
#   callgrind_stop                ends it (SIGTERM) and waits
#   callgrind_total OUT           prints the instructions OUT counted
callgrind_prepare() {
    command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
    swift build -c release --product broker-server >/dev/null
    # valgrind 3.19 cannot read the toolchain's DWARF: keep the symbols, drop the debug info.
    objcopy --strip-debug .build/release/broker-server "$work/broker-server"
}

callgrind_start() {
    port=$((20000 + RANDOM % 20000))
    valgrind --tool=callgrind --callgrind-out-file="$1" "$work/broker-server" \
        --port "$port" --threads 1 --config /dev/null >"$work/stdout" 2>"$work/stderr" &
    vg=$!
    for _ in $(seq 300); do grep -q '^listening on' "$work/stdout" 2>/dev/null && break; sleep 0.1; done
    grep -q '^listening on' "$work/stdout" || { cat "$work/stderr" >&2; exit 1; }
}

callgrind_stop() {
    kill -TERM "$vg"; wait "$vg" || true
}

callgrind_total() {
    callgrind_annotate "$1" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}'
}
