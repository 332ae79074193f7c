#!/usr/bin/env bash
# CI: /broker.js, as the broker serves it, run by Node against a real broker-server
# (scripts/test-broker-js.mjs: publish, subscribe, resume after a forced reconnect, patterns,
# refusals). Installs Debian's nodejs when no `node` is there; a missing node is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends nodejs >/dev/null
fi
command -v node >/dev/null 2>&1 || { echo "ci-broker-js: node is not installed and could not be installed" >&2; exit 1; }
node --version

swift build -c release --product broker-server >/dev/null
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
work=$(mktemp -d)
.build/release/broker-server --config /dev/null --port 0 --http-port "$port" >"$work/out" 2>"$work/err" &
broker=$!
trap 'kill "$broker" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q "http listening on" "$work/out" && break; sleep 0.1; done
grep -q "http listening on" "$work/out" || { echo "ci-broker-js: the broker did not start:" >&2; cat "$work/err" >&2; exit 1; }
node scripts/test-broker-js.mjs "$port"
