#!/usr/bin/env python3
"""Resume benchmark (issue #14): N subscribers each replay M held messages with SUB from=.

Starts the release broker-server (capacity >= M), publishes M messages to one topic,
then opens N version 2 connections that each send `HELLO 2` and `SUB <topic> from=<epoch>:0`
and read until they hold M sized MSG frames. Prints the time from the first SUB to the
last frame read, and the broker's RSS before and after (from /proc).

Usage: scripts/bench-resume.py [N] [M] [PAYLOAD]   (defaults 1000 1000 16)
"""
import os, re, selectors, socket, subprocess, sys, time

def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1

def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    m = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    payload = b"x" * (int(sys.argv[3]) if len(sys.argv) > 3 else 16)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    subprocess.run(["swift", "build", "-c", "release", "--product", "broker-server"], cwd=root, check=True,
                   stdout=subprocess.DEVNULL)
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, n + 64)), hard))
    server = subprocess.Popen([os.path.join(root, ".build/release/broker-server"), "--config", "/dev/null", "--port", "0",
                               "--threads", "1", "--capacity", str(max(m, 1)), "--log-level", "warn"],
                              stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        port = int(re.search(r":(\d+)$", line.strip()).group(1))
        pub = socket.create_connection(("127.0.0.1", port))
        pub.sendall(b"HELLO 2\n" + b"".join(b"PUB bench.resume " + payload + b"\n" for _ in range(m)) + b"PING done\n")
        got = b""
        while b"PONG done\n" not in got:
            got += pub.recv(1 << 20)
        epoch = re.search(rb"OK 0 ([0-9a-z]+):1\n", got).group(1).decode()
        before = rss_kib(server.pid)
        sel = selectors.DefaultSelector()
        state = {}
        start = time.monotonic()
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", port))
            s.setblocking(False)
            s.sendall(f"HELLO 2\nSUB bench.resume from={epoch}:0\n".encode())
            state[s] = [b"", 0]
            sel.register(s, selectors.EVENT_READ)
        done = 0
        frame = re.compile(rb"MSG bench\.resume (\d+) (\d+)\n")
        while done < n:
            for key, _ in sel.select():
                s = key.fileobj
                data = s.recv(1 << 20)
                if not data:
                    raise SystemExit("a subscriber was closed")
                buf = state[s][0] + data
                pos = 0
                while True:
                    mo = frame.search(buf, pos)
                    if not mo:
                        break
                    end = mo.end() + int(mo.group(2)) + 1
                    if end > len(buf):
                        break
                    state[s][1] += 1
                    pos = end
                state[s][0] = buf[pos:]
                if state[s][1] == m:
                    done += 1
                    sel.unregister(s)
        elapsed = time.monotonic() - start
        after = rss_kib(server.pid)
        print(f"resume subscribers={n} held={m} payload={len(payload)} seconds={elapsed:.3f} "
              f"frames_per_s={n * m / elapsed:.0f} rss_before_kib={before} rss_after_kib={after} "
              f"rss_growth_kib={after - before}")
    finally:
        server.terminate()
        server.wait()

if __name__ == "__main__":
    main()
