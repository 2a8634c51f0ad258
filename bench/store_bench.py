"""Store throughput and point-read latency, per backend, through the `Store` port directly.

For each store URL: apply the synthetic data set in batches (events/s, every event checked
as applied), then read random students (latency of `Store.read` with the per-process snapshot
cache off, i.e. a full fetch from the backend, and with it on, i.e. a version check).
Each URL gets its own key prefix / schema / file, removed afterwards.
"""

import argparse
import asyncio
import random
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dataset
import report
import store_scopes
from mastery_engine.core.events import Event, parse_event
from mastery_engine.stores import Store, open_store

REDIS = store_scopes.REDIS
POSTGRES = store_scopes.POSTGRES
TARGETS = {"redis": 30_000.0, "postgresql": 10_000.0, "sqlite": 10_000.0}
NOW = time.time_ns() // 1000


def parse_args() -> argparse.Namespace:
    """Command-line options; the defaults are the documented benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", nargs="+", default=["sqlite", "redis", "postgresql"])
    parser.add_argument("--students", type=int, default=2000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--batch", type=int, default=500, help="events per apply")
    parser.add_argument("--writers", type=int, default=1, help="concurrent apply calls")
    parser.add_argument("--reads", type=int, default=5000, help="point reads per cache mode")
    parser.add_argument("--seed", type=int, default=5)
    return parser.parse_args()


def url_for(backend: str, tmp: Path, cache: int) -> tuple[str, str]:
    """(URL, scope): a fresh store of the backend; the scope names what to clean up."""
    scope = f"bench_{uuid.uuid4().hex[:10]}"
    if backend == "sqlite":
        return f"sqlite:///{tmp}/{scope}.db?cache_students={cache}", scope
    if backend == "redis":
        return f"{REDIS}?prefix={scope}:&cache_students={cache}", scope
    return f"{POSTGRES}?schema={scope}&cache_students={cache}", scope


def with_cache(url: str, cache: int) -> str:
    """The same store URL with another snapshot cache size."""
    head, _, options = url.partition("?")
    kept = [o for o in options.split("&") if o and not o.startswith("cache_students=")]
    return f"{head}?{'&'.join([*kept, f'cache_students={cache}'])}"


def cleanup(backend: str, scope: str) -> None:
    """Remove what the benchmark stored."""
    store_scopes.drop(backend, scope)


def events_of(args: argparse.Namespace) -> list[list[Event]]:
    """The data set, validated once, in batches."""
    stream = dataset.stream(args.students, args.days, args.seed)
    return [[parse_event(e, NOW) for e in batch] for batch in dataset.batches(stream, args.batch)]


async def apply_all(store: Store, batches: Sequence[Sequence[Event]], writers: int) -> float:
    """Apply every batch with `writers` concurrent callers; the seconds it took."""
    queue = list(reversed(batches))

    async def writer() -> None:
        while queue:
            batch = queue.pop()
            applied = await store.apply("bench", batch, NOW)
            if not all(applied):
                raise SystemExit(f"{applied.count(False)} events of a fresh batch not applied")

    started = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(writers)))
    return time.perf_counter() - started


async def read_latencies(store: Store, students: int, reads: int, seed: int) -> list[float]:
    """Durations of `reads` point reads of random students at now."""
    rng = random.Random(seed)
    durations = []
    for _ in range(reads):
        student = dataset.student_id(rng.randrange(students))
        started = time.perf_counter()
        found = await store.read("bench", student, NOW)
        durations.append(time.perf_counter() - started)
        if found is None:
            raise SystemExit(f"student {student} not found")
    return durations


async def measure(backend: str, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """Throughput and read latencies of one backend."""
    batches = events_of(args)
    events = sum(len(b) for b in batches)
    url, scope = url_for(backend, tmp, cache=0)
    try:
        store = await open_store(url)
        try:
            seconds = await apply_all(store, batches, args.writers)
            cold = await read_latencies(store, args.students, args.reads, args.seed)
        finally:
            await store.close()
        cached_store = await open_store(with_cache(url, args.students))
        try:
            for index in range(args.students):  # every snapshot in the cache first
                await cached_store.read("bench", dataset.student_id(index), NOW)
            warm = await read_latencies(cached_store, args.students, args.reads, args.seed + 1)
        finally:
            await cached_store.close()
    finally:
        cleanup(backend, scope)
    return {
        "backend": backend,
        "events": events,
        "batches": len(batches),
        "apply_seconds": seconds,
        "events_per_s": events / seconds,
        "read_full_ms": report.summary_ms(cold),
        "read_cached_ms": report.summary_ms(warm),
    }


def print_rows(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    """The figures as tables."""
    report.print_table(
        f"Batch apply ({args.batch} events per batch, {args.writers} concurrent writer(s))",
        ["backend", "events", "seconds", "events/s", "target", "status"],
        [
            [r["backend"], r["events"], r["apply_seconds"], r["events_per_s"],
             TARGETS[r["backend"]], r["status"]]
            for r in rows
        ],
    )  # fmt: skip
    keys = ["p50", "p95", "p99", "p99.9", "max"]
    for mode, title in (("read_full_ms", "full fetch"), ("read_cached_ms", "cached snapshot")):
        report.print_table(
            f"Point read, {title} (ms, {args.reads} random students of {args.students})",
            ["backend", *keys],
            [[r["backend"], *(r[mode][k] for k in keys)] for r in rows],
        )


def main() -> None:
    """Measure each backend, print and save the figures."""
    args = parse_args()
    source = report.source_state()
    rows = []
    with tempfile.TemporaryDirectory(prefix="mastery-store-bench-") as tmp:
        for backend in args.backend:
            print(f"{backend}: {args.students} students x {args.days} days ...", flush=True)
            row = asyncio.run(measure(backend, args, Path(tmp)))
            row["status"] = "MET" if row["events_per_s"] >= TARGETS[backend] else "MISSED"
            rows.append(row)
    print_rows(rows, args)
    report.write_result(
        "store_bench", {"settings": vars(args), "source_at_start": source, "backends": rows}
    )


if __name__ == "__main__":
    main()
