"""Mastery query latency of the real service at a fixed request rate, and its max throughput.

Starts `mastery-engine serve` on a fresh SQLite file, loads a deterministic data set through
POST /v1/events, then drives GET /v1/students/{id}/mastery and
GET /v1/students/{id}/skills/{skill}/mastery for random students with an open-loop generator
in this process (latency from each request's scheduled time), and finally with `wrk`.
"""

import argparse
import asyncio
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx

import dataset
import report
import wrk
from openloop import OpenLoop, Run
from service_process import ServiceProcess

ENDPOINTS = {
    "mastery (all skills)": "/v1/students/{student}/mastery",
    "one skill, explained": "/v1/students/{student}/skills/{skill}/mastery",
}
# Closed loop only: the cost of the HTTP stack alone, to compare the endpoints with.
BASELINE = {"healthz (HTTP floor)": "/healthz"}
TARGET_P95_MS = 10.0
TARGET_RATE = 500.0
WARMUP_REQUESTS = 200


def parse_args() -> argparse.Namespace:
    """Command-line options; the defaults are the documented benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--days", type=int, default=60, help="days of history before today")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rate", type=float, nargs="+", default=[TARGET_RATE], help="req/s")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per rate")
    parser.add_argument("--connections", type=int, default=32, help="open-loop connections")
    parser.add_argument("--drain", type=float, default=60.0, help="max wait for late answers")
    parser.add_argument("--wrk-seconds", type=int, default=15)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--wrk-connections", type=int, default=16)
    parser.add_argument("--no-wrk", action="store_true", help="skip the wrk runs")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument(
        "--store-options", default="", help="SQLite URL options, e.g. cache_students=0"
    )
    parser.add_argument(
        "--settle", type=float, default=5.0, help="seconds left out of the steady-state figures"
    )
    parser.add_argument("--store-url", help="serve from this store instead of a fresh SQLite file")
    parser.add_argument(
        "--preloaded", action="store_true", help="the store already holds this data set"
    )
    parser.add_argument("--result-name", default="query_latency", help="bench/results/NAME.json")
    return parser.parse_args()


async def post_batches(url: str, bodies: Iterator[tuple[int, bytes]], senders: int) -> list[Any]:
    """POST every body with `senders` concurrent connections; the decoded answers."""
    answers: list[Any] = []
    headers = {"content-type": "application/json"}

    async def sender(client: httpx.AsyncClient) -> None:
        for size, body in bodies:
            answer = await client.post("/v1/events", content=body, headers=headers)
            answer.raise_for_status()
            answers.append((size, answer.json()))

    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        await asyncio.gather(*(sender(client) for _ in range(senders)))
    return answers


def load(url: str, args: argparse.Namespace) -> dict[str, Any]:
    """Load the data set in batches of 1,000 and check that every event was accepted."""
    events = dataset.stream(args.students, args.days, args.seed)
    bodies = ((len(b), dataset.encode(b)) for b in dataset.batches(events))
    started = time.perf_counter()
    answers = asyncio.run(post_batches(url, bodies, senders=2))
    elapsed = time.perf_counter() - started
    sent = sum(size for size, _ in answers)
    accepted = sum(a["accepted"] for _, a in answers)
    if accepted != sent:
        raise SystemExit(f"data load: {accepted} of {sent} events accepted")
    return {
        "events": sent,
        "batches": len(answers),
        "seconds": elapsed,
        "events_per_s": sent / elapsed,
    }


def request_maker(
    host: str, template: str, args: argparse.Namespace, seed: int
) -> Callable[[], bytes]:
    """A function returning the bytes of a GET for a random student (and skill)."""
    rng = random.Random(seed)
    head = f" HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\n\r\n"

    def make() -> bytes:
        student = dataset.student_id(rng.randrange(args.students))
        path = template.format(student=student, skill=rng.choice(dataset.SKILLS))
        return f"GET {path}{head}".encode()

    return make


def check_and_warm(url: str, template: str, args: argparse.Namespace) -> None:
    """Fail fast on a wrong answer, and warm the server (caches, code paths) before timing."""
    make = request_maker("", template, args, seed=1)
    with httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(WARMUP_REQUESTS):
            path = make().decode().split()[1]
            answer = client.get(path)
            if answer.status_code != 200:
                raise SystemExit(f"GET {path}: {answer.status_code} {answer.text[:300]}")


async def drive(
    service: ServiceProcess, template: str, rate: float, args: argparse.Namespace
) -> Run:
    """One open-loop run against one endpoint at one rate."""
    loop = OpenLoop("127.0.0.1", service.port, args.connections)
    await loop.open()
    try:
        make = request_maker(f"127.0.0.1:{service.port}", template, args, seed=int(rate))
        return await loop.drive(rate, args.duration, make, args.drain)
    finally:
        loop.close()


def measured(service: ServiceProcess, work: Callable[[], Any]) -> tuple[Any, dict[str, float]]:
    """Run `work` and report the server's and this process's CPU use during it, in %."""
    server_cpu, client_cpu, wall = service.cpu_seconds(), time.process_time(), time.perf_counter()
    result = work()
    wall = time.perf_counter() - wall
    server = 100 * (service.cpu_seconds() - server_cpu) / wall
    client = 100 * (time.process_time() - client_cpu) / wall
    return result, {"server_cpu_pct": server, "client_cpu_pct": client}


def run_figures(run: Run, settle: float) -> dict[str, Any]:
    """The figures of one open-loop run, and of its requests due after `settle` seconds."""
    late = sorted(run.latencies + run.unfinished)
    settled = [lat for due, lat in zip(run.dues, run.latencies, strict=True) if due >= settle]
    return {
        "target_rate": run.rate,
        "duration_s": run.duration,
        "scheduled": run.scheduled,
        "completed": run.completed,
        "achieved_rate": run.achieved_rate,
        "errors": run.errors,
        "unfinished": len(run.unfinished),
        "status_counts": {str(k): v for k, v in sorted(run.statuses.items())},
        "latency_ms": report.summary_ms(late),
        "settle_s": settle,
        "steady_latency_ms": report.summary_ms(settled + run.unfinished),
        "service_time_ms": report.summary_ms(run.service_times),
        "timer_lag_ms": report.summary_ms(run.timer_lags),
    }


def open_loop(service: ServiceProcess, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every endpoint at every requested rate."""
    rows = []
    for name, template in ENDPOINTS.items():
        check_and_warm(service.url, template, args)
        for rate in args.rate:
            print(f"open loop: {name} at {rate:g} req/s for {args.duration:g} s ...", flush=True)
            work = partial(asyncio.run, drive(service, template, rate, args))
            run, cpu = measured(service, work)
            rows.append(
                {"endpoint": name, "path": template, **run_figures(run, args.settle), **cpu}
            )
    return rows


def closed_loop(
    service: ServiceProcess, workdir: Path, args: argparse.Namespace
) -> list[dict[str, Any]]:
    """Max throughput of every endpoint with wrk (closed loop: a new request on each answer)."""
    rows = []
    for i, (name, template) in enumerate((ENDPOINTS | BASELINE).items()):
        script = workdir / f"endpoint{i}.lua"
        wrk.lua_script(script, template, args.students, dataset.SKILLS, args.seed)
        print(f"wrk: {name} for {args.wrk_seconds} s ...", flush=True)
        options = (args.wrk_threads, args.wrk_connections, args.wrk_seconds)
        figures, cpu = measured(service, partial(wrk.run, service.url, script, *options))
        rows.append({"endpoint": name, "path": template, **figures, **cpu})
    return rows


def print_open_loop(rows: list[dict[str, Any]]) -> None:
    """Two tables: latency from the scheduled time, then where the time and CPU went."""
    keys = ("p50", "p95", "p99", "p99.9", "max")
    headers = ["endpoint", "target/s", "achieved/s", "sent", "errors"]
    report.print_table(
        "Open loop: latency from each request's scheduled send time (ms)",
        headers + list(keys),
        [
            [r["endpoint"], r["target_rate"], r["achieved_rate"], r["scheduled"], r["errors"]]
            + [r["latency_ms"][k] for k in keys]
            for r in rows
        ],
    )
    report.print_table(
        f"Open loop, steady state: requests due after the first {rows[0]['settle_s']:g} s (ms)",
        ["endpoint", "target/s", *keys],
        [
            [r["endpoint"], r["target_rate"], *(r["steady_latency_ms"][k] for k in keys)]
            for r in rows
        ],
    )
    report.print_table(
        "Open loop: time from actual send (ms), generator timer lag (ms), CPU use (% of a core)",
        [
            "endpoint",
            "target/s",
            *("send p50", "send p95", "send p99", "lag p50", "lag p99"),
            *("server CPU", "client CPU"),
        ],
        [
            [r["endpoint"], r["target_rate"]]
            + [r["service_time_ms"][k] for k in ("p50", "p95", "p99")]
            + [r["timer_lag_ms"][k] for k in ("p50", "p99")]
            + [r["server_cpu_pct"], r["client_cpu_pct"]]
            for r in rows
        ],
    )


def print_closed_loop(rows: list[dict[str, Any]]) -> None:
    """The wrk table."""
    keys = ("p50_ms", "p90_ms", "p99_ms", "max_ms")
    report.print_table(
        "Closed loop with wrk: maximum throughput",
        [
            *("endpoint", "req/s", "requests", "p50 ms", "p90 ms", "p99 ms", "max ms"),
            *("non-2xx", "socket errors", "server CPU"),
        ],
        [
            [r["endpoint"], r["requests_per_s"], r["requests"]]
            + [r.get(k, float("nan")) for k in keys]
            + [r["non_2xx"], r["socket_errors"], r["server_cpu_pct"]]
            for r in rows
        ],
    )


def meets_target(row: dict[str, Any]) -> bool:
    """An open-loop run kept p95 under the target, its rate, and had no errors."""
    fast = row["latency_ms"]["p95"] < TARGET_P95_MS
    return bool(fast and row["errors"] == 0 and row["achieved_rate"] >= 0.99 * row["target_rate"])


def verdicts(rows: list[dict[str, Any]]) -> dict[str, str]:
    """Per endpoint: did every run at >= 500 req/s keep p95 < 10 ms, the rate, and no errors."""
    found = {}
    for name in ENDPOINTS:
        runs = [r for r in rows if r["endpoint"] == name and r["target_rate"] >= TARGET_RATE]
        met = all(meets_target(r) for r in runs)
        found[name] = "not measured" if not runs else ("MET" if met else "MISSED")
        target = f"p95 < {TARGET_P95_MS:g} ms at {TARGET_RATE:g} req/s"
        print(f"target {target}, {name}: {found[name]}")
    return found


def prepare(service: ServiceProcess, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Load the data set through the API unless the store already holds it."""
    print(f"store: {service.store_url.split('?')[0]}", flush=True)
    if args.preloaded:
        return {"events": "preloaded", "students": args.students, "days": args.days}
    print(
        f"loading {args.students} students x {args.days} days through POST /v1/events ...",
        flush=True,
    )
    data = load(service.url, args) | {"students": args.students, "days": args.days}
    data["db_mb"] = sum(p.stat().st_size for p in tmp.glob("bench.db*")) / 2**20
    return data


def main() -> None:
    """Start the service, load the data, measure, print and save the figures."""
    args = parse_args()
    source = report.source_state()
    with (
        tempfile.TemporaryDirectory(prefix="mastery-bench-") as tmp,
        ServiceProcess(
            Path(tmp),
            workers=args.workers,
            store_options=args.store_options,
            store_url=args.store_url,
        ) as service,
    ):
        data = prepare(service, Path(tmp), args)
        report.print_table("Data set", list(data), [list(data.values())])
        rows = open_loop(service, args)
        print_open_loop(rows)
        wrk_rows = (
            [] if args.no_wrk or not wrk.available() else closed_loop(service, Path(tmp), args)
        )
        if wrk_rows:
            print_closed_loop(wrk_rows)
        service.check_alive()
        peak = service.peak_rss_mb()
        print(f"\nserver peak RSS: {peak:.1f} MiB ({args.workers} worker process(es), largest)")
        figures: dict[str, Any] = {"settings": vars(args), "source_at_start": source}
        figures["data"] = data
        figures |= {"open_loop": rows, "wrk": wrk_rows}
        report.write_result(
            args.result_name, figures | {"server_peak_rss_mb": peak, "verdict": verdicts(rows)}
        )


if __name__ == "__main__":
    main()
