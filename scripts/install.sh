#!/usr/bin/env bash
# Builds broker-server in release mode and installs it under PREFIX:
#   PREFIX/bin/broker-server (and PREFIX/bin/broker-cli if that was built)
#   PREFIX/etc/broker/broker.conf          (kept if it already exists)
#   PREFIX/lib/systemd/system/broker-server.service  (ExecStart uses PREFIX)
#   PREFIX/share/doc/broker/configuration.md
# Environment: SWIFT_SCRATCH_PATH (passed to swift build as --scratch-path);
# BROKER_BIN_DIR to install already-built binaries from that directory
# instead of building.
set -euo pipefail

usage() { echo "usage: $0 PREFIX" >&2; exit 64; }
[[ $# -eq 1 ]] || usage
[[ -n "$1" && "$1" != -* ]] || usage

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mkdir -p "$1"
prefix="$(cd "$1" && pwd)"

if [[ -n "${BROKER_BIN_DIR:-}" ]]; then
    bin_dir="$BROKER_BIN_DIR"
else
    build=(swift build -c release --package-path "$root")
    [[ -n "${SWIFT_SCRATCH_PATH:-}" ]] && build+=(--scratch-path "$SWIFT_SCRATCH_PATH")
    "${build[@]}"
    bin_dir="$("${build[@]}" --show-bin-path)"
fi

[[ -x "$bin_dir/broker-server" ]] || { echo "$0: $bin_dir/broker-server was not built" >&2; exit 1; }

install -d "$prefix/bin" "$prefix/etc/broker" "$prefix/lib/systemd/system" "$prefix/share/doc/broker"
install -m 0755 "$bin_dir/broker-server" "$prefix/bin/broker-server"
echo "installed $prefix/bin/broker-server"
if [[ -x "$bin_dir/broker-cli" ]]; then
    install -m 0755 "$bin_dir/broker-cli" "$prefix/bin/broker-cli"
    echo "installed $prefix/bin/broker-cli"
fi

conf="$prefix/etc/broker/broker.conf"
if [[ -e "$conf" ]]; then
    echo "kept existing $conf"
else
    install -m 0644 "$root/conf/broker.conf" "$conf"
    echo "installed $conf"
fi

unit="$prefix/lib/systemd/system/broker-server.service"
sed -e "s#^ExecStart=.*#ExecStart=$prefix/bin/broker-server --config $conf#" \
    -e "s#^Documentation=.*#Documentation=file:$prefix/share/doc/broker/configuration.md#" \
    "$root/conf/broker-server.service" > "$unit.tmp"
chmod 0644 "$unit.tmp"
mv "$unit.tmp" "$unit"
echo "installed $unit"
install -m 0644 "$root/docs/configuration.md" "$prefix/share/doc/broker/configuration.md"
echo "installed $prefix/share/doc/broker/configuration.md"
