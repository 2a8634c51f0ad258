"""Class matrix latency over HTTP, and tenant-wide skill analytics at the seed's scale.

Loads 50,000 students x 30 days x 10 skills straight through the `Store` port (as
`seed_scale.py` does; skipped with --skip-load), then:

1. in process, one full computation of the tenant's analytics: every student read and
   evaluated at the 12 weekly points a stored summary holds (what a summary refresh costs);
2. `mastery-engine serve` on that store:
   a. `GET /v1/analytics/skills` until it answers (the server computes the first summary and
      answers 503 with Retry-After meanwhile), then requests served from that summary;
   b. 100 classes of 40 random students; `GET /v1/classes/{id}/mastery` for random classes,
      open loop at a fixed rate;
   c. (b) and the analytics requests again while the server recomputes its summary, made
      stale by a short `MASTERY_ANALYTICS_MAX_AGE_SECONDS`: what a refresh costs the others.
"""

import argparse
import asyncio
import os
import random
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

import dataset
import report
import seed_scale
from mastery_engine.core.curriculum import DEFAULT_CURRICULUM
from mastery_engine.core.formula import FormulaConfig
from mastery_engine.service.analytics import ANALYTICS, MAX_WEEKS, Job, compute
from mastery_engine.service.mastery import MasteryService
from mastery_engine.stores import open_store
from openloop import OpenLoop
from query_latency import run_figures
from service_process import ServiceProcess

TENANT = seed_scale.TENANT


def parse_args() -> argparse.Namespace:
    """Command-line options; the defaults are the documented benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store-url", required=True, help="sqlite:///…, redis://…, postgresql://…")
    parser.add_argument("--students", type=int, default=50_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--loaders", type=int, default=2, help="loader processes")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-load", action="store_true", help="the store is already loaded")
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--class-size", type=int, default=40)
    parser.add_argument("--rate", type=float, default=10.0, help="class matrix requests/s")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per open-loop run")
    parser.add_argument("--analytics-requests", type=int, default=200)
    parser.add_argument("--max-age", type=float, default=60.0, help="the server's summary max age")
    parser.add_argument("--name", default="class_analytics", help="bench/results/NAME_*.json")
    return parser.parse_args()


async def full_computation(url: str) -> dict[str, Any]:
    """One computation of the tenant's analytics through the Store port, timed."""
    store = await open_store(url)
    try:
        service = MasteryService(store, DEFAULT_CURRICULUM, FormulaConfig())
        before = resource.getrusage(resource.RUSAGE_SELF)
        job = Job()
        started = time.perf_counter()
        summary = await compute(service, TENANT, service.clock(), MAX_WEEKS, job)
        seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
        # The served part starts with no summary (an earlier run may have left one).
        await store.put_document(TENANT, ANALYTICS, {})
    finally:
        await store.close()
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {
        "students": summary["students"],
        "skills": len(summary["skills"]),
        "trend_points": MAX_WEEKS,
        "seconds": seconds,
        "students_per_s": summary["students"] / seconds,
        "cpu_seconds": cpu,
        "peak_rss_mb": after.ru_maxrss / 1024,
    }


def first_summary(client: httpx.Client) -> dict[str, Any]:
    """Ask until the server has its first summary; how long that took and how it answered."""
    started, refusals = time.perf_counter(), 0
    while True:
        answer = client.get("/v1/analytics/skills")
        if answer.status_code == 200:
            body = answer.json()
            return {
                "seconds_to_first_answer": time.perf_counter() - started,
                "refused_with_503": refusals,
                "server_computed_in_s": body["computed_in_seconds"],
                "students": body["students"],
            }
        if answer.status_code != 503:
            raise SystemExit(f"analytics: {answer.status_code} {answer.text[:300]}")
        refusals += 1
        time.sleep(min(5, int(answer.headers.get("Retry-After", "1"))))


def analytics_latency(client: httpx.Client, count: int) -> dict[str, Any]:
    """Sequential requests served from the summary."""
    seconds, ages = [], []
    for _ in range(count):
        started = time.perf_counter()
        answer = client.get("/v1/analytics/skills")
        seconds.append(time.perf_counter() - started)
        if answer.status_code != 200:
            raise SystemExit(f"analytics: {answer.status_code} {answer.text[:300]}")
        ages.append(answer.json()["age_seconds"])
    return {
        "requests": count,
        "latency_ms": report.summary_ms(seconds),
        "max_age_seen_s": max(ages),
    }


def make_classes(client: httpx.Client, args: argparse.Namespace) -> list[str]:
    """`classes` classes of `class_size` distinct random students of the data set."""
    rng = random.Random(args.seed)
    ids = []
    for number in range(args.classes):
        members = rng.sample(range(args.students), args.class_size)
        body = {"students": [dataset.student_id(i) for i in members]}
        answer = client.put(f"/v1/classes/c{number:03d}", json=body)
        if answer.status_code != 200:
            raise SystemExit(f"PUT class: {answer.status_code} {answer.text[:300]}")
        ids.append(f"c{number:03d}")
    matrix = client.get(f"/v1/classes/{ids[0]}/mastery").json()
    print(f"matrix: {len(matrix['students'])} students x {len(matrix['skills'])} skills")
    return ids


def class_requests(port: int, ids: list[str], seed: int) -> Callable[[], bytes]:
    """GETs of the matrix of random classes."""
    rng = random.Random(seed)
    head = f" HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: application/json\r\n\r\n"

    def make() -> bytes:
        return f"GET /v1/classes/{rng.choice(ids)}/mastery{head}".encode()

    return make


async def drive_classes(
    service: ServiceProcess, ids: list[str], args: argparse.Namespace
) -> dict[str, Any]:
    """The class matrix, open loop at `rate` for `duration`."""
    loop = OpenLoop("127.0.0.1", service.port, 16)
    await loop.open()
    try:
        make = class_requests(service.port, ids, args.seed)
        run = await loop.drive(args.rate, args.duration, make, drain=60.0)
    finally:
        loop.close()
    return run_figures(run, settle=2.0)


def during_refresh(
    service: ServiceProcess, client: httpx.Client, ids: list[str], args: argparse.Namespace
) -> dict[str, Any]:
    """The class matrix and the analytics while the server recomputes its stale summary."""
    stale_at = client.get("/v1/analytics/skills").json()["age_seconds"]
    time.sleep(max(0.0, args.max_age - stale_at) + 1)
    cpu = service.cpu_seconds()
    triggered = client.get("/v1/analytics/skills").json()  # served stale, starts the refresh
    classes = asyncio.run(drive_classes(service, ids, args))
    served = analytics_latency(client, 20)
    while client.get("/v1/analytics/skills").json()["age_seconds"] > args.max_age:
        time.sleep(1)
    return {
        "stale_age_served_s": triggered["age_seconds"],
        "class_matrix": classes,
        "analytics": served,
        "server_cpu_s": service.cpu_seconds() - cpu,
    }


def serve(args: argparse.Namespace) -> dict[str, Any]:
    """Everything measured against `mastery-engine serve` on the loaded store."""
    os.environ["MASTERY_ANALYTICS_MAX_AGE_SECONDS"] = str(args.max_age)
    with (
        tempfile.TemporaryDirectory() as workdir,
        ServiceProcess(Path(workdir), store_url=args.store_url) as service,
        httpx.Client(base_url=service.url, timeout=60) as client,
    ):
        print("first summary, computed by the server ...", flush=True)
        first = first_summary(client)
        fresh = analytics_latency(client, args.analytics_requests)
        ids = make_classes(client, args)
        print(f"class matrix, open loop at {args.rate:g}/s ...", flush=True)
        classes = asyncio.run(drive_classes(service, ids, args))
        print("again while the summary is being recomputed ...", flush=True)
        refreshing = during_refresh(service, client, ids, args)
        return {
            "first_summary": first,
            "analytics_from_summary": fresh,
            "class_matrix": classes,
            "during_refresh": refreshing,
            "server_peak_rss_mb": service.peak_rss_mb(),
        }


def main() -> None:
    """Load, compute once in process, then measure the served endpoints."""
    args = parse_args()
    source = report.source_state()
    backend = args.store_url.split("://", 1)[0]
    if not args.skip_load:
        print(f"loading {args.students:,} students x {args.days} days ...", flush=True)
        print(seed_scale.load(args), flush=True)
    print("one full computation, in process ...", flush=True)
    computed = asyncio.run(full_computation(args.store_url))
    report.print_table("Full computation", list(computed), [list(computed.values())])
    served = serve(args)
    first, fresh = served["first_summary"], served["analytics_from_summary"]["latency_ms"]
    report.print_table(
        "Analytics over HTTP",
        ["first answer s", "503s", "from summary p50 ms", "p95 ms", "p99 ms"],
        [[first["seconds_to_first_answer"], first["refused_with_503"], *_p(fresh)]],
    )
    rows = [["idle", *_p(served["class_matrix"]["latency_ms"])]]
    rows.append(["refreshing", *_p(served["during_refresh"]["class_matrix"]["latency_ms"])])
    report.print_table("Class matrix (40 students)", ["server", "p50", "p95", "p99"], rows)
    print(f"server peak RSS {served['server_peak_rss_mb']:.0f} MiB")
    settings = vars(args) | {"store_url": args.store_url.split("?")[0]}
    report.write_result(
        f"{args.name}_{backend}",
        {"settings": settings, "source_at_start": source, "computed": computed, **served},
    )


def _p(figures: dict[str, float]) -> list[float]:
    return [figures["p50"], figures["p95"], figures["p99"]]


if __name__ == "__main__":
    main()
