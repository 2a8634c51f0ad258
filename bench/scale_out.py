"""Scale out, measured: one consumer vs two in one group, one `serve` replica vs two.

Consumers: the school day's messages (`school_day_data`, a smaller day by default) are
produced as fast as possible to a topic of 8 partitions while 1, then 2, `mastery-engine
consume` processes of a fresh group (announcements on) wait, each run into a fresh key prefix
of the Redis Cluster; the rate is messages / (last settled - first produced), and the rate
between 10 % and 90 % settled. Queries: on the store the two consumers filled, `wrk` (closed
loop, authenticated) on GET /v1/students/{id}/mastery against 1 replica, then against 2 at
once (one wrk each, the same connections in all). Every process shares this machine's cores,
so a ratio near 1 says the work was CPU-bound on the machine, not that the service does not
scale: see BENCHMARKS.md.
"""

import argparse
import queue
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import report
import school_day_data
import school_day_produce
import wrk
from school_day import CLUSTER, TENANT
from school_day_procs import Processes, day_topics, drop_prefix, masters

sys.path.insert(0, str(report.ROOT))
from tests.kafka_broker import start_broker

from mastery_engine.stores.redis.options import cluster_of

LUA = """
math.randomseed(%(seed)d)
local students = {%(students)s}
function request()
  local student = students[math.random(1, #students)]
  return wrk.format("GET", "/v1/students/" .. student .. "/mastery",
    {["Authorization"] = "Bearer %(token)s"})
end
"""


def parse_args() -> argparse.Namespace:
    """Command-line options; the defaults are the documented run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--wrk-seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=16, help="wrk connections in all")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--store-url", default=CLUSTER)
    return parser.parse_args()


def consume_run(args: argparse.Namespace, tmp: Path, count: int, plan: Any) -> dict[str, Any]:
    """`count` consumers drain the whole day from a fresh topic into a fresh prefix."""
    prefix = f"scaleout-{uuid.uuid4().hex[:8]}:"
    procs = Processes(f"{args.store_url}?prefix={prefix}", tmp, secrets.token_hex(32))
    names = [f"consume-{i}" for i in range(count)]
    broker = start_broker(tmp)
    try:
        topics = day_topics(broker, "scale", args.partitions)
        procs.consume_all(names, broker.bootstrap, topics, args.partitions)
        start = time.monotonic()
        clock = (start, 0.001, plan.sessions[0].start_s)
        school_day_produce.produce_day(
            broker.bootstrap,
            topics[0],
            tmp / "day.tsv",
            tenant=TENANT,
            clock=clock,
            probes=queue.Queue(),
        )
        produced_in = time.monotonic() - start
        timeline = []
        while True:
            procs.check()
            settled, counts = procs.settled(names)
            timeline.append((time.monotonic() - start, settled))
            if settled >= plan.produced:
                break
            time.sleep(0.25)
        seconds = timeline[-1][0]
        low = next(p for p in timeline if p[1] >= 0.1 * plan.produced)
        high = next(p for p in timeline if p[1] >= 0.9 * plan.produced)
        return {
            "consumers": count,
            "messages": plan.produced,
            "produced_in_s": produced_in,
            "seconds": seconds,
            "events_per_s": plan.produced / seconds,
            "middle_events_per_s": (high[1] - low[1]) / (high[0] - low[0]),
            "per_consumer": {n: c for n, c in zip(names, counts, strict=True)},
            "prefix": prefix,
        }
    finally:
        procs.stop()
        broker.stop()


def query_runs(args: argparse.Namespace, tmp: Path, prefix: str, plan: Any) -> list[dict[str, Any]]:
    """wrk on 1 replica, then on 2 at once, over the students that have events."""
    procs = Processes(f"{args.store_url}?prefix={prefix}", tmp, secrets.token_hex(32))
    token = procs.token(TENANT, "teacher")
    with_events = sorted({s.index for s in plan.sessions})
    script = tmp / "mastery.lua"
    quoted = ",".join(f'"s-{i:05d}"' for i in with_events)
    script.write_text(LUA % {"seed": args.seed, "students": quoted, "token": token})
    rows = []
    try:
        urls = [procs.serve(f"serve-{i}") for i in range(2)]
        for replicas in (1, 2):
            per = args.connections // replicas
            command = ["wrk", f"-t{min(2, per)}" if replicas == 1 else "-t1", f"-c{per}"]
            command += [f"-d{args.wrk_seconds}s", "--latency", "-s", str(script)]
            runs = [
                subprocess.Popen([*command, u], stdout=subprocess.PIPE, text=True)
                for u in urls[:replicas]
            ]
            outputs = [wrk.parse(r.communicate()[0]) for r in runs]
            rows.append({
                "replicas": replicas,
                "requests_per_s": sum(o["requests_per_s"] for o in outputs),
                "non_2xx": sum(o["non_2xx"] for o in outputs),
                "p50_ms": max(o.get("p50_ms", float("nan")) for o in outputs),
                "p99_ms": max(o.get("p99_ms", float("nan")) for o in outputs),
                "command": " ".join(command),
            })  # fmt: skip
    finally:
        procs.stop()
    return rows


def main() -> None:
    """Both comparisons; print and save the figures."""
    args = parse_args()
    source = report.source_state()
    plan = school_day_data.make_plan(args.seed, args.students, args.events)
    clients = masters(cluster_of(args.store_url)[1])
    with tempfile.TemporaryDirectory(prefix="mastery-scale-out-") as tmp:
        school_day_produce.write_day(plan, Path(tmp) / "day.tsv", probe_every=10**9)
        consumers, prefixes = [], []
        try:
            for count in (1, 2):
                print(f"{count} consumer(s): draining {plan.produced:,} messages ...", flush=True)
                consumers.append(consume_run(args, Path(tmp), count, plan))
                prefixes.append(consumers[-1]["prefix"])
            print("queries: wrk on 1 replica, then on 2 ...", flush=True)
            queries = query_runs(args, Path(tmp), prefixes[-1], plan)
        finally:
            removed = sum(drop_prefix(clients, p) for p in prefixes)
    ratio_events = consumers[1]["events_per_s"] / consumers[0]["events_per_s"]
    ratio_middle = consumers[1]["middle_events_per_s"] / consumers[0]["middle_events_per_s"]
    ratio_queries = queries[1]["requests_per_s"] / queries[0]["requests_per_s"]
    report.print_table(
        "Consumers (announcements on), Redis Cluster",
        ["consumers", "messages", "seconds", "events/s", "10-90 % events/s"],
        [[c["consumers"], c["messages"], c["seconds"], c["events_per_s"], c["middle_events_per_s"]]
         for c in consumers],
    )  # fmt: skip
    report.print_table(
        "Mastery queries, wrk closed loop",
        ["replicas", "requests/s", "p50 ms", "p99 ms", "non-2xx"],
        [[q["replicas"], q["requests_per_s"], q["p50_ms"], q["p99_ms"], q["non_2xx"]]
         for q in queries],
    )  # fmt: skip
    print(f"\nratios 2/1: events {ratio_events:.2f} (10-90 %: {ratio_middle:.2f})", end="")
    print(f", queries {ratio_queries:.2f}")
    report.write_result(
        "scale_out",
        {"settings": vars(args), "source_at_start": source, "consumers": consumers,
         "queries": queries, "ratios": {"events": ratio_events, "events_middle": ratio_middle,
                                        "queries": ratio_queries}, "keys_removed": removed},
    )  # fmt: skip


if __name__ == "__main__":
    main()
