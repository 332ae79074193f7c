#!/usr/bin/env bash
# Fan-out over TLS beside plaintext, for the line broker and NATS, in one run (issue #18).
#
#   scripts/bench-tls-peers.sh [SUBS [MSGS [SIZE]]]     (defaults 16 500000 16; REPS=5)
#
# Builds scripts/tlsfan.c (a one-thread epoll client: SUBS subscribers and one publisher on
# topic `bench`, end-to-end window 4096; needs libssl-dev and nats-server, installed when
# missing) and runs, REPS times in turn: the line broker plaintext and TLS (tls_port), NATS
# plaintext and TLS (a `tls {}` block: INFO in plaintext, then TLS). Each server is pinned to
# CPU 0 and the client to CPU 1, as in ../shared/bench; both use the dev certificates of
# Tests/Fixtures/tls. Prints every run's deliveries/s, the medians and the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
subs=${1:-16}
msgs=${2:-500000}
size=${3:-16}
reps=${REPS:-5}
certs=$PWD/Tests/Fixtures/tls
. scripts/http-broker.sh  # install_if_missing
install_if_missing nats-server nats-server
if [ ! -e /usr/include/openssl/ssl.h ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends libssl-dev >/dev/null
fi
swift build -c release --product broker-server >/dev/null
work=$(mktemp -d)
server_pid=
trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"' EXIT
cc -O2 -Wall -o "$work/tlsfan" scripts/tlsfan.c -lssl -lcrypto
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$work/nats-tls.conf" <<CONF
listen: 127.0.0.1:$port
tls {
  cert_file: "$certs/server.pem"
  key_file: "$certs/server.key"
}
CONF

start() {  # system mode
    case "$1-$2" in
        line-plain) taskset -c 0 .build/release/broker-server --config /dev/null --threads 1 --log-level warn --port "$port" >"$work/out" 2>&1 & ;;
        line-tls) taskset -c 0 .build/release/broker-server --config /dev/null --threads 1 --log-level warn --port 0 --tls-port "$port" \
                      --tls-cert-file "$certs/server.pem" --tls-key-file "$certs/server.key" >"$work/out" 2>&1 & ;;
        nats-plain) taskset -c 0 nats-server -a 127.0.0.1 -p "$port" >"$work/out" 2>&1 & ;;
        nats-tls) taskset -c 0 nats-server -c "$work/nats-tls.conf" >"$work/out" 2>&1 & ;;
    esac
    server_pid=$!
    for _ in $(seq 100); do
        python3 -c "import socket, sys; socket.create_connection(('127.0.0.1', $port), 0.1)" 2>/dev/null && return
        sleep 0.05
    done
    echo "$0: $1 ($2) did not start" >&2; cat "$work/out" >&2; exit 1
}
stop() { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=; }

declare -A rates
echo "tlsfan --subs $subs --msgs $msgs --size $size, $reps rounds (deliveries/s)"
for rep in $(seq "$reps"); do
    for system in line nats; do
        for mode in plain tls; do
            start "$system" "$mode"
            flags=(--proto "$system" --port "$port" --subs "$subs" --msgs "$msgs" --size "$size")
            [ "$mode" = tls ] && flags+=(--tls --ca "$certs/ca.pem")
            rate=$(taskset -c 1 "$work/tlsfan" "${flags[@]}" | awk '{ print $2 }')
            stop
            rates[$system-$mode]="${rates[$system-$mode]:-} $rate"
            printf '%-3s %-5s %-5s %12s\n' "$rep" "$system" "$mode" "$rate"
        done
    done
done
python3 - "${rates[line-plain]}" "${rates[line-tls]}" "${rates[nats-plain]}" "${rates[nats-tls]}" <<'PY'
import statistics, sys
names = ["line plain", "line tls", "nats plain", "nats tls"]
medians = {}
for name, text in zip(names, sys.argv[1:]):
    values = sorted(float(v) for v in text.split())
    medians[name] = statistics.median(values)
    print(f"{name:10s} median {medians[name]:12,.0f}  (min {values[0]:,.0f}, max {values[-1]:,.0f})")
print(f"line tls / line plain {medians['line tls'] / medians['line plain']:.3f}")
print(f"nats tls / nats plain {medians['nats tls'] / medians['nats plain']:.3f}")
print(f"line tls / nats tls   {medians['line tls'] / medians['nats tls']:.3f}")
print(f"line plain / nats plain {medians['line plain'] / medians['nats plain']:.3f}")
PY
