"""A school day, replayed live: Kafka -> consumers -> Redis Cluster, queried while it fills.

50,000 students x 10 skills, 1,000,000 messages (2 % of them re-deliveries) shaped like a
school day are written to a file, then produced to a topic of 8 partitions on a tansu broker
on the day's clock compressed into `--replay-seconds` (the events keep their own times, on
yesterday's date). Two `mastery-engine consume` processes in one group apply them to a Redis
Cluster with announcements on (mastery.changed and struggle.detected to the out topic),
while an open-loop generator queries mastery, recommendations and class matrices over two
`mastery-engine serve` replicas (authentication on). Reports ingest rate, freshness,
latency per endpoint, peak memory per process, Redis memory per student, announcements, and
a sample of students checked against the formula. Everything shares this machine's cores.
"""

import argparse
import asyncio
import multiprocessing
import os
import secrets
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

import report
import school_day_check
import school_day_data
import school_day_load
import school_day_produce
import school_day_report
from school_day_procs import (
    Processes,
    day_topics,
    drop_prefix,
    machine_cpu_seconds,
    masters,
    server_pids,
    used_memory,
)
from service_process import cpu_seconds, peak_rss_mib

sys.path.insert(0, str(report.ROOT))  # the broker helper shared with the tests
from tests.kafka_broker import start_broker

from mastery_engine.stores.redis.options import cluster_of

TENANT = "school-day"
CLUSTER = "redis-cluster://127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103/"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; the defaults are the documented full run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=50_000)
    parser.add_argument("--events", type=int, default=1_000_000, help="messages, re-deliveries in")
    parser.add_argument("--redelivery", type=float, default=0.02, help="share sent twice")
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--replay-seconds", type=float, default=100.0, help="the day compressed")
    parser.add_argument("--rate", type=float, default=500.0, help="queries/s over all replicas")
    parser.add_argument("--load-seconds", type=float, help="default: --replay-seconds")
    parser.add_argument("--consumers", type=int, default=2)
    parser.add_argument("--replicas", type=int, default=2)
    # 50: 50,000 students make 1,000 classes, the most a tenant may have.
    parser.add_argument("--class-size", type=int, default=50)
    parser.add_argument("--sample", type=int, default=1000, help="students checked at the end")
    parser.add_argument("--probe-every", type=int, default=500, help="1 student in N probed")
    parser.add_argument("--catch-up-timeout", type=float, default=900.0)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--store-url", default=os.environ.get("MASTERY_TEST_REDIS_CLUSTER_URL", CLUSTER)
    )
    parser.add_argument(
        "--result-name", default="school_day", help="bench/results/NAME.json ('': none)"
    )
    return parser.parse_args(argv)


def _produce(args: tuple[Any, ...], options: dict[str, Any], out: Any) -> None:
    out.put(("producer", school_day_produce.produce_day(*args, **options) | _own_peak()))


def _load(spec: school_day_load.LoadSpec, out: Any) -> None:
    out.put(("load", school_day_load.run_load(spec) | _own_peak()))


def _own_peak() -> dict[str, float]:
    pid = os.getpid()
    return {"peak_rss_mib": peak_rss_mib(pid), "cpu_seconds": cpu_seconds(pid)}


def put_classes(url: str, token: str, students: int, size: int) -> int:
    """Classes of `size` students: class c holds the students whose index is c mod classes."""
    classes = -(-students // size)
    with httpx.Client(base_url=url, headers={"authorization": f"Bearer {token}"}) as client:
        for c in range(classes):
            members = [f"s-{i:05d}" for i in range(c, students, classes)]
            client.put(f"/v1/classes/class-{c:04d}", json={"students": members}).raise_for_status()
    return classes


async def watch(
    procs: Processes, names: list[str], plan: school_day_data.Plan, args: argparse.Namespace
) -> dict[str, Any]:  # args.settled: shared with the load process
    """Sample the consumers' counters until every message is settled; the timeline."""
    timeline: list[tuple[float, int, int]] = []
    start = args.clock[0]
    deadline = start + args.replay_seconds + args.catch_up_timeout
    done_at = None
    while time.monotonic() < deadline:
        procs.check()
        settled, counts = procs.settled(names)
        args.settled.value = settled
        timeline.append(
            (time.monotonic() - start, settled, sum(sum(c["lag"].values()) for c in counts))
        )
        # Not `accepted >= distinct`: a batch retried after a store timeout reports the events
        # its first attempt applied as duplicates (the effect is the same, the counts differ).
        if settled >= plan.produced:
            done_at = time.monotonic() - start
            break
        await asyncio.sleep(0.25)
    return {"done_at_s": done_at, "timeline": timeline}


def run_day(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """Set everything up, replay the day under load, check, and tear down."""
    plan = school_day_data.make_plan(args.seed, args.students, args.events, args.redelivery)
    day_file = tmp / "day.tsv"
    written = school_day_produce.write_day(plan, day_file, args.probe_every)
    args.frontier = written.pop("frontier")
    print(f"{plan.produced:,} messages ({plan.distinct:,} distinct), {written['probes']} probes")
    redis_masters = masters(cluster_of(args.store_url)[1])  # no cluster: fail before starting
    memory_before = used_memory(redis_masters)
    prefix = f"schoolday-{uuid.uuid4().hex[:8]}:"
    sep = "&" if "?" in args.store_url else "?"
    procs = Processes(f"{args.store_url}{sep}prefix={prefix}", tmp, secrets.token_hex(32))
    figures: dict[str, Any] = {"plan": {"produced": plan.produced, "distinct": plan.distinct}}
    figures["plan"] |= {"redeliveries": plan.redeliveries, "sessions": len(plan.sessions)} | written
    broker = start_broker(tmp)
    try:
        topics = day_topics(broker, "day", args.partitions)
        tokens = {role: procs.token(TENANT, role) for role in ("admin", "teacher", "service")}
        urls = [procs.serve(f"serve-{i}") for i in range(args.replicas)]
        figures["classes"] = put_classes(urls[0], tokens["admin"], args.students, args.class_size)
        names = [f"consume-{i}" for i in range(args.consumers)]
        procs.consume_all(names, broker.bootstrap, topics, args.partitions)
        pids = {"tansu broker": broker.process.pid, **server_pids(redis_masters)}
        pids["bench (orchestrator)"] = os.getpid()
        cpu_before = procs.cpu() | {k: cpu_seconds(v) for k, v in pids.items()}
        cpu_before["machine"] = machine_cpu_seconds()
        figures |= replay(args, plan, procs, (broker.bootstrap, topics, day_file), (urls, tokens))
        cpu_after = procs.cpu() | {k: cpu_seconds(v) for k, v in pids.items()}
        cpu_after["machine"] = machine_cpu_seconds()
        figures["cpu_seconds"] = {k: cpu_after[k] - cpu_before[k] for k in cpu_after}
        figures["peak_rss_mib"] = procs.peaks() | {k: peak_rss_mib(v) for k, v in pids.items()}
        print("checking a sample of students against the formula ...", flush=True)
        figures["correctness"] = school_day_check.check_sample(
            plan, urls, tokens["teacher"], args.sample, args.seed
        )
        figures["memory"] = {"before": memory_before, "after": used_memory(redis_masters)}
        kinds = school_day_check.count_topic(broker.bootstrap, topics[2], args.partitions)
        figures["announcements"] = dict(kinds)
        figures["consumer_totals"] = {n: procs.counters(n) for n in names}
        figures["consumer_last_lines"] = procs.stop("consume")
    finally:
        procs.stop()
        broker.stop()
        figures["keys_removed"] = drop_prefix(redis_masters, prefix)
        for client in redis_masters:
            client.close()
    return figures


def replay(
    args: argparse.Namespace,
    plan: school_day_data.Plan,
    procs: Processes,
    kafka: tuple[str, tuple[str, str, str], Path],
    serving: tuple[list[str], dict[str, str]],
) -> dict[str, Any]:
    """The day under load: producer and load processes, the prober and the watch here."""
    bootstrap, topics, day_file = kafka
    urls, tokens = serving
    first, _ = plan.span_s()
    args.clock = (time.monotonic() + 5.0, args.replay_seconds, first)
    spawn = multiprocessing.get_context("spawn")
    probes, out = spawn.Queue(), spawn.Queue()
    args.settled = spawn.Value("q", 0)
    produce_args = (bootstrap, topics[0], day_file)
    produce_options = {"tenant": TENANT, "clock": args.clock, "probes": probes}
    spec = school_day_load.LoadSpec(
        replicas=[int(u.rsplit(":", 1)[1]) for u in urls],
        tokens=tokens,
        first_seconds=plan.first_event_s(),
        class_size=args.class_size,
        rate=args.rate,
        duration=args.load_seconds or args.replay_seconds,
        start=args.clock[0],
        frontier=args.frontier,
        settled=args.settled,
        seed=args.seed,
    )
    children = [
        spawn.Process(target=_produce, args=(produce_args, produce_options, out)),
        spawn.Process(target=_load, args=(spec, out)),
    ]
    for child in children:
        child.start()
    print(f"replaying the day in {args.replay_seconds:g} s under {args.rate:g} queries/s ...")
    deadline = args.clock[0] + args.replay_seconds + args.catch_up_timeout

    async def together() -> tuple[dict[str, Any], dict[str, Any]]:
        prober = school_day_load.probe_freshness(urls[0], tokens["teacher"], probes, deadline)
        watched = watch(
            procs, [n for n, *_ in procs.running if n.startswith("consume")], plan, args
        )
        fresh, progress = await asyncio.gather(prober, watched)
        return fresh, progress

    fresh, progress = asyncio.run(together())
    results = dict(out.get(timeout=args.catch_up_timeout) for _ in children)
    for child in children:
        child.join()
    results["load_process"] = {k: results["load"].pop(k) for k in ("peak_rss_mib", "cpu_seconds")}
    return {"freshness": fresh, "ingest": progress, **results}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the day, print and save the figures; the figures."""
    args = parse_args(argv)
    source = report.source_state()
    with tempfile.TemporaryDirectory(prefix="mastery-school-day-") as tmp:
        figures = run_day(args, Path(tmp))
    internal = ("clock", "frontier", "settled")
    settings = {k: v for k, v in vars(args).items() if k not in internal}
    figures = {"settings": settings, "source_at_start": source, **figures}
    figures["summary"] = school_day_report.summarise(figures)
    school_day_report.print_figures(figures)
    if args.result_name:
        report.write_result(args.result_name, figures)
    return figures


if __name__ == "__main__":
    main()
