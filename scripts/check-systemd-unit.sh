#!/usr/bin/env bash
# Verifies conf/broker-server.service with `systemd-analyze verify`.
# A temporary copy of the unit is made whose ExecStart runs BINARY with a
# temporary copy of conf/broker.conf; any warning that mentions the unit fails
# the check. Installs systemd (apt-get) if systemd-analyze is missing.
set -euo pipefail

usage() { echo "usage: $0 BINARY" >&2; exit 64; }
[[ $# -eq 1 ]] || usage
[[ "$1" != -* ]] || usage

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
unit_src="$root/conf/broker-server.service"
conf_src="$root/conf/broker.conf"

binary="$1"
[[ -f "$binary" && -x "$binary" ]] || { echo "$0: not an executable file: $binary" >&2; exit 66; }
binary="$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")"

if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "$0: systemd-analyze not found; installing systemd" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y systemd >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y systemd >/dev/null; }
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cp "$conf_src" "$tmp/broker.conf"
sed -e "s#^ExecStart=.*#ExecStart=$binary --config $tmp/broker.conf#" \
    "$unit_src" > "$tmp/broker-server.service"
grep -q "^ExecStart=$binary --config $tmp/broker.conf\$" "$tmp/broker-server.service" \
    || { echo "$0: could not rewrite ExecStart in $unit_src" >&2; exit 1; }

status=0
output="$(cd "$tmp" && SYSTEMD_LOG_COLOR=0 systemd-analyze verify "$tmp/broker-server.service" 2>&1)" || status=$?
# Lines about our unit; systemd may also complain about unrelated host units.
ours="$(printf '%s\n' "$output" | grep -F 'broker-server' || true)"
if [[ $status -ne 0 || -n "$ours" ]]; then
    echo "$0: systemd-analyze verify failed (status $status):" >&2
    printf '%s\n' "$output" >&2
    exit 1
fi
if [[ -n "$output" ]]; then
    echo "note: systemd-analyze printed lines about other units (ignored):" >&2
    printf '%s\n' "$output" >&2
fi
echo "ok: $unit_src verifies cleanly with ExecStart=$binary"
