#!/usr/bin/env bash
# CI: the broker's /metrics read by the Prometheus Python client's own parser, after a real load.
#
# Installs prometheus-client from PyPI if missing, builds the broker, starts
# broker-server on free ports, publishes (with a forced lag) over TCP, fetches
# /metrics and /healthz, checks the figures, prints "N passed, M failed", and
# exits non-zero on any failure. The broker is stopped by its pid.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -c 'import prometheus_client' 2>/dev/null; then
    python3 -m pip install --quiet prometheus-client
fi

# BROKER_SCRATCH_PATH: an optional --scratch-path for the build (a developer's separate build folder).
scratch=()
if [ -n "${BROKER_SCRATCH_PATH:-}" ]; then scratch=(--scratch-path "$BROKER_SCRATCH_PATH"); fi
swift build "${scratch[@]}"
binary="$(swift build "${scratch[@]}" --show-bin-path)/broker-server"

exec python3 - "$binary" <<'PY'
import os, signal, socket, subprocess, sys, tempfile, urllib.error, urllib.request
from prometheus_client.parser import text_string_to_metric_families

binary = sys.argv[1]
passed, failed = 0, 0

def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name} {detail}")

def free_port():
    # metrics_port 0 means "off", so the metrics port is picked here (the broker's own port is 0).
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

class Client:
    def __init__(self, port, rcvbuf=None):
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(30)
        self.sock.connect(("127.0.0.1", port))
        self.file = self.sock.makefile("rb")
    def send(self, line):
        self.sock.sendall(line.encode() + b"\n")
    def line(self):
        data = self.file.readline()
        if not data:
            raise RuntimeError("connection closed")
        return data.decode().rstrip("\n")
    def request(self, line):
        self.send(line)
        return self.line()
    def barrier(self):
        self.send("PING b")
        while (line := self.line()) != "PONG b":
            raise RuntimeError(f"unexpected '{line[:60]}' before PONG")

def publish(client, topic, count, payload):
    for start in range(0, count, 50):
        n = min(50, count - start)
        client.sock.sendall(f"PUB {topic} {payload}\n".encode() * n)
        for _ in range(n):
            reply = client.line()
            if not reply.startswith("OK "):
                raise RuntimeError(f"PUB reply {reply}")

def read_until_end(client, topics):
    waiting, messages, lagged = set(topics), 0, []
    while waiting:
        words = client.line().split(" ", 2)
        if words[0] == "LAGGED":
            lagged.append(int(words[2]))
        elif words[0] == "MSG":
            messages += 1
            if words[2] == "END":
                waiting.discard(words[1])
        else:
            raise RuntimeError(f"unexpected frame {words}")
    return messages, lagged

workdir = tempfile.mkdtemp()
metrics_port = free_port()
broker = subprocess.Popen([binary, "--port", "0", "--metrics-port", str(metrics_port), "--capacity", "16",
                           "--stats-interval-ms", "0", "--log-level", "warn"],
                          cwd=workdir, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
try:
    first = broker.stdout.readline().decode().strip()
    second = broker.stdout.readline().decode().strip()
    check("readiness line", first.startswith("listening on 127.0.0.1:"), first)
    check("metrics readiness line", second == f"metrics listening on 127.0.0.1:{metrics_port}", second)
    port = int(first.rsplit(":", 1)[1])

    fast = Client(port)
    slow = Client(port, rcvbuf=4096)
    publishers = [Client(port), Client(port)]
    check("SUB ci.*", fast.request("SUB ci.*") == "OK")
    check("SUB ci.lag", slow.request("SUB ci.lag") == "OK")
    sent = 0
    publish(publishers[0], "ci.a", 300, "hello"); sent += 300
    publish(publishers[1], "ci.lag", 1500, "x" * 4000); sent += 1500   # the slow one reads nothing meanwhile
    for topic in ("ci.a", "ci.lag"):
        publish(publishers[0], topic, 1, "END"); sent += 1
    fast_messages, fast_lagged = read_until_end(fast, ["ci.a", "ci.lag"])
    slow_messages, slow_lagged = read_until_end(slow, ["ci.lag"])
    fast.barrier(); slow.barrier()   # after the PONGs, delivered_total includes every MSG read
    check("the slow subscriber lagged", len(slow_lagged) > 0)

    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=30) as response:
        check("/metrics status 200", response.status == 200, response.status)
        content_type = response.headers.get("Content-Type", "")
        check("content type 0.0.4", content_type.startswith("text/plain; version=0.0.4"), content_type)
        text = response.read().decode()
    families = {family.name: family for family in text_string_to_metric_families(text)}
    def value(family, labels=None):
        for sample in families[family].samples:
            if labels is None or sample.labels == labels:
                return sample.value
        return None

    expected = {
        "broker_info": "gauge", "broker_uptime_seconds": "gauge", "broker_connections": "gauge",
        "broker_topics": "gauge", "broker_subscriptions": "gauge", "broker_published": "counter",
        "broker_delivered": "counter", "broker_lagged_events": "counter", "broker_lagged_messages": "counter",
        "broker_bytes_in": "counter", "broker_bytes_out": "counter", "broker_topic_subscribers": "gauge",
        "broker_topic_held": "gauge", "broker_topic_published": "counter", "broker_topic_lagging": "gauge",
        "broker_topic_max_lag": "gauge",
    }
    for name, kind in expected.items():
        check(f"family {name} ({kind})", name in families and families[name].type == kind)
    if all(name in families for name in expected):
        check("published total = PUBs sent", value("broker_published") == sent, f"{value('broker_published')} != {sent}")
        check("delivered total = MSGs read", value("broker_delivered") == fast_messages + slow_messages,
              f"{value('broker_delivered')} != {fast_messages + slow_messages}")
        all_lagged = fast_lagged + slow_lagged
        check("lagged events = LAGGED frames", value("broker_lagged_events") == len(all_lagged))
        check("lagged messages = sum of LAGGED", value("broker_lagged_messages") == sum(all_lagged))
        check("connections", value("broker_connections") == 4, value("broker_connections"))
        check("subscriptions", value("broker_subscriptions") == 2, value("broker_subscriptions"))
        check("topics", value("broker_topics") == 2, value("broker_topics"))
        check("bytes in and out", value("broker_bytes_in") > 6_000_000 and value("broker_bytes_out") > 0)
        check("uptime", value("broker_uptime_seconds") >= 0)
        info = families["broker_info"].samples
        check("broker_info{version} 1", len(info) == 1 and info[0].value == 1 and info[0].labels.get("version"))
        check("topic ci.lag subscribers", value("broker_topic_subscribers", {"topic": "ci.lag"}) == 2)
        check("topic ci.lag published", value("broker_topic_published", {"topic": "ci.lag"}) == 1501)
        check("topic ci.a published", value("broker_topic_published", {"topic": "ci.a"}) == 301)

    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/healthz", timeout=30) as response:
        check("/healthz", response.status == 200 and response.read() == b"ok\n")
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/nope", timeout=30)
        check("/nope is 404", False, "got 200")
    except urllib.error.HTTPError as error:
        check("/nope is 404", error.code == 404, error.code)
except Exception as error:  # a broken exchange is a failure, not a crash without a summary
    check("no exception", False, repr(error))
finally:
    os.kill(broker.pid, signal.SIGTERM)
    try:
        status = broker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.kill(broker.pid, signal.SIGKILL)
        status = broker.wait()
    check("broker exits 0 on SIGTERM", status == 0, status)

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
