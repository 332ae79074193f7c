#!/usr/bin/env bash
# CI: the dashboard and /broker.js in a real browser (scripts/browser-test.py drives Chromium
# over the DevTools protocol against a real broker-server). Installs Debian's chromium when it
# is missing; a browser that cannot be installed is a failure, never a skip.
# Usage: scripts/ci-browser.sh [SCREENSHOT.png]   (default: a scratch file; docs/dashboard.png is made this way)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
command -v chromium >/dev/null 2>&1 || { echo "ci-browser: chromium is not installed and could not be installed" >&2; exit 1; }
chromium --version

swift build -c release --product broker-server >/dev/null
work=$(mktemp -d)
screenshot=${1:-$work/dashboard.png}
read -r tcp_port http_port < <(python3 -c 'import socket
a, b = socket.socket(), socket.socket(); a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])')
.build/release/broker-server --config /dev/null --port "$tcp_port" --http-port "$http_port" --capacity 1024 \
    >"$work/out" 2>"$work/err" &
broker=$!
trap 'kill "$broker" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q "http listening on" "$work/out" && break; sleep 0.1; done
grep -q "http listening on" "$work/out" || { echo "ci-browser: the broker did not start:" >&2; cat "$work/err" >&2; exit 1; }
python3 scripts/browser-test.py "$tcp_port" "$http_port" "$screenshot"
