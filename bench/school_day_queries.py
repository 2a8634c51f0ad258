"""The school day's query mix with nothing being ingested: together, then each endpoint alone.

Fills a fresh prefix of the Redis Cluster with a school day (two consumers, announcements on),
stops the consumers, then drives `school_day_load`'s open-loop mix over two `serve` replicas
(authentication on) for `--seconds`: the whole mix at `--rate`, then each endpoint alone at its
share of that rate. Reports latency per endpoint and the replicas' CPU use: how much of the
school day's query latency comes from the mix itself rather than from the ingestion beside it.
"""

import argparse
import multiprocessing
import queue
import secrets
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import report
import school_day_data
import school_day_load
import school_day_produce
from school_day import CLUSTER, TENANT, put_classes
from school_day_procs import Processes, day_topics, drop_prefix, machine_cpu_seconds, masters
from service_process import cpu_seconds

sys.path.insert(0, str(report.ROOT))
from tests.kafka_broker import start_broker

from mastery_engine.stores.redis.options import cluster_of

CPU_COLUMNS = ("serve-0 %", "serve-1 %", "machine %")


def parse_args() -> argparse.Namespace:
    """Command-line options; the defaults are the documented run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=5000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--class-size", type=int, default=50)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--store-url", default=CLUSTER)
    return parser.parse_args()


def fill(procs: Processes, tmp: Path, plan: school_day_data.Plan) -> list[int]:
    """Produce the day, let two consumers settle all of it, stop them; the day's frontier."""
    frontier: list[int] = school_day_produce.write_day(plan, tmp / "day.tsv", 10**9)["frontier"]
    broker = start_broker(tmp)
    try:
        topics = day_topics(broker, "queries", 8)
        names = ["consume-0", "consume-1"]
        procs.consume_all(names, broker.bootstrap, topics, 8)
        clock = (time.monotonic(), 0.001, plan.sessions[0].start_s)
        school_day_produce.produce_day(
            broker.bootstrap,
            topics[0],
            tmp / "day.tsv",
            tenant=TENANT,
            clock=clock,
            probes=queue.Queue(),
        )
        while procs.settled(names)[0] < plan.produced:
            time.sleep(0.5)
        procs.stop("consume")
    finally:
        broker.stop()
    return frontier


def measure(spec: school_day_load.LoadSpec, procs: Processes) -> dict[str, Any]:
    """One open-loop run; its figures per endpoint, the replicas' and the machine's CPU in %."""
    before = {n: cpu_seconds(p.pid) for n, p, _ in procs.running}
    before["machine"] = machine_cpu_seconds()
    found = school_day_load.run_load(spec)
    after = {n: cpu_seconds(p.pid) for n, p, _ in procs.running}
    after["machine"] = machine_cpu_seconds()
    cpu = {n: 100 * (after[n] - before[n]) / spec.duration for n in after}
    return {"endpoints": found, "replica_cpu_pct": cpu}


def main() -> None:
    """Fill, then the mix and each endpoint alone; print and save."""
    args = parse_args()
    source = report.source_state()
    plan = school_day_data.make_plan(args.seed, args.students, args.events)
    prefix = f"queries-{uuid.uuid4().hex[:8]}:"
    runs: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="mastery-day-queries-") as tmp:
        procs = Processes(f"{args.store_url}?prefix={prefix}", Path(tmp), secrets.token_hex(32))
        try:
            tokens = {role: procs.token(TENANT, role) for role in ("admin", "teacher", "service")}
            urls = [procs.serve(f"serve-{i}") for i in range(2)]
            put_classes(urls[0], tokens["admin"], args.students, args.class_size)
            frontier = fill(procs, Path(tmp), plan)
            everything = dict(school_day_load.MIX)
            cases = {"the mix": everything} | {f"{k} alone": {k: v} for k, v in everything.items()}
            for label, mix in cases.items():
                print(f"{label} ...", flush=True)
                school_day_load.MIX.clear()
                school_day_load.MIX.update(mix)  # each endpoint keeps its share of --rate
                spec = school_day_load.LoadSpec(
                    [int(u.rsplit(":", 1)[1]) for u in urls], tokens, plan.first_event_s(),
                    args.class_size, args.rate, args.seconds, time.monotonic() + 1.0, frontier,
                    multiprocessing.Value("q", plan.produced), args.seed,
                )  # fmt: skip
                runs[label] = measure(spec, procs)
        finally:
            procs.stop()
            drop_prefix(masters(cluster_of(args.store_url)[1]), prefix)
    rows = [
        [label, name, q["achieved_rate"], *(q["latency_ms"][k] for k in ("p50", "p95", "p99")),
         q["statuses"], *run["replica_cpu_pct"].values()]
        for label, run in runs.items() for name, q in run["endpoints"].items()
    ]  # fmt: skip
    report.print_table(
        f"Query mix, nothing ingested ({args.students:,} students; ms from the scheduled time)",
        ["run", "endpoint", "req/s", "p50", "p95", "p99", "statuses", *CPU_COLUMNS],
        rows,
    )
    report.write_result(
        "school_day_queries", {"settings": vars(args), "source_at_start": source, "runs": runs}
    )


if __name__ == "__main__":
    main()
