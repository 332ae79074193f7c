#!/usr/bin/env python3
"""Soak load for broker-server (stdlib only), started by scripts/soak.sh.

Starts the broker (port 0, reads its `listening on` line), then either
  soak MINUTES      mixed load with connection churn and occasional hostile clients,
                    a figures line every ~10 s, exact LAGGED accounting per subscription;
  hostile-rounds    the hostile set five times, RSS after each round (round 2 vs 5).
Stops the broker by pid. Exit status 1 if a message was lost outside LAGGED
accounting, the broker died, or it did not exit cleanly.
"""
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time

IDLE_TIMEOUT_MS = 1000
CAPACITY = 1024
TOPICS = [f"soak.t{i}" for i in range(8)]
PAD = "p" * 200  # after the sequence number: frames big enough that a stalled reader fills its socket and lags


# ---------------------------------------------------------------- the broker

class Broker:
    def __init__(self, binary, log_path):
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            [binary, "--port", "0", "--threads", "2", "--capacity", str(CAPACITY),
             "--idle-timeout-ms", str(IDLE_TIMEOUT_MS), "--log-level", "info"],
            stdout=subprocess.PIPE, stderr=self.log, stdin=subprocess.DEVNULL, cwd="/tmp")
        line = self.proc.stdout.readline().decode()
        if not line.startswith("listening on 127.0.0.1:"):
            raise SystemExit(f"soak: unexpected readiness line {line!r}")
        self.port = int(line.strip().rsplit(":", 1)[1])
        self.pid = self.proc.pid
        # Start-up ends with the signal thread (and its signalfd) after the readiness
        # line: a SIGHUP answered in the log proves it runs, so fd counts start settled.
        os.kill(self.pid, signal.SIGHUP)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with open(log_path, "rb") as log:
                if b"reload" in log.read():
                    break
            time.sleep(0.01)

    def alive(self):
        return self.proc.poll() is None

    def rss_kib(self):
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return -1

    def fds(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def stop(self):
        """SIGTERM by pid; returns the exit status (None if it had to be killed)."""
        if not self.alive():
            return self.proc.returncode
        os.kill(self.pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(self.pid, signal.SIGKILL)
            self.proc.wait()
            return None


# ---------------------------------------------------------------- a line client

class Client:
    def __init__(self, port, rcvbuf=None, timeout=10.0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def line(self):
        """The next line (bytes, no LF); None at EOF. Raises socket.timeout."""
        while True:
            nl = self.buf.find(b"\n")
            if nl >= 0:
                line, self.buf = self.buf[:nl], self.buf[nl + 1:]
                return line
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                return None
            if not chunk:
                return None
            self.buf += chunk

    def request(self, text):
        self.send(text + "\n")
        return self.line()

    def close(self, reset=False):
        if reset:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.sock.close()


# ---------------------------------------------------------------- accounting

class Ledger:
    """Published counts per topic (incremented before a PUB is sent) and totals."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sent = {t: 0 for t in TOPICS}     # PUBs handed to the socket, per topic
        self.published = 0                      # PUBs answered OK
        self.delivered = 0
        self.lagged = 0
        self.lost = 0                           # messages lost outside LAGGED accounting
        self.violations = []                    # descriptions (first few)
        self.subscriptions = 0
        self.connections = 0

    def snapshot(self):
        with self.lock:
            return dict(self.sent)

    def violation(self, text, count):
        with self.lock:
            self.lost += count
            if len(self.violations) < 20:
                self.violations.append(text)


class Subscription:
    """One subscription's accounting: per concrete topic, the next sequence due.

    `floor[t]` is how many PUBs to t had been handed to the socket when the SUB
    reply was read: every message with a sequence >= floor must be received or
    counted in a LAGGED for this subscription.
    """

    def __init__(self, ledger, pattern, floor):
        self.ledger = ledger
        self.pattern = pattern
        self.floor = floor
        self.next = {}          # topic -> next sequence due
        self.pending_lag = {}   # topic -> LAGGED count not yet followed by a MSG

    def on_lagged(self, topic, n):
        self.pending_lag[topic] = self.pending_lag.get(topic, 0) + n
        with self.ledger.lock:
            self.ledger.lagged += n

    def on_msg(self, topic, seq):
        lag = self.pending_lag.pop(topic, 0)
        start = seq - lag                       # the first sequence this MSG and its LAGGED cover
        due = self.next.get(topic)
        if due is None:
            due = self.floor.get(topic, 0)
            if start > due:
                self.ledger.violation(f"{self.pattern} on {topic}: first MSG {seq} (lag {lag}), due from {due}", start - due)
        elif start != due:
            if start > due:
                self.ledger.violation(f"{self.pattern} on {topic}: MSG {seq} (lag {lag}) where {due} was due", start - due)
            else:
                self.ledger.violation(f"{self.pattern} on {topic}: MSG {seq} (lag {lag}) repeats or reorders; {due} was due", 1)
        self.next[topic] = seq + 1
        with self.ledger.lock:
            self.ledger.delivered += 1

    def matches(self, topic):
        if self.pattern == topic:
            return True
        if self.pattern == "soak.*":
            return topic.startswith("soak.") and "." not in topic[5:]
        if self.pattern == "soak.>":
            return topic.startswith("soak.") and len(topic) > 5
        return False

    def caught_up(self, final):
        return all(self.next.get(t, self.floor.get(t, 0)) >= final[t] for t in TOPICS if self.matches(t))

    def finish(self, final):
        """At the end, after draining: every message up to the last published is accounted for."""
        for t in TOPICS:
            if not self.matches(t):
                continue
            due = self.next.get(t, self.floor.get(t, 0)) + self.pending_lag.get(t, 0)
            if final[t] > due:
                self.ledger.violation(f"{self.pattern} on {t}: ended at {due}, {final[t]} published", final[t] - due)


def dispatch(line, subs, ledger):
    """Routes one MSG/LAGGED line to the subscription of its connection that matches
    its topic (a connection here never holds two subscriptions matching one topic).
    Returns False for a reply."""
    if line.startswith(b"MSG ") or line.startswith(b"LAGGED "):
        parts = line.split(b" ", 2)
        topic = parts[1].decode(errors="replace")
        owner = next((sub for sub in subs if sub.matches(topic)), None)
        if owner is None:
            # A frame for a topic no subscription of this connection matches: a message
            # the broker should never have sent (a hostile partial line executed, say).
            if topic.startswith("soak."):
                ledger.violation(f"unexpected frame {line[:60]!r}", 1)
            return True
        try:
            number = int(parts[2].split(b" ", 1)[0])
        except (IndexError, ValueError):
            ledger.violation(f"unexpected frame {line[:60]!r}", 1)
            return True
        if line.startswith(b"MSG "):
            owner.on_msg(topic, number)
        else:
            owner.on_lagged(topic, number)
        return True
    return False


# ---------------------------------------------------------------- load roles

def publisher(port, ledger, topics, rate, stop):
    c = Client(port)
    with ledger.lock:
        ledger.connections += 1
    batch = 32
    interval = batch / rate
    next_at = time.monotonic()
    while not stop.is_set():
        lines = []
        with ledger.lock:
            for i in range(batch):
                t = topics[i % len(topics)]
                lines.append(f"PUB {t} {ledger.sent[t]} {PAD}\n")
                ledger.sent[t] += 1
        c.send("".join(lines))
        for _ in range(batch):
            reply = c.line()
            if reply is None or not reply.startswith(b"OK "):
                ledger.violation(f"publisher got {reply!r}", 0)
                return
        with ledger.lock:
            ledger.published += batch
        next_at += interval
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)  # pacing of the load, not synchronization
        else:
            next_at = time.monotonic()
    c.close()


def subscriber(port, ledger, patterns, slow, stop, drained, final_holder, results):
    """A long-lived subscriber: checked completely at the end."""
    c = Client(port, rcvbuf=4096 if slow else None, timeout=1.0)
    with ledger.lock:
        ledger.connections += 1
    subs = []
    for p in patterns:
        c.send(f"SUB {p}\n")
        while True:
            line = c.line()
            if line is None:
                ledger.violation(f"subscriber {p}: EOF before SUB reply", 0)
                return
            if not dispatch(line, subs, ledger):
                break
        if line != b"OK":
            ledger.violation(f"SUB {p} answered {line!r}", 0)
            return
        subs.append(Subscription(ledger, p, ledger.snapshot()))
        with ledger.lock:
            ledger.subscriptions += 1
    count = 0
    while True:
        if drained.is_set():
            final = final_holder[0]
            if all(s.caught_up(final) for s in subs):
                break
        try:
            line = c.line()
        except socket.timeout:
            if drained.is_set() and time.monotonic() > final_holder[1]:
                break
            continue
        if line is None:
            ledger.violation("long-lived subscriber: broker closed the connection", 0)
            break
        dispatch(line, subs, ledger)
        count += 1
        if slow and count % 500 == 0 and not stop.is_set():
            time.sleep(1.0)  # a slow consumer: it must get LAGGED
    results.extend(subs)
    c.close()


def churn(port, ledger, stop, rng):
    """Connections opened and closed continuously, some with short subscriptions."""
    opened = 0
    while not stop.is_set():
        kind = rng.randrange(6)
        try:
            c = Client(port, timeout=5.0)
        except OSError as error:
            ledger.violation(f"churn connect failed: {error}", 0)
            time.sleep(0.1)
            continue
        opened += 1
        try:
            if kind == 0:      # subscribe, read a while, check what came, close
                t = rng.choice(TOPICS)
                c.send(f"SUB {t}\n")
                sub = None
                subs = []
                deadline = time.monotonic() + 0.3
                c.sock.settimeout(0.3)  # messages may simply not come (the load is stopping)
                while time.monotonic() < deadline:
                    try:
                        line = c.line()
                    except socket.timeout:
                        if sub is None:
                            ledger.violation(f"churn: no reply to SUB {t} within 0.3 s", 0)
                        break
                    if line is None:
                        break
                    if sub is None and line == b"OK":
                        sub = Subscription(ledger, t, ledger.snapshot())
                        subs.append(sub)
                        with ledger.lock:
                            ledger.subscriptions += 1
                        continue
                    dispatch(line, subs, ledger)
                c.close(reset=rng.random() < 0.3)
            elif kind == 1:    # a pattern subscription, then UNSUB
                c.send("SUB churn.*\nUNSUB churn.*\nPING done\n")
                while c.line() not in (b"PONG done", None):
                    pass
                c.close()
            elif kind == 2:    # publish to a churn topic
                if c.request(f"PUB churn.x {opened}") is None:
                    ledger.violation("churn PUB got EOF", 0)
                c.close()
            elif kind == 3:    # PING, close without reading
                c.send("PING x\n")
                c.close()
            elif kind == 4:    # half a line, reset
                c.send("PUB churn.x half")
                c.close(reset=True)
            else:              # connect, close
                c.close()
        except (OSError, socket.timeout) as error:
            ledger.violation(f"churn: {error!r}", 0)
            c.close()
        with ledger.lock:
            ledger.connections += 1


# ---------------------------------------------------------------- hostile clients

def h_slowloris(port):
    c = Client(port, timeout=IDLE_TIMEOUT_MS / 1000 + 10)
    c.send("PUB soak.slowloris never-ends")
    bye = c.line()
    eof = c.line()
    c.close()
    assert bye is not None and bye.startswith(b"BYE idle-timeout "), bye
    assert eof is None, eof


def h_nonreader(port, messages=100_000):
    stalled = Client(port, rcvbuf=4096)
    assert stalled.request("SUB hot.feed") == b"OK"
    fast = Client(port)
    assert fast.request("SUB hot.feed") == b"OK"
    pub = Client(port)
    pad = "x" * (1024 - 8)
    chunk = 256
    for first in range(0, messages, chunk):
        n = min(chunk, messages - first)
        pub.send("".join(f"PUB hot.feed {s:08d}{pad}\n" for s in range(first, first + n)))
        for _ in range(n):
            reply = pub.line()
            assert reply == b"OK 2", reply
        for s in range(first, first + n):
            line = fast.line()
            assert line is not None and line.startswith(b"MSG hot.feed %08d" % s), (line or b"")[:40]
    for c in (stalled, fast, pub):
        c.close()


def h_hoarder(port):
    """PINGs pipelined without reading until the socket is full, then every PONG, in order."""
    c = Client(port, rcvbuf=4096)
    token = "h" * 100
    block = "".join(f"PING {i}-{token}\n" for i in range(1000)).encode()
    c.sock.setblocking(False)
    blocks, offset = 0, 0
    while blocks < 1000:
        try:
            offset = c.sock.send(block)
        except BlockingIOError:
            offset = 0
        if offset < len(block):
            break
        blocks += 1
    answered = 0
    while offset < len(block):
        c.sock.setblocking(True)
        c.sock.settimeout(10)
        line = c.line()
        assert line == f"PONG {answered % 1000}-{token}".encode(), line
        answered += 1
        c.sock.setblocking(False)
        try:
            offset += c.sock.send(block[offset:])
        except BlockingIOError:
            pass
    c.sock.setblocking(True)
    c.sock.settimeout(10)
    while answered < (blocks + 1) * 1000:
        line = c.line()
        assert line == f"PONG {answered % 1000}-{token}".encode(), line
        answered += 1
    c.close()


def h_churn(port, cycles=2000, batch=200):
    for first in range(0, cycles, batch):
        clients = []
        for i in range(first, first + batch):
            c = Client(port)
            if i % 4 == 1:
                c.send("PING churn\n")
            elif i % 4 == 2:
                c.send(f"SUB churn.{i}\n")
            elif i % 4 == 3:
                c.send("PUB churn.x partial")
            clients.append(c)
        for c in clients:
            c.close()


def h_half_close(port):
    c = Client(port)
    c.send("PING a\nPUB half.w x\nPING b\nPUB half.w partial")
    c.sock.shutdown(socket.SHUT_WR)
    got = [c.line() for _ in range(4)]
    c.close()
    assert got == [b"PONG a", b"OK 0", b"PONG b", None], got
    r = Client(port)
    r.sock.shutdown(socket.SHUT_RD)
    r.send("SUB half.r\nPING x\n")
    r.close()


def h_reset(port):
    c = Client(port)
    c.send("PING mid\nPUB soak.t0 999999999-half")
    assert c.line() == b"PONG mid"
    c.close(reset=True)
    # A reset while the broker has paused this client's input (its replies unread).
    h = Client(port, rcvbuf=4096)
    h.sock.setblocking(False)
    block = ("PING " + "r" * 100 + "\n").encode() * 1000
    for _ in range(1000):
        try:
            if h.sock.send(block) < len(block):
                break
        except BlockingIOError:
            break
    h.close(reset=True)


def h_huge_lines(port):
    c = Client(port)
    c.send(b"PUB huge.t " + b"a" * (1 << 20) + b"\nPING huge\n")
    first = c.line()
    second = c.line()
    c.close()
    assert first is not None and first.startswith(b"ERR line-too-long "), first
    assert second == b"PONG huge", second


def h_random(port, seed=1):
    rng = random.Random(seed)
    frags = [b"PUB ", b"SUB ", b"PING", b"*", b">", b"\r", b"\n", b" ", b"$SYS", b"churn.r"]
    data = bytearray()
    while len(data) < 16384:
        data += rng.choice(frags) if rng.random() < 0.25 else bytes([rng.randrange(256)])
    data += b"\nPING end\n"
    c = Client(port)
    try:
        c.send(bytes(data))
    except OSError:
        pass
    while True:
        line = c.line()
        if line is None or line == b"PONG end":
            break
        assert line.split(b" ")[0] in (b"OK", b"ERR", b"PONG", b"MSG", b"LAGGED", b"BYE"), line[:60]
    c.close()


HOSTILE = [("slowloris", h_slowloris), ("nonreader", h_nonreader), ("hoarder", h_hoarder), ("churn", h_churn),
           ("half-close", h_half_close), ("reset", h_reset), ("huge-lines", h_huge_lines),
           ("random", h_random)]


def hostile_loop(port, ledger, stop, every_s, log):
    index = 0
    next_at = time.monotonic() + every_s
    while not stop.wait(max(0.0, next_at - time.monotonic())):
        name, action = HOSTILE[index % len(HOSTILE)]
        kwargs = {"messages": 20_000} if name == "nonreader" else {}
        try:
            action(port, **kwargs)
            log.append(name)
        except (AssertionError, OSError) as error:
            ledger.violation(f"hostile {name}: {error!r}", 0)
        index += 1
        next_at = time.monotonic() + every_s


# ---------------------------------------------------------------- modes

def soak(broker, minutes):
    ledger = Ledger()
    stop = threading.Event()           # stops publishers, churn and hostile clients
    drained = threading.Event()        # publishers stopped: subscribers drain
    final_holder = [None, 0.0]         # final sent counts, drain deadline
    rng = random.Random(42)
    results = []
    hostile_log = []
    threads = []
    for i in range(4):
        threads.append(threading.Thread(target=publisher, args=(broker.port, ledger, [TOPICS[i], TOPICS[i + 4]], 1500, stop)))
    sub_threads = []
    for patterns, slow in [(["soak.t0", "soak.t1", "soak.t2", "soak.t3"], False), (["soak.*"], False),
                           (["soak.>"], False), (["soak.t4", "soak.t6"], True), (["soak.*"], True)]:
        sub_threads.append(threading.Thread(target=subscriber,
                                            args=(broker.port, ledger, patterns, slow, stop, drained, final_holder, results)))
    others = [threading.Thread(target=churn, args=(broker.port, ledger, stop, random.Random(rng.random()))),
              threading.Thread(target=hostile_loop, args=(broker.port, ledger, stop, 15.0, hostile_log))]
    fds0, rss0 = broker.fds(), broker.rss_kib()
    for t in sub_threads:
        t.start()
    time.sleep(0.5)  # let the long-lived subscriptions exist before load begins (their floors stay exact either way)
    for t in threads + others:
        t.start()
    start = time.monotonic()
    end = start + minutes * 60
    print(f"soak: broker pid {broker.pid} port {broker.port}; start fds {fds0} rss {rss0} KiB", flush=True)
    print("elapsed_s published delivered lagged lost_outside_lagged fds rss_kib connections(load, hostile excluded)", flush=True)
    died = False
    samples = []
    while time.monotonic() < end:
        time.sleep(min(10.0, max(0.0, end - time.monotonic())))
        if not broker.alive():
            died = True
            print(f"soak: the broker died (status {broker.proc.returncode})", flush=True)
            break
        with ledger.lock:
            row = (int(time.monotonic() - start), ledger.published, ledger.delivered, ledger.lagged, ledger.lost,
                   broker.fds(), broker.rss_kib(), ledger.connections)
        samples.append(row)
        print("%9d %9d %9d %6d %19d %3d %7d %11d" % row, flush=True)
    stop.set()
    for t in threads + others:
        t.join(timeout=60)
    final_holder[0] = ledger.snapshot()
    final_holder[1] = time.monotonic() + 20
    drained.set()
    for t in sub_threads:
        t.join(timeout=60)
    for sub in results:
        sub.finish(final_holder[0])
    fds1 = settled_fds(broker, fds0) if broker.alive() else -1
    rss1 = broker.rss_kib() if broker.alive() else -1
    status = broker.stop()
    print(f"summary: {int(time.monotonic() - start)} s, published {ledger.published}, delivered {ledger.delivered}, "
          f"lagged {ledger.lagged}, lost outside LAGGED accounting {ledger.lost}, "
          f"subscriptions checked {ledger.subscriptions}, connections {ledger.connections}, "
          f"hostile actions {len(hostile_log)} ({', '.join(hostile_log)})", flush=True)
    print(f"summary: broker fds {fds0} at start, {fds1} at the end; RSS {rss0} KiB at start, {rss1} KiB at the end; "
          f"exit status {status}", flush=True)
    for v in ledger.violations:
        print(f"violation: {v}", flush=True)
    failed = died or ledger.lost > 0 or status != 0
    if ledger.violations and ledger.lost == 0:
        print("soak: client-side errors were recorded (see above); no message was lost", flush=True)
        failed = True
    print("soak: FAILED" if failed else "soak: passed", flush=True)
    return 1 if failed else 0


def settled_fds(broker, target, attempts=20000):
    """The broker's open fds once closes have settled: PING barriers between readings, bounded."""
    probe = Client(broker.port)
    count = broker.fds()
    for i in range(attempts):
        if count <= target + 1:  # + 1: the probe itself
            break
        probe.send(f"PING s{i}\n")
        while True:
            line = probe.line()
            if line is None or line == f"PONG s{i}".encode():
                break
        count = broker.fds()
    probe.close()
    return count - 1


def hostile_rounds(broker, rounds=5):
    probe = Client(broker.port)
    assert probe.request("PING") == b"PONG"
    fds0 = broker.fds()
    rss = []
    for r in range(1, rounds + 1):
        began = time.monotonic()
        timings = []
        for name, action in HOSTILE:
            t0 = time.monotonic()
            action(broker.port)
            timings.append(f"{name} {time.monotonic() - t0:.2f}s")
        # Let closes settle: PING barriers between readings, bounded.
        for i in range(20000):
            if broker.fds() <= fds0:
                break
            probe.send(f"PING r{i}\n")
            while True:
                line = probe.line()
                if line is None or line == f"PONG r{i}".encode():
                    break
        rss.append(broker.rss_kib())
        print(f"round {r}: {time.monotonic() - began:.1f} s, broker fds {broker.fds()} (before the set: {fds0}), "
              f"RSS {rss[-1]} KiB [{', '.join(timings)}]", flush=True)
        if not broker.alive():
            print("hostile-rounds: the broker died", flush=True)
            return 1
    probe.close()
    status = broker.stop()
    print(f"hostile-rounds: RSS after round 2: {rss[1]} KiB, after round 5: {rss[4]} KiB "
          f"(difference {rss[4] - rss[1]:+d} KiB); exit status {status}", flush=True)
    return 0 if status == 0 else 1


def main():
    binary, mode = os.path.abspath(sys.argv[1]), sys.argv[2]
    log_path = os.environ.get("SOAK_LOG", f"/tmp/broker-soak-{os.getpid()}.log")
    broker = Broker(binary, log_path)
    print(f"soak: broker log {log_path}", flush=True)
    try:
        if mode == "hostile-rounds":
            return hostile_rounds(broker)
        return soak(broker, float(sys.argv[3]))
    finally:
        if broker.alive():
            broker.stop()


if __name__ == "__main__":
    sys.exit(main())
