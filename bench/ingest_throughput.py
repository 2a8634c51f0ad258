"""End-to-end ingestion throughput of the real service: batches of events over POST /v1/events.

Starts `mastery-engine serve` on a fresh SQLite file and posts `--batches` batches of
`--batch-size` valid events (distinct ids, many students) from this process over
`--connections` concurrent keep-alive connections. Bodies are encoded before the clock starts.
"""

import argparse
import asyncio
import itertools
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

import dataset
import report
from service_process import ServiceProcess

TARGET_EVENTS_PER_S = 5000.0
HEADERS = {"content-type": "application/json"}
INGEST_COLUMNS = {
    "connections": "connections",
    "batches": "batches",
    "sent": "sent",
    "accepted": "accepted",
    "duplicates": "dup",
    "rejected": "rejected",
    "seconds": "seconds",
    "events_per_s": "events/s",
}


def parse_args() -> argparse.Namespace:
    """Command-line options; the defaults are the documented benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--connections", type=int, nargs="+", default=[4])
    parser.add_argument("--students", type=int, default=5000, help="students in the stream")
    parser.add_argument("--days", type=int, default=30, help="days the stream spans")
    parser.add_argument("--seed", type=int, default=11)
    return parser.parse_args()


def bodies(args: argparse.Namespace) -> list[tuple[int, bytes]]:
    """The request bodies (event count, JSON bytes), built before anything is timed."""
    events = itertools.islice(
        dataset.stream(args.students, args.days, args.seed), args.batches * args.batch_size
    )
    built = [(len(b), dataset.encode(b)) for b in dataset.batches(events, args.batch_size)]
    if sum(size for size, _ in built) < args.batches * args.batch_size:
        raise SystemExit("the stream is too short; raise --students or --days")
    return built


async def post_all(url: str, work: list[tuple[int, bytes]], connections: int) -> dict[str, Any]:
    """POST every body over `connections` concurrent connections; answers and timings."""
    queue = list(reversed(work))
    answers: list[dict[str, Any]] = []
    latencies: list[float] = []

    async def sender(client: httpx.AsyncClient) -> None:
        while queue:
            _, body = queue.pop()
            sent = time.perf_counter()
            answer = await client.post("/v1/events", content=body, headers=HEADERS)
            latencies.append(time.perf_counter() - sent)
            answer.raise_for_status()
            answers.append(answer.json())

    limits = httpx.Limits(max_connections=connections)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        await client.get("/healthz")
        started = time.perf_counter()
        await asyncio.gather(*(sender(client) for _ in range(connections)))
        elapsed = time.perf_counter() - started
    return {"answers": answers, "latencies": latencies, "elapsed": elapsed}


def warm_up(url: str) -> None:
    """One small batch of a separate student, so first-request costs are not timed."""
    event = {
        "id": "warm-up-1",
        "type": "activity",
        "student_id": "warm-up",
        "occurred_at": dataset.stamp(dataset.midnight_days_ago(1)),
        "data": {"kind": "warm_up"},
    }
    httpx.post(f"{url}/v1/events", json=[event], timeout=30).raise_for_status()


def measure(work: list[tuple[int, bytes]], connections: int) -> dict[str, Any]:
    """One run on a fresh service and database."""
    with (
        tempfile.TemporaryDirectory(prefix="mastery-bench-") as tmp,
        ServiceProcess(Path(tmp)) as service,
    ):
        warm_up(service.url)
        server_cpu, client_cpu = service.cpu_seconds(), time.process_time()
        run = asyncio.run(post_all(service.url, work, connections))
        server_cpu = service.cpu_seconds() - server_cpu
        client_cpu = time.process_time() - client_cpu
        service.check_alive()
        figures = summarise(work, run, connections)
        figures["server_cpu_pct"] = 100 * server_cpu / run["elapsed"]
        figures["client_cpu_pct"] = 100 * client_cpu / run["elapsed"]
        figures["db_mb"] = sum(p.stat().st_size for p in Path(tmp).glob("bench.db*")) / 2**20
        figures["server_peak_rss_mb"] = service.peak_rss_mb()
    return figures


def summarise(
    work: list[tuple[int, bytes]], run: dict[str, Any], connections: int
) -> dict[str, Any]:
    """Counts from the responses, throughput and batch latency percentiles."""
    sent = sum(size for size, _ in work)
    counts = {k: sum(a[k] for a in run["answers"]) for k in ("accepted", "duplicates", "rejected")}
    return {
        "connections": connections,
        "batches": len(work),
        "sent": sent,
        **counts,
        "all_accepted": counts["accepted"] == sent,
        "seconds": run["elapsed"],
        "events_per_s": counts["accepted"] / run["elapsed"],
        "body_mb": sum(len(body) for _, body in work) / 2**20,
        "batch_latency_ms": report.summary_ms(run["latencies"]),
    }


def print_runs(runs: list[dict[str, Any]]) -> None:
    """The throughput and the batch latency tables."""
    report.print_table(
        "Ingestion, end to end (accepted events counted from the responses)",
        [*INGEST_COLUMNS.values(), "server CPU%", "client CPU%"],
        [[*(r[k] for k in INGEST_COLUMNS), r["server_cpu_pct"], r["client_cpu_pct"]] for r in runs],
    )
    keys = ("p50", "p90", "p95", "p99", "max", "mean")
    report.print_table(
        "Per-batch latency (ms, from send to response)",
        ["connections", *keys],
        [[r["connections"], *(r["batch_latency_ms"][k] for k in keys)] for r in runs],
    )


def verdict(runs: list[dict[str, Any]]) -> str:
    """MET when every run accepted every event at >= 5,000 events/s."""
    met = all(r["all_accepted"] and r["events_per_s"] >= TARGET_EVENTS_PER_S for r in runs)
    status = "MET" if met else "MISSED"
    print(f"\ntarget >= {TARGET_EVENTS_PER_S:,.0f} events/s with every event accepted: {status}")
    return status


def main() -> None:
    """Build the batches, run once per connection count, print and save the figures."""
    args = parse_args()
    source = report.source_state()
    work = bodies(args)
    print(f"{len(work)} batches of {args.batch_size} events ready", flush=True)
    runs = [measure(work, connections) for connections in args.connections]
    print_runs(runs)
    status = verdict(runs)
    report.write_result(
        "ingest_throughput",
        {"settings": vars(args), "source_at_start": source, "runs": runs, "verdict": status},
    )


if __name__ == "__main__":
    main()
