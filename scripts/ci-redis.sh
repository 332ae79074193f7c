#!/usr/bin/env bash
# CI: the tests that need a real redis-server (the cluster engine's Redis connection).
#
# Installs Debian's redis-server when it is missing (the package's own service is not
# used: every test starts its own redis-server on a free loopback port, without
# persistence), then runs those tests with BROKER_REDIS_TESTS=1. Without that variable
# plain `swift test` reports them as skipped, with the reason; here a missing
# redis-server is a failure, never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-server >/dev/null 2>&1 && [ ! -x /usr/bin/redis-server ]; then
    export DEBIAN_FRONTEND=noninteractive
    # The package would start a system instance (on 6379) during the install; in a container
    # without an init system that start may fail and fail the install. The tests never use it,
    # so services are kept from starting while it installs (policy-rc.d exit 101: "not allowed").
    policy=/usr/sbin/policy-rc.d
    made_policy=""
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && made_policy=1
        trap '[ -n "$made_policy" ] && rm -f "$policy"' EXIT
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends redis-server >/dev/null
fi
if [ ! -x /usr/bin/redis-server ] && ! command -v redis-server >/dev/null 2>&1; then
    echo "ci-redis: redis-server is not installed and could not be installed" >&2
    exit 1
fi
redis-server --version

scratch=()
if [ -n "${BROKER_SCRATCH_PATH:-}" ]; then scratch=(--scratch-path "$BROKER_SCRATCH_PATH"); fi
BROKER_REDIS_TESTS=1 swift test "${scratch[@]}" --filter 'RedisConnectionTests|RedisStreamScriptTests|RESPReaderTests|RESPWriterTests|StreamScriptTests|ClusterTests'
