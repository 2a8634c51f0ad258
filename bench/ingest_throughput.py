"""End-to-end HTTP ingestion throughput of the real service, per channel and per store.

For each store (`--store`: a fresh SQLite file, Redis key prefix or PostgreSQL schema, removed
afterwards) and each channel (`--channel`, see channels.py), starts `mastery-engine serve` and
sends the synthetic data set from this process: the batched channels (events, xapi, caliper) as
`--batches` requests of `--batch-size` events over `--connections` concurrent keep-alive
connections, dapr as `--dapr-events` requests of one CloudEvent over `--dapr-connections`.
Bodies are encoded before the clock starts. Every event must be accepted, as counted from the
answers (dapr: every answer SUCCESS, accepted events from the server's event counter);
otherwise the benchmark stops and says why.
"""

import argparse
import asyncio
import itertools
import json
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

import dataset
import report
from channels import CHANNELS, Channel
from http_load import Load, post_all, post_request
from service_process import ServiceProcess
from store_scopes import POSTGRES, REDIS, STORES, Servers, fresh_store, require

TARGET_EVENTS_PER_S = 5000.0
MAX_BODY_BYTES = 1_048_576  # the service's default MASTERY_MAX_BODY_BYTES
FULL = {"batches": 50, "dapr_events": 10_000}
QUICK = {"batches": 10, "dapr_events": 2_000}
COUNTER = re.compile(r'^mastery_events_total\{channel="dapr",outcome="(\w+)"\} (\S+)$', re.M)
HOST = "127.0.0.1"
Work = list[tuple[int, bytes]]


@dataclass(frozen=True, slots=True)
class Run:
    """One run's timed load, its outcome counts and the first events not accepted."""

    load: Load
    counts: dict[str, int]
    problems: list[str]


def parse_args() -> argparse.Namespace:
    """Command-line options; the defaults are the documented benchmark (every channel and store)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channel", nargs="+", choices=list(CHANNELS), default=list(CHANNELS))
    parser.add_argument("--store", nargs="+", choices=STORES, default=list(STORES))
    parser.add_argument("--quick", action="store_true", help="fewer requests: a smoke check")
    parser.add_argument("--batches", type=int, help="requests per batched channel (50; quick 10)")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--connections", type=int, nargs="+", default=[4])
    parser.add_argument("--dapr-events", type=int, help="CloudEvents posted (10,000; quick 2,000)")
    parser.add_argument("--dapr-connections", type=int, default=16)
    parser.add_argument("--students", type=int, default=5000, help="students in the stream")
    parser.add_argument("--days", type=int, default=30, help="days the stream spans")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--redis-url", default=REDIS, help="server of the redis store")
    parser.add_argument("--postgresql-url", default=POSTGRES, help="server of postgresql")
    args = parser.parse_args()
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def bodies(channel: Channel, args: argparse.Namespace) -> Work:
    """The request bodies (event count, bytes) of a channel, built before anything is timed."""
    size, total = (
        (args.batch_size, args.batches * args.batch_size)
        if channel.batched
        else (1, args.dapr_events)
    )
    stream = dataset.stream(args.students, args.days, args.seed)
    carried = itertools.islice((e for e in stream if e["type"] in channel.types), total)
    built = [(len(b), channel.encode(b)) for b in dataset.batches(carried, size)]
    if sum(count for count, _ in built) < total:
        raise SystemExit("the stream is too short; raise --students or --days")
    largest = max(len(body) for _, body in built)
    if largest > MAX_BODY_BYTES:
        raise SystemExit(
            f"{channel.name}: a body of {largest:,} bytes is over 1 MiB; lower --batch-size"
        )
    return built


def warm_up(url: str, channel: Channel) -> None:
    """One event of a separate student through the channel, so first-request costs are not timed."""
    event = {
        "id": "warm-up-1",
        "type": "activity",
        "student_id": "warm-up",
        "occurred_at": dataset.stamp(dataset.midnight_days_ago(1)),
        "data": {"kind": "warm_up"},
    }
    headers = {"content-type": channel.content_type}
    answer = httpx.post(f"{url}{channel.path}", content=channel.encode([event]), headers=headers)
    outcome = answer.raise_for_status().json().get("accepted" if channel.batched else "status")
    if outcome not in (1, "SUCCESS"):
        raise SystemExit(f"{channel.name}: the warm-up event was not accepted: {answer.text[:500]}")


def dapr_counts(url: str) -> dict[str, int]:
    """The server's count of Dapr deliveries by outcome (accepted, duplicate, rejected)."""
    exposition = httpx.get(f"{url}/metrics", timeout=30).raise_for_status().text
    return {outcome: int(float(value)) for outcome, value in COUNTER.findall(exposition)}


def batch_tally(answers: list[dict[str, Any]]) -> tuple[dict[str, int], list[str]]:
    """Outcome counts summed over batch answers, and the first events not accepted."""
    counts = {k: sum(a[k] for a in answers) for k in ("accepted", "duplicates", "rejected")}
    results = (r for a in answers for r in a["results"] if r["status"] != "accepted")
    problems = [
        f"{r['id']}: {r['status']} {r.get('error', '')}" for r in itertools.islice(results, 5)
    ]
    return counts, problems


def dapr_tally(
    answers: list[dict[str, Any]], before: dict[str, int], after: dict[str, int]
) -> tuple[dict[str, int], list[str]]:
    """Outcome counts of Dapr deliveries and the first answers other than SUCCESS.

    SUCCESS stands for an applied or a duplicate event; the server's counter tells them apart.
    """
    failed = [a for a in answers if a.get("status") != "SUCCESS"]
    problems = [f"{a.get('status')}: {a.get('reason', '')}" for a in failed[:5]]
    counts = {
        "accepted": after.get("accepted", 0) - before.get("accepted", 0),
        "duplicates": after.get("duplicate", 0) - before.get("duplicate", 0),
        "rejected": len(failed),
    }
    if counts["duplicates"]:
        problems.append(f"the server counted {counts['duplicates']:,} SUCCESS as duplicates")
    return counts, problems


def timed_post(service: ServiceProcess, requests: list[bytes], connections: int) -> Load:
    """Send the requests; the load, with the server's and this process's CPU use meanwhile."""
    server_cpu, client_cpu = service.cpu_seconds(), time.process_time()
    load = asyncio.run(post_all(HOST, service.port, requests, connections))
    load.cpu_pct = {
        "server_cpu_pct": 100 * (service.cpu_seconds() - server_cpu) / load.elapsed,
        "client_cpu_pct": 100 * (time.process_time() - client_cpu) / load.elapsed,
    }
    return load


def run_once(service: ServiceProcess, channel: Channel, work: Work, connections: int) -> Run:
    """Post the work to a warmed-up service; the timed load, outcome counts and problems."""
    warm_up(service.url, channel)
    requests = [
        post_request(HOST, service.port, channel.path, channel.content_type, body)
        for _, body in work
    ]
    before = dapr_counts(service.url) if not channel.batched else {}
    load = timed_post(service, requests, connections)
    answers = [json.loads(answer) for answer in load.answers]
    if channel.batched:
        counts, problems = batch_tally(answers)
    else:
        counts, problems = dapr_tally(answers, before, dapr_counts(service.url))
    return Run(load, counts, problems)


def measure(
    store: str, channel: Channel, work: Work, connections: int, servers: Servers
) -> dict[str, Any]:
    """One run on a fresh service and store."""
    with (
        tempfile.TemporaryDirectory(prefix="mastery-bench-") as tmp,
        fresh_store(store, Path(tmp), servers) as store_url,
        ServiceProcess(Path(tmp), store_url=store_url) as service,
    ):
        run = run_once(service, channel, work, connections)
        service.check_alive()
        figures = {"channel": channel.name, "store": store, **summarise(work, run, connections)}
        figures["server_peak_rss_mb"] = service.peak_rss_mb()
        files = list(Path(tmp).glob("*.db*"))
        figures["db_mb"] = sum(p.stat().st_size for p in files) / 2**20 if files else None
    require_all_accepted(figures, run.problems)
    return figures


def summarise(work: Work, run: Run, connections: int) -> dict[str, Any]:
    """Counts, throughput and request latency percentiles of one run."""
    sent, counts = sum(size for size, _ in work), run.counts
    return {
        "connections": connections,
        "requests": len(work),
        "batch_size": work[0][0],
        "sent": sent,
        **counts,
        "all_accepted": counts["accepted"] == sent,
        "seconds": run.load.elapsed,
        "events_per_s": counts["accepted"] / run.load.elapsed,
        "body_mb": sum(len(body) for _, body in work) / 2**20,
        "batch_latency_ms": report.summary_ms(run.load.latencies),
        **run.load.cpu_pct,
    }


def require_all_accepted(figures: dict[str, Any], problems: list[str]) -> None:
    """Stop the benchmark, saying why, when a run did not accept every event it sent."""
    if figures["all_accepted"]:
        return
    raise SystemExit(
        f"{figures['channel']} on {figures['store']}: {figures['accepted']:,} of"
        f" {figures['sent']:,} events accepted ({figures['duplicates']:,} duplicates,"
        f" {figures['rejected']:,} rejected); first problems:\n  " + "\n  ".join(problems)
    )


def print_runs(runs: list[dict[str, Any]]) -> None:
    """One row per channel, store and connection count."""
    headers = ["channel", "store", "conns", "sent", "accepted", "seconds", "events/s"]
    headers += ["p50 ms", "p99 ms", "server CPU%", "client CPU%", "peak RSS MiB"]
    keys = ("channel", "store", "connections", "sent", "accepted", "seconds", "events_per_s")
    rows = [
        [
            *(r[k] for k in keys),
            r["batch_latency_ms"]["p50"],
            r["batch_latency_ms"]["p99"],
            r["server_cpu_pct"],
            r["client_cpu_pct"],
            r["server_peak_rss_mb"],
        ]
        for r in runs
    ]
    title = "Ingestion over HTTP, end to end (accepted events counted from the answers;"
    report.print_table(f"{title} latency per request)", headers, rows)


def meets_target(run: dict[str, Any]) -> bool:
    """Every event accepted, and on the events channel at >= 5,000 events/s."""
    fast = run["channel"] != "events" or run["events_per_s"] >= TARGET_EVENTS_PER_S
    return bool(run["all_accepted"]) and fast


def verdict(runs: list[dict[str, Any]]) -> str:
    """MET when every run of the events channel accepted every event at >= 5,000 events/s."""
    judged = [r for r in runs if r["channel"] == "events"]
    if not judged:
        return "not measured"
    met = all(meets_target(r) for r in judged)
    status = "MET" if met else "MISSED"
    target = f"target >= {TARGET_EVENTS_PER_S:,.0f} events/s on the events channel"
    print(f"\n{target}, every event accepted: {status}")
    return status


def plan(args: argparse.Namespace) -> list[tuple[str, Channel, int]]:
    """(store, channel, connections) of every run, in order."""
    return [
        (store, channel, connections)
        for store in args.store
        for channel in (CHANNELS[name] for name in args.channel)
        for connections in (args.connections if channel.batched else [args.dapr_connections])
    ]


def main() -> None:
    """Build each channel's bodies, run every combination, print and save the figures."""
    args = parse_args()
    servers = Servers(redis=args.redis_url, postgres=args.postgresql_url)
    require(args.store, servers)
    source = report.source_state()
    work = {name: bodies(CHANNELS[name], args) for name in args.channel}
    runs = []
    for store, channel, connections in plan(args):
        print(f"{channel.name} on {store}, {connections} connections ...", flush=True)
        runs.append(measure(store, channel, work[channel.name], connections, servers))
    print_runs(runs)
    status = verdict(runs)
    carried = {name: sorted(CHANNELS[name].types) for name in args.channel}
    report.write_result(
        "ingest_throughput",
        {
            "settings": {k: v for k, v in vars(args).items() if not k.endswith("_url")},
            "source_at_start": source,
            "event_types": carried,
            "runs": runs,
            "verdict": status,
        },
    )


if __name__ == "__main__":
    main()
