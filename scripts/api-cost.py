#!/usr/bin/env python3
"""What /api/v1/connections and /api/v1/topics cost as connections and topics grow: opens N
connections to a running broker, each subscribed to a topic of its own that holds one message,
then times GET /api/v1/connections?sort=lag&limit=100 and /api/v1/topics?sort=lag&limit=100
(20 each, median and slowest) and prints the cost per connection.
Usage: scripts/api-cost.py TCP_PORT HTTP_PORT N [N ...]   (the broker's open-file limit must allow N)"""
import json, resource, socket, statistics, sys, time, urllib.request

def timed(url, count=20):
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        body = urllib.request.urlopen(url).read()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), max(samples), len(body)

def main():
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    tcp_port, http_port = int(sys.argv[1]), int(sys.argv[2])
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    crowd = []
    publisher = socket.create_connection(("127.0.0.1", tcp_port))
    replies = publisher.makefile("rb")
    for target in map(int, sys.argv[3:]):
        while len(crowd) < target:
            i = len(crowd)
            s = socket.create_connection(("127.0.0.1", tcp_port))
            s.sendall(f"SUB cost.{i}\n".encode())
            crowd.append(s)
        publisher.sendall(b"".join(f"PUB cost.{i} x\n".encode() for i in range(target)))
        for _ in range(target):
            replies.readline()
        stats = json.load(urllib.request.urlopen(f"http://127.0.0.1:{http_port}/api/v1/stats"))
        c_med, c_max, c_bytes = timed(f"http://127.0.0.1:{http_port}/api/v1/connections?sort=lag&limit=100")
        t_med, t_max, t_bytes = timed(f"http://127.0.0.1:{http_port}/api/v1/topics?sort=lag&limit=100")
        print(f"connections={stats['connections']} topics={stats['topics']} "
              f"connections_api_ms={c_med:.2f} (max {c_max:.2f}, {c_bytes} B) "
              f"topics_api_ms={t_med:.2f} (max {t_max:.2f}, {t_bytes} B) "
              f"us_per_connection={1000 * c_med / stats['connections']:.3f} us_per_topic={1000 * t_med / stats['topics']:.3f}",
              flush=True)

main()
