"""Run every benchmark (formula, ingestion, query latency) and print a summary of the targets."""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import report

HERE = Path(__file__).resolve().parent
QUICK = {
    "formula_eval.py": ["--repeat", "3"],
    "ingest_throughput.py": ["--batches", "20"],
    "query_latency.py": ["--students", "200", "--duration", "10", "--wrk-seconds", "5"],
}


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller, shorter runs (~1 min)")
    return parser.parse_args()


def run(script: str, quick: bool) -> float:
    """Run one benchmark script with this interpreter; its wall time in seconds."""
    command = [sys.executable, str(HERE / script), *(QUICK[script] if quick else [])]
    print(f"\n=== {' '.join(command[1:])}", flush=True)
    started = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - started


def result(name: str) -> dict[str, Any]:
    """The JSON a benchmark just wrote."""
    loaded: dict[str, Any] = json.loads((report.RESULTS / f"{name}.json").read_text())
    return loaded


def formula_rows(formula: dict[str, Any]) -> list[list[object]]:
    """Rows of the formula targets."""
    rows: list[list[object]] = []
    for name, case in formula["cases"].items():
        if name not in formula["verdict"]:
            continue
        figure = f"{case['best_per_s']:,.0f} calls/s = {case['skill_evals_per_s']:,.0f} skills/s"
        rows.append([f"formula >= 200,000/s: {name}", figure, formula["verdict"][name]])
    return rows


def ingest_rows(ingest: dict[str, Any]) -> list[list[object]]:
    """Rows of the ingestion target."""
    rows: list[list[object]] = []
    for run in ingest["runs"]:
        accepted = f"{run['accepted']:,}/{run['sent']:,} accepted"
        figure = f"{run['events_per_s']:,.0f} events/s, {accepted}"
        name = f"ingest >= 5,000 events/s ({run['connections']} connections)"
        rows.append([name, figure, ingest["verdict"]])
    return rows


def query_rows(query: dict[str, Any]) -> list[list[object]]:
    """Rows of the query latency target and of the wrk throughput."""
    rows: list[list[object]] = []
    for row in query["open_loop"]:
        steady = f"{row['steady_latency_ms']['p95']:,.2f} ms after {row['settle_s']:g} s"
        figure = f"p95 {row['latency_ms']['p95']:,.2f} ms ({steady}), {row['achieved_rate']:,.1f}/s"
        status = query["verdict"][row["endpoint"]] if row["target_rate"] >= 500 else "-"
        rows.append([f"{row['endpoint']} at {row['target_rate']:g} req/s", figure, status])
    for row in query["wrk"]:
        rows.append([f"wrk: {row['endpoint']}", f"{row['requests_per_s']:,.1f} req/s", "-"])
    return rows


def main() -> None:
    """Run the three benchmarks in turn, then print the targets table."""
    args = parse_args()
    seconds = {script: run(script, args.quick) for script in QUICK}
    rows = formula_rows(result("formula_eval")) + ingest_rows(result("ingest_throughput"))
    rows += query_rows(result("query_latency"))
    report.print_table("Summary", ["target / measurement", "measured", "status"], rows)
    print("\nwall time: " + ", ".join(f"{s} {t:.0f} s" for s, t in seconds.items()))


if __name__ == "__main__":
    main()
