#!/usr/bin/env python3
"""Memory per idle TLS connection: opens N TLS connections to a running broker's tls_port, each
subscribing to a topic of its own (`SUB idle.<i>`, answered `OK`), then prints the broker's RSS
growth per connection (as fanbench's `conns` workload does over TCP).
Usage: scripts/tls-idle-memory.py PID TLS_PORT CA_FILE [N]   (raise `ulimit -n` first for large N)"""
import socket, ssl, sys, time

def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise SystemExit("no VmRSS")

def main():
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    pid, port, ca = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    count = int(sys.argv[4]) if len(sys.argv) > 4 else 2000
    context = ssl.create_default_context(cafile=ca)
    before = rss_kib(pid)
    connections = []
    for index in range(count):
        raw = socket.create_connection(("127.0.0.1", port))
        tls = context.wrap_socket(raw, server_hostname="localhost")
        tls.sendall(f"SUB idle.{index}\n".encode())
        connections.append(tls)
    for tls in connections:
        reply = b""
        while not reply.endswith(b"\n"):
            chunk = tls.recv(64)
            if not chunk:
                raise SystemExit("a connection closed")
            reply += chunk
        if reply != b"OK\n":
            raise SystemExit(f"unexpected reply {reply!r}")
    time.sleep(1)  # let the broker's allocator settle, as fanbench's --settle does
    after = rss_kib(pid)
    print(f"connections {count} rss_before_kib {before} rss_after_kib {after} "
          f"per_connection_kib {(after - before) / count:.2f}")

main()
