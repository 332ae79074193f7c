#!/usr/bin/env python3
"""The leading table of docs/benchmarks.md from one run of scripts/bench-peers.sh: every
workload, every system's median over the repetitions, line ÷ the best peer, and the goal of
issue #17 with whether the run meets it.

Usage: scripts/peers-table.py docs/bench/peers-TAG.jsonl [RUN-NAME]
"""
import json
import statistics
import sys
from collections import defaultdict


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def number(value, digits=3):
    if value is None:
        return "—"
    if abs(value) >= 1e6:
        return f"{value / 1e6:.{digits}g} M"
    if abs(value) >= 1e3:
        return f"{value / 1e3:.{digits}g} k"
    return f"{value:.{digits}g}"


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    path = sys.argv[1]
    run = sys.argv[2] if len(sys.argv) > 2 else path.rsplit("/", 1)[-1].removeprefix("peers-").removesuffix(".jsonl")
    rows = [json.loads(line) for line in open(path) if line.strip()]
    rows = [r for r in rows if r.get("workload") not in (None, "server-config") and r.get("ok", True)]
    groups = defaultdict(lambda: defaultdict(list))  # (workload, key) -> system -> rows
    for r in rows:
        p = r.get("params", {})
        w = r["workload"]
        if w in ("fanout", "latency"):
            key = (w, p.get("subs"), p.get("payload"))
        elif w == "slow":
            key = (w, p.get("slow"))
        else:
            key = (w,)
        groups[key][r["system"]].append(r)
    systems = sorted({r["system"] for r in rows}, key=lambda s: (s != "line", s))
    peers = [s for s in systems if s != "line"]
    out = []
    out.append(f"| workload | measure | {' | '.join(systems)} | line ÷ best peer | goal | met |")
    out.append("| --- | --- |" + " --- |" * len(systems) + " --- | --- | --- |")

    def line_row(workload, measure, values, better, goal, met):
        best = None
        peer_values = [values.get(s) for s in peers if values.get(s) is not None]
        if peer_values and values.get("line") is not None:
            best = (max if better == "higher" else min)(peer_values)
            ratio = values["line"] / best if best else None
        else:
            ratio = None
        cells = [number(values.get(s)) for s in systems]
        out.append(f"| {workload} | {measure} | {' | '.join(cells)} | {number(ratio)} | {goal} | {met(ratio, values) if ratio is not None else '—'} |")

    def medians(key, field):
        return {s: median([r.get(field) for r in groups[key].get(s, [])]) for s in systems}

    for key in sorted(k for k in groups if k[0] == "fanout"):
        _, subs, payload = key
        values = medians(key, "deliver_rate")
        goal = 1.5 if payload and payload >= 4096 else (1.8 if subs and subs >= 16 else 1.5)
        peer_goal = "≥ 1.5× best peer (N = 16)" if payload and payload >= 4096 else \
            (f"≥ {goal}× NATS" if subs and subs >= 16 else "≥ 1.5× NATS")
        if payload and payload >= 4096:
            met = lambda r, v: "yes" if r >= 1.5 else "no"
            if subs != 16:
                peer_goal, met = "(none)", lambda r, v: "—"
        else:
            met = lambda r, v, g=goal: ("yes" if v.get("nats") and v["line"] / v["nats"] >= g else "no")
        line_row(f"fanout N = {subs}, {payload} B", "deliveries/s", values, "higher", peer_goal, met)
    for key in sorted(k for k in groups if k[0] == "latency"):
        _, subs, payload = key
        for field, label in (("lat_p99_us", "p99 µs"), ("lat_p999_us", "p99.9 µs")):
            values = medians(key, field)
            if field == "lat_p99_us":
                # In every repetition: line's p99 at most the best peer's of the same repetition.
                def every(r, v, key=key):
                    by_rep = defaultdict(dict)
                    for s in systems:
                        for row in groups[key].get(s, []):
                            by_rep[row.get("rep")][s] = row.get("lat_p99_us")
                    ok = all(reps.get("line") is not None and reps["line"] <= min(x for k, x in reps.items() if k != "line" and x is not None)
                             for reps in by_rep.values() if any(k != "line" and x is not None for k, x in reps.items()))
                    return "yes" if ok else "no"
                line_row(f"latency N = {subs}, 20k msgs/s", label, values, "lower", "≤ best peer, every repetition", every)
            else:
                line_row(f"latency N = {subs}, 20k msgs/s", label, values, "lower", "≤ Redis",
                         lambda r, v: "yes" if v.get("redis") is not None and v["line"] <= v["redis"] else "no")
    slow = {s: None for s in systems}
    if ("slow", 1) in groups and ("slow", 0) in groups:
        for s in systems:
            with_slow = median([r.get("deliver_rate") for r in groups[("slow", 1)].get(s, [])])
            without = median([r.get("deliver_rate") for r in groups[("slow", 0)].get(s, [])])
            slow[s] = with_slow / without if with_slow and without else None
        disconnected = any(r.get("disconnected") or (r.get("slow") or {}).get("closed_by_server") for r in groups[("slow", 1)].get("line", []))
        out.append(f"| slow subscriber | rate with ÷ without | {' | '.join(number(slow[s]) for s in systems)} | — | ≥ 0.9, no disconnect | "
                   f"{'yes' if slow['line'] and slow['line'] >= 0.9 and not disconnected else 'no'} |")
    if ("conns",) in groups:
        line_row("idle connections", "RSS KiB per connection", medians(("conns",), "rss_per_conn_kib"), "lower", "≤ 1.0 KiB",
                 lambda r, v: "yes" if v["line"] <= 1.0 else "no")
    if ("topics",) in groups:
        line_row("topics (10,000)", "deliveries/s", medians(("topics",), "deliver_rate"), "higher", "≥ 1.5× best peer",
                 lambda r, v: "yes" if r >= 1.5 else "no")
        line_row("topics (10,000)", "RSS KiB per topic", medians(("topics",), "rss_per_topic_kib"), "lower", "≤ best peer",
                 lambda r, v: "yes" if r <= 1.0 else "no")
    if ("fanin",) in groups:
        line_row("fanin (64 publishers)", "deliveries/s", medians(("fanin",), "deliver_rate"), "higher", "≥ 1.5× best peer, in order",
                 lambda r, v: "yes" if r >= 1.5 and all((x.get("gaps") or 0) == 0 and (x.get("reorders") or 0) == 0
                                                         for x in groups[("fanin",)].get("line", [])) else "no")
    if ("patterns",) in groups:
        line_row("patterns (10,000 idle)", "deliveries/s", medians(("patterns",), "deliver_rate"), "higher", "≥ 1.5× best peer",
                 lambda r, v: "yes" if r >= 1.5 else "no")
        ratio = medians(("patterns",), "deliver_rate_ratio")
        out.append(f"| patterns (10,000 idle) | ÷ the same run without | {' | '.join(number(ratio[s]) for s in systems)} | — | ≥ 0.9 | "
                   f"{'yes' if ratio.get('line') and ratio['line'] >= 0.9 else 'no'} |")
    if ("churn",) in groups:
        rate = medians(("churn",), "connections_per_s")
        cpu = medians(("churn",), "srv_cpu_pct")
        per = {s: (cpu[s] / rate[s] * 1000 if cpu.get(s) and rate.get(s) else None) for s in systems}
        line_row("churn", "connections/s", rate, "higher", "≥ best peer", lambda r, v: "yes" if r >= 1.0 else "no")
        line_row("churn", "server CPU % per 1,000 conn/s", per, "lower", "≤ best peer ÷ 1.5", lambda r, v: "yes" if r <= 1 / 1.5 else "no")
    print(f"Run `{run}` (medians of its repetitions; `—`: not measured or not applicable).\n")
    print("\n".join(out))


main()
