#!/usr/bin/env python3
"""Memory per idle WebSocket connection: opens N upgraded connections to a running broker's
HTTP port and prints the broker's RSS growth per connection (like fanbench's `conns` for TCP).
With `sub`, each connection then subscribes to a topic of its own (`SUB idle.<i>`), as
fanbench's `conns` workload does over TCP.
Usage: scripts/ws-idle-memory.py PID HTTP_PORT [N] [sub]   (raise `ulimit -n` first for large N)"""
import base64, os, socket, sys, time

def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise SystemExit("no VmRSS")

def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    pid, port = int(sys.argv[1]), int(sys.argv[2])
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 10000
    subscribe = len(sys.argv) > 4 and sys.argv[4] == "sub"
    before = rss_kib(pid)
    sockets = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall(f"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
        sockets.append(s)
    for s in sockets:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(4096)
            if not chunk:
                raise SystemExit("a connection closed during the handshake")
            head += chunk
        if not head.startswith(b"HTTP/1.1 101"):
            raise SystemExit(f"not upgraded: {head[:80]!r}")
    if subscribe:
        for index, s in enumerate(sockets):
            payload = f"SUB idle.{index}\n".encode()
            mask = os.urandom(4)
            s.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        for s in sockets:
            reply = b""
            while len(reply) < 5:  # the 2-byte header and "OK\n"
                reply += s.recv(64)
    time.sleep(1)
    after = rss_kib(pid)
    print(f"websocket connections={count} subscribed={subscribe} rss_before_kib={before} rss_after_kib={after} "
          f"per_connection_kib={(after - before) / count:.2f}")

main()
