"""Figures of the benchmarks: percentiles, printed tables and JSON result files."""

import hashlib
import json
import math
import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)


def percentile(ordered: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted sequence (NaN when empty)."""
    if not ordered:
        return float("nan")
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[rank - 1]


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50 .. p99.9, max and mean of durations given in seconds, in milliseconds."""
    ordered = sorted(s * 1000.0 for s in seconds)
    figures = {f"p{p:g}": percentile(ordered, p) for p in PERCENTILES}
    figures["max"] = ordered[-1] if ordered else float("nan")
    figures["mean"] = sum(ordered) / len(ordered) if ordered else float("nan")
    return figures


def cell(value: object) -> str:
    """A table cell: floats with 3 significant decimals, thousands separated."""
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:,.3f}" if abs(value) < 1000 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print a plain-text table with right-aligned figures."""
    text = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in text)) for i, h in enumerate(headers)]
    print(f"\n{title}")
    print(
        "  ".join(
            h.ljust(w) if i == 0 else h.rjust(w)
            for i, (h, w) in enumerate(zip(headers, widths, strict=True))
        )
    )
    print("  ".join("-" * w for w in widths))
    for row in text:
        print(
            "  ".join(
                v.ljust(w) if i == 0 else v.rjust(w)
                for i, (v, w) in enumerate(zip(row, widths, strict=True))
            )
        )


def machine() -> dict[str, Any]:
    """What the figures were measured on, and which source they measured."""
    return {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "source": source_state(),
    }


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    models = (line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
    return next(models, "")


def _git(*arguments: str) -> str:
    try:
        done = subprocess.run(
            ["git", *arguments], capture_output=True, text=True, check=False, cwd=ROOT
        )
    except OSError:
        return ""
    return done.stdout


def source_state() -> str:
    """The commit measured, plus a digest of uncommitted changes under src/ if there are any."""
    commit = _git("rev-parse", "--short", "HEAD").strip() or "unknown"
    changes = _git("diff", "HEAD", "--", "src")
    if not changes:
        return commit
    return f"{commit} + uncommitted src changes {hashlib.sha256(changes.encode()).hexdigest()[:8]}"


def write_result(name: str, figures: dict[str, Any]) -> Path:
    """Write `bench/results/{name}.json` with the machine and the time, and return its path."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    document = {
        "benchmark": name,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        **figures,
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    start = figures.get("source_at_start", document["machine"]["source"])
    if start != document["machine"]["source"]:
        print(f"\nWARNING: the source changed during the run (it started on {start})")
    print(f"\nsource measured: {document['machine']['source']}")
    print(f"results written to {path}")
    return path
