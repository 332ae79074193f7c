#!/usr/bin/env bash
# CI: the dashboard and /broker.js in a real browser (scripts/browser-test.py drives Chromium
# over the DevTools protocol against a real broker-server). Installs Debian's chromium when it
# is missing; a browser that cannot be installed is a failure, never a skip.
# Usage: scripts/ci-browser.sh [SCREENSHOT.png]   (default: a scratch file; docs/dashboard.png is made this way)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/http-broker.sh

install_if_missing chromium chromium
chromium --version
start_http_broker --capacity 1024
python3 scripts/browser-test.py "$TCP_PORT" "$HTTP_PORT" "${1:-$broker_work/dashboard.png}"
