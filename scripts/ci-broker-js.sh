#!/usr/bin/env bash
# CI: /broker.js, as the broker serves it, run by Node against a real broker-server
# (scripts/test-broker-js.mjs: publish, subscribe, resume after a forced reconnect, patterns,
# refusals). Installs Debian's nodejs when no `node` is there; a missing node is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/http-broker.sh

install_if_missing node nodejs
node --version
start_http_broker
node scripts/test-broker-js.mjs "$HTTP_PORT"
