"""`make bench`: run the benchmark suite, print a summary of the targets, write BENCHMARKS.md.

The suite: pure formula rates; query latency at fixed rates and the maximum throughput;
our query against a trivial FastAPI endpoint; HTTP ingestion per channel and store; Kafka
ingestion per store; a school day replayed live through Kafka into a Redis Cluster. Each
script writes `bench/results/<name>.json`; the generated section of BENCHMARKS.md is
rendered from those files. `--quick` is a smoke run of smaller sizes
that prints its figures but leaves BENCHMARKS.md alone.
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import benchmarks_md
import ingest_throughput
import query_latency
import report

HERE = Path(__file__).resolve().parent
BENCHMARKS = report.ROOT / "BENCHMARKS.md"
# Script, its arguments for the documented run, and for a quick one.
SUITE: dict[str, tuple[list[str], list[str]]] = {
    "formula_eval": (["--repeat", "5"], ["--repeat", "3"]),
    "query_latency": (
        ["--rate", "250", "500", "1000", "--duration", "20", "--wrk-seconds", "15"],
        ["--students", "200", "--rate", "500", "--duration", "5", "--wrk-seconds", "5"],
    ),
    "ceiling": (["--seconds", "15"], ["--seconds", "5"]),
    "ingest_throughput": ([], ["--quick"]),
    "kafka_throughput": ([], ["--students", "200", "--backend", "sqlite"]),
    # Needs the Redis Cluster on 127.0.0.1:7101-7103 (scripts/test-services.sh up).
    "school_day": (
        [],
        [
            *("--students", "500", "--events", "10000", "--replay-seconds", "10"),
            *("--rate", "100", "--sample", "200", "--probe-every", "10"),
        ],
    ),
}


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller, shorter runs")
    parser.add_argument("--only", nargs="+", choices=list(SUITE), help="run these benchmarks only")
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="run nothing; rewrite BENCHMARKS.md from the result files already there",
    )
    return parser.parse_args()


def run(name: str, arguments: list[str]) -> float:
    """Run one benchmark script with this interpreter; its wall time in seconds."""
    command = [sys.executable, str(HERE / f"{name}.py"), *arguments]
    print(f"\n=== {' '.join(command[1:])}", flush=True)
    started = time.perf_counter()
    subprocess.run(command, check=True, cwd=report.ROOT)
    return time.perf_counter() - started


def _met(met: bool) -> str:
    return "MET" if met else "MISSED"


def _query_rows(query: dict[str, Any]) -> list[list[object]]:
    rows: list[list[object]] = []
    for r in query["open_loop"]:
        name = (
            f"{r['endpoint']} at {r['target_rate']:g}/s: p95 < {query_latency.TARGET_P95_MS:g} ms"
        )
        figure = f"p95 {r['latency_ms']['p95']:.2f} ms, p99 {r['latency_ms']['p99']:.2f} ms"
        rows.append([name, figure, _met(query_latency.meets_target(r))])
    return rows


def _ceiling_rows(ceiling: dict[str, Any]) -> list[list[object]]:
    ratio = benchmarks_md.ceiling_ratio(ceiling)
    target = benchmarks_md.CEILING_TARGET
    return [[f"query / trivial endpoint >= {target}", f"{ratio:.3f}", _met(ratio >= target)]]


def _ingest_rows(ingest: dict[str, Any]) -> list[list[object]]:
    rows: list[list[object]] = []
    for r in ingest["runs"]:
        name = f"ingest {r['channel']} -> {r['store']}, every event accepted"
        if r["channel"] == "events":
            name += f" (>= {ingest_throughput.TARGET_EVENTS_PER_S:,.0f}/s)"
        figure = f"{r['events_per_s']:,.0f} events/s"
        rows.append([name, figure, _met(ingest_throughput.meets_target(r))])
    return rows


def _kafka_rows(kafka: dict[str, Any]) -> list[list[object]]:
    rows: list[list[object]] = []
    for r in kafka["backends"]:
        name = f"kafka -> {r['backend']}" + ("" if r["announce"] else " (no announcements)")
        rows.append([name, f"{r['events_per_s']:,.0f} events/s", r["status"]])
    return rows


def _school_day_rows(day: dict[str, Any]) -> list[list[object]]:
    return [
        [f"school day: {name}", "-", _met(ok)] for name, ok in day["summary"]["targets"].items()
    ]


ROWS = {
    "query_latency": _query_rows,
    "ceiling": _ceiling_rows,
    "ingest_throughput": _ingest_rows,
    "kafka_throughput": _kafka_rows,
    "school_day": _school_day_rows,
}


def summary(results: benchmarks_md.Results) -> list[list[object]]:
    """One row per target: what was measured and whether it is met ("-": no target)."""
    return [row for name, rows in ROWS.items() if name in results for row in rows(results[name])]


def main() -> None:
    """Run the suite (or part of it), print the targets, write BENCHMARKS.md."""
    args = parse_args()
    names = args.only or list(SUITE)
    started = time.perf_counter()
    if not args.render_only:
        for name in names:
            run(name, SUITE[name][1 if args.quick else 0])
    results = benchmarks_md.load(list(SUITE))
    report.print_table("Summary", ["target / measurement", "measured", "status"], summary(results))
    if args.quick:
        print("\n--quick: BENCHMARKS.md left as it is")
        return
    everything = names == list(SUITE) and not args.render_only
    command = "make bench" if everything else "python bench/run_all.py " + " ".join(sys.argv[1:])
    minutes = None if args.render_only else (time.perf_counter() - started) / 60
    benchmarks_md.update(BENCHMARKS, benchmarks_md.render(results, command, minutes))
    print(f"\n{BENCHMARKS} written")


if __name__ == "__main__":
    main()
