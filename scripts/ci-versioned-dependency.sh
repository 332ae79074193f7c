#!/usr/bin/env bash
# CI: this package used the way an application uses it, as a dependency required by version.
#
# SwiftPM refuses a dependency required by version whose targets use unsafeFlags, so
# this is the check that Package.swift has none. It clones the repository's committed
# HEAD into a temporary directory and tags the clone 99.0.0 (the repository's own tags
# are untouched), then makes a scratch package that depends on the clone with
# `.package(url: "file://<clone>", from: "99.0.0")`; its executable imports
# BrokerClient and also depends on the Broker library, so that every library target
# (Protocol, Locks, Channels, Broker, BrokerClient) is in the graph SwiftPM checks.
# The script builds it, starts this repository's broker-server on port 0,
# runs the program against it (subscribe, publish one message: `OK 1`, receive it back)
# and stops the broker. Everything is local (a file:// URL): no network is needed.
# What is checked is the commit at HEAD; uncommitted changes are not in the clone.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

fail() {
    echo "ci-versioned-dependency: FAIL: $*" >&2
    exit 1
}

work=$(mktemp -d "${TMPDIR:-/tmp}/ci-versioned-dependency.XXXXXX")
broker_pid=""
cleanup() {
    if [ -n "$broker_pid" ]; then
        kill -TERM "$broker_pid" 2>/dev/null || true
        wait "$broker_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

echo "== the dependency: a clone of $(git rev-parse --short HEAD), tagged 99.0.0"
git clone --quiet --no-checkout "$root" "$work/broker" || fail "cannot clone $root"
# HEAD of the repository under test, also when it is detached (as in some CI checkouts).
git -C "$work/broker" fetch --quiet "$root" HEAD || fail "cannot fetch HEAD of $root"
git -C "$work/broker" tag -f 99.0.0 FETCH_HEAD >/dev/null

echo "== the scratch package (depends on the clone from: 99.0.0)"
mkdir -p "$work/app/Sources/publish-one"
cat >"$work/app/Package.swift" <<EOF
// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "VersionedDependencyCheck",
    dependencies: [.package(url: "file://$work/broker", from: "99.0.0")],
    targets: [
        // Broker is not imported: it is here so that SwiftPM checks its targets' settings too.
        .executableTarget(name: "publish-one", dependencies: [
            .product(name: "BrokerClient", package: "broker"),
            .product(name: "Broker", package: "broker"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
EOF
cat >"$work/app/Sources/publish-one/main.swift" <<'EOF'
// Subscribes, publishes one message, and reads it back: exit 0 and "OK 1" when all went well.
import BrokerClient
import Glibc

func fail(_ message: String) -> Never {
    let line = Array("publish-one: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(1)
}

let arguments = CommandLine.arguments
guard arguments.count == 2, let port = Endpoint.parsePort(arguments[1]) else { fail("usage: publish-one PORT") }
let endpoint = Endpoint(host: "127.0.0.1", port: port)
let topic = "ci.versioned-dependency"
let text = "hello from a dependency required by version"
do {
    let subscriber = try BrokerConnection(to: endpoint)
    try subscriber.subscribe(topic)
    let publisher = try BrokerConnection(to: endpoint)
    let receivers = try publisher.publish(topic: topic, text)
    print("OK \(receivers)")
    guard receivers == 1 else { fail("the broker queued the message for \(receivers) subscriptions, not 1") }
    guard let event = try subscriber.nextEvent(until: .now + .seconds(10)) else { fail("the broker closed the connection") }
    guard case let .message(message) = event, message.topic == topic, message.text == text else {
        fail("expected the published message back, got \(event)")
    }
    print("received \(message.text)")
} catch {
    fail("\(error)")
}
EOF

echo "== swift build (scratch package)"
# Nothing of the scratch package goes to the shared caches (each run's clone has a new path).
app_build=(--package-path "$work/app" --disable-dependency-cache --manifest-cache local)
if ! swift build "${app_build[@]}" >"$work/app-build.log" 2>&1; then
    tail -n 30 "$work/app-build.log" >&2
    if grep -qi 'unsafe' "$work/app-build.log"; then
        fail "SwiftPM refuses this package as a versioned dependency: Package.swift uses unsafeFlags"
    fi
    fail "the scratch package that depends on this one by version does not build (log above)"
fi
program="$(swift build "${app_build[@]}" --show-bin-path)/publish-one"
[ -x "$program" ] || fail "no publish-one binary at $program"

echo "== swift build --product broker-server"
# BROKER_SCRATCH_PATH: an optional --scratch-path for the build (a developer's separate build folder).
scratch=()
if [ -n "${BROKER_SCRATCH_PATH:-}" ]; then scratch=(--scratch-path "$BROKER_SCRATCH_PATH"); fi
swift build "${scratch[@]}" --product broker-server
broker="$(swift build "${scratch[@]}" --show-bin-path)/broker-server"

echo "== broker-server --config /dev/null --port 0, then publish-one against it"
"$broker" --config /dev/null --port 0 >"$work/broker.out" 2>"$work/broker.err" &
broker_pid=$!
# The readiness line; the only wait is for it (or for the broker to die).
for _ in $(seq 600); do
    grep -q '^listening on ' "$work/broker.out" 2>/dev/null && break
    kill -0 "$broker_pid" 2>/dev/null || break
    sleep 0.1
done
port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$work/broker.out")
if [ -z "$port" ]; then
    cat "$work/broker.err" >&2
    fail "broker-server printed no 'listening on 127.0.0.1:PORT' line"
fi
if ! output=$("$program" "$port" 2>"$work/program.err"); then
    cat "$work/program.err" >&2
    fail "publish-one against the broker on port $port failed"
fi
echo "$output"
grep -qx 'OK 1' <<<"$output" || fail "publish-one printed no 'OK 1'"

kill -TERM "$broker_pid"
status=0
wait "$broker_pid" || status=$?
broker_pid=""
[ "$status" -eq 0 ] || fail "broker-server exited with status $status on SIGTERM"
echo "== ci-versioned-dependency: passed"
