"""The seed's scale on a shared store: 50,000 students x 10 skills x 30 days, then queries.

Loads the data set straight through the `Store` port from several loader processes (the
service's own validation and batch apply, without HTTP), reports the load rate and the
stored size per student, then serves the store with `mastery-engine serve` and measures
mastery query latency open loop with `query_latency.py --preloaded`.
"""

import argparse
import asyncio
import multiprocessing
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import dataset
import report
from mastery_engine.core.events import parse_event
from mastery_engine.stores import open_store

HERE = Path(__file__).resolve().parent
TENANT = "default"  # the tenant the served API uses without a header


def parse_args() -> argparse.Namespace:
    """Command-line options; the defaults are the seed's scale."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store-url", required=True, help="redis://... or postgresql://...")
    parser.add_argument("--students", type=int, default=50_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--loaders", type=int, default=2, help="loader processes")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of queries")
    parser.add_argument("--skip-load", action="store_true", help="the store is already loaded")
    parser.add_argument("--name", default="seed_scale", help="bench/results/NAME*.json")
    return parser.parse_args()


def student_events(seed: int, index: int, days: int) -> list[dict[str, Any]]:
    """One student's events: each active day studies one of the 10 skills, any of them."""
    events = []
    for days_ago in range(days, 0, -1):
        turn = random.Random(f"{seed}:{index}:{days_ago}:skill").randrange(10)
        # With progress 0 the day's skill is the first of the list: rotate it into place.
        skills = dataset.TEN_SKILLS[turn:] + dataset.TEN_SKILLS[:turn]
        events += dataset.student_day(seed, index, days_ago, 0.0, skills)
    return events


def load_part(url: str, args: argparse.Namespace, part: int) -> tuple[int, float]:
    """In a loader process: the students with index = part (mod loaders); (events, seconds)."""

    async def run() -> tuple[int, float]:
        store = await open_store(url)
        now = time.time_ns() // 1000
        pending: list[Any] = []
        total, started = 0, time.perf_counter()
        try:
            for index in range(part, args.students, args.loaders):
                pending += (
                    parse_event(e, now) for e in student_events(args.seed, index, args.days)
                )
                while len(pending) >= args.batch:
                    batch, pending[:] = pending[: args.batch], pending[args.batch :]
                    total += sum(await store.apply(TENANT, batch, now))
            if pending:
                total += sum(await store.apply(TENANT, pending, now))
        finally:
            await store.close()
        return total, time.perf_counter() - started

    return asyncio.run(run())


def load(args: argparse.Namespace) -> dict[str, Any]:
    """Load every student with `loaders` processes."""
    started = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    with context.Pool(args.loaders) as pool:
        parts = pool.starmap(load_part, [(args.store_url, args, k) for k in range(args.loaders)])
    seconds = time.perf_counter() - started
    events = sum(n for n, _ in parts)
    return {"events": events, "seconds": seconds, "events_per_s": events / seconds}


def stored_bytes(url: str) -> tuple[int, str]:
    """Bytes the data set takes in the store, and how that was measured."""
    base, _, options = url.partition("?")
    query = dict(o.split("=", 1) for o in options.split("&") if "=" in o)
    if base.startswith("redis"):
        import redis

        with redis.Redis.from_url(base) as client:
            prefix = query.get("prefix", "")
            keys = list(client.scan_iter(match=f"{prefix}*", count=10_000))
            pipe = client.pipeline(transaction=False)
            for key in keys:
                pipe.memory_usage(key, samples=0)
            sizes = pipe.execute()
        return sum(s or 0 for s in sizes), f"MEMORY USAGE of all {len(keys):,} keys"
    import psycopg

    schema = query.get("schema", "public")
    with psycopg.connect(base) as db:
        row = db.execute(
            "SELECT sum(pg_total_relation_size(format('%%I.%%I', schemaname, tablename)))"
            " FROM pg_tables WHERE schemaname = %s",
            (schema,),
        ).fetchone()
    return int(row[0] if row and row[0] else 0), "pg_total_relation_size of the tables + indexes"


def main() -> None:
    """Load, measure the size, then run the query benchmark against the loaded store."""
    args = parse_args()
    source = report.source_state()
    print(f"{args.students:,} students x {args.days} days, 10 skills ...", flush=True)
    loaded = {"events": "preloaded"} if args.skip_load else load(args)
    size, how = stored_bytes(args.store_url)
    figures = loaded | {
        "stored_mb": size / 2**20,
        "bytes_per_student": size / args.students,
        "size_measured_by": how,
    }
    report.print_table("Data set", list(figures), [list(figures.values())])
    backend = args.store_url.split("://", 1)[0]
    report.write_result(
        f"{args.name}_{backend}",
        {"settings": vars(args) | {"store_url": args.store_url.split("?")[0]}}
        | {"source_at_start": source, "load": figures},
    )
    query = [sys.executable, str(HERE / "query_latency.py"), "--store-url", args.store_url]
    query += ["--preloaded", "--students", str(args.students), "--days", str(args.days)]
    query += ["--duration", str(args.duration), "--no-wrk"]
    query += ["--result-name", f"{args.name}_{backend}_queries"]
    subprocess.run(query, check=True)


if __name__ == "__main__":
    main()
