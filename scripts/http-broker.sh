# Sourced by the CI checks that need a running broker with its HTTP port (ci-broker-js.sh,
# ci-browser.sh). Defines:
#   install_if_missing COMMAND PACKAGE   installs the Debian package when COMMAND is missing;
#                                        a command that still is not there is a failure
#   start_http_broker [FLAGS...]         builds and starts the release broker-server on free
#                                        ports, sets TCP_PORT and HTTP_PORT, waits for its
#                                        `http listening on` line; stopped when the script exits

install_if_missing() {
    if ! command -v "$1" >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "$2" >/dev/null
    fi
    command -v "$1" >/dev/null 2>&1 || { echo "$0: $1 is not installed and could not be installed" >&2; exit 1; }
}

start_http_broker() {
    swift build -c release --product broker-server >/dev/null
    broker_work=$(mktemp -d)
    read -r TCP_PORT HTTP_PORT < <(python3 -c 'import socket
a, b = socket.socket(), socket.socket(); a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])')
    .build/release/broker-server --config /dev/null --port "$TCP_PORT" --http-port "$HTTP_PORT" "$@" \
        >"$broker_work/out" 2>"$broker_work/err" &
    broker_pid=$!
    trap 'kill "$broker_pid" 2>/dev/null || true; rm -rf "$broker_work"' EXIT
    for _ in $(seq 100); do grep -q "http listening on" "$broker_work/out" && break; sleep 0.1; done
    grep -q "http listening on" "$broker_work/out" || { echo "$0: the broker did not start:" >&2; cat "$broker_work/err" >&2; exit 1; }
}
