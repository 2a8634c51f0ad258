"""The generated section of BENCHMARKS.md, rendered from the JSON files of one `make bench` run.

Everything between the two markers is replaced on each run; the rest of the file (the
detailed write-ups of single benchmarks) is left as it is.
"""

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import report
import school_day_report

BEGIN = "<!-- make bench: generated section, do not edit by hand -->"
END = "<!-- make bench: end of generated section -->"
RSS_TARGET_MIB = 150.0
CEILING_TARGET = 0.5
Results = dict[str, dict[str, Any]]


def _num(value: float, decimals: int = 0) -> str:
    return f"{value:,.{decimals}f}"


def _ms(value: float) -> str:
    return f"{value:,.2f}"


def _p50_p99(figures: dict[str, Any]) -> tuple[str, str]:
    return _ms(figures["p50_ms"]), _ms(figures["p99_ms"])


def _ceiling_row(name: str, f: dict[str, Any], top: float) -> list[str]:
    ratio = f"{f['requests_per_s'] / top:.3f}"
    return [name, _num(f["requests_per_s"]), ratio, *_p50_p99(f), _num(f["peak_rss_mib"])]


def _ingest_row(r: dict[str, Any]) -> list[str]:
    counts = (_num(r[k]) for k in ("sent", "accepted", "events_per_s"))
    latency = (_ms(r["batch_latency_ms"][k]) for k in ("p50", "p99"))
    return [r["channel"], r["store"], *counts, *latency, _num(r["server_peak_rss_mb"])]


def _kafka_row(r: dict[str, Any]) -> list[str]:
    announce = "yes" if r["announce"] else "no"
    rate, ratio = _num(r["events_per_s"]), f"{r['ratio']:.3f}"
    return [f"consume → {r['backend']}", announce, rate, ratio, r["status"]]


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """A Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
    return lines + ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]


def _status(met: bool) -> str:
    return "**met**" if met else "**missed**"


def query_section(query: dict[str, Any]) -> list[str]:
    """Open-loop latency at each fixed rate, then wrk's closed-loop maximum."""
    data = query["data"]
    lines = [
        "### Query latency at fixed rates (`bench/query_latency.py`)",
        "",
        f"{data['students']:,} students x {data['days']} days loaded through `POST /v1/events`"
        " into a fresh SQLite file; random students; open loop (latency counts from each"
        " request's scheduled send time).",
        "",
    ]
    rows = [
        [r["endpoint"], _num(r["target_rate"]), _num(r["achieved_rate"], 1), r["errors"]]
        + [_ms(r["latency_ms"][k]) for k in ("p50", "p95", "p99", "max")]
        + [f"{r['server_cpu_pct']:.0f} %"]
        for r in query["open_loop"]
    ]
    headers = ["endpoint", "target req/s", "achieved", "errors", "p50 ms", "p95 ms", "p99 ms"]
    lines += table([*headers, "max ms", "server CPU"], rows)
    if query["wrk"]:
        settings = query["settings"]
        lines += [
            "",
            f"Maximum throughput, closed loop (`wrk -t{settings['wrk_threads']}"
            f" -c{settings['wrk_connections']} -d{settings['wrk_seconds']}s`, one server"
            " process):",
            "",
        ]
        wrk_rows = [
            [r["endpoint"], _num(r["requests_per_s"]), *_p50_p99(r), r["non_2xx"]]
            for r in query["wrk"]
        ]
        lines += table(["endpoint", "requests/s", "p50 ms", "p99 ms", "non-2xx"], wrk_rows)
    return lines


def ceiling_ratio(ceiling: dict[str, Any]) -> float:
    """Our query's requests/s as a share of the trivial endpoint's."""
    return float(ceiling["query"]["requests_per_s"] / ceiling["ceiling"]["requests_per_s"])


def ceiling_section(ceiling: dict[str, Any]) -> list[str]:
    """Our query against a trivial FastAPI endpoint, measured in the same run."""
    top = ceiling["ceiling"]["requests_per_s"]
    named = (
        ("trivial FastAPI `/ping` (the ceiling)", ceiling["ceiling"]),
        ("`GET /v1/students/{id}/mastery`", ceiling["query"]),
        ("our `/healthz`", ceiling["healthz"]),
    )
    rows = [_ceiling_row(name, f, top) for name, f in named]
    ratio = ceiling_ratio(ceiling)
    return [
        "### Against a trivial FastAPI endpoint (`bench/ceiling.py`)",
        "",
        f"Closed loop, `wrk -t2 -c16 -d{ceiling['seconds']}s`, one uvicorn process each, same"
        " stack (uvloop, httptools); the service on SQLite with the demo class, auth off.",
        "",
        *table(["endpoint", "requests/s", "ratio", "p50 ms", "p99 ms", "peak RSS MiB"], rows),
        "",
        f"Query throughput / ceiling = **{ratio:.3f}** (target ≥ {CEILING_TARGET}:"
        f" {_status(ratio >= CEILING_TARGET)}).",
    ]


def ingest_section(ingest: dict[str, Any]) -> list[str]:
    """Events/s over every HTTP channel into every store."""
    rows = [_ingest_row(r) for r in ingest["runs"]]
    headers = ["channel", "store", "sent", "accepted", "events/s", "request p50 ms"]
    return [
        "### Ingestion per channel and store, over HTTP (`bench/ingest_throughput.py`)",
        "",
        "A fresh service and store per row; every event is counted as accepted from the"
        " answers. Requests: `events` and `xapi`/`caliper` carry batches, `dapr` one"
        " CloudEvent each (as a Dapr sidecar delivers them).",
        "",
        *table([*headers, "request p99 ms", "peak RSS MiB"], rows),
    ]


def kafka_section(kafka: dict[str, Any]) -> list[str]:
    """Kafka topic to store, with and without announcing changes."""
    raw = kafka["raw"]["events_per_s"]
    rows = [["raw consume (no processing)", "-", _num(raw), "1.000", "-"]]
    rows += [_kafka_row(r) for r in kafka["backends"]]
    settings = kafka["settings"]
    return [
        "### Ingestion from Kafka, per store (`bench/kafka_throughput.py`)",
        "",
        f"One consumer; {settings['students']:,} students x {settings['days']} days of events"
        f" on {settings['partitions']} partitions of a tansu broker, batches of"
        f" {settings['batch']}; `announce` = `mastery.changed` and `struggle.detected` sent.",
        "",
        *table(["path", "announce", "events/s", "ratio to raw", "target ≥ 20k/s"], rows),
    ]


def rss_section(results: Results) -> list[str]:
    """The largest server RSS each server-driving benchmark saw."""
    found: list[tuple[str, float]] = []
    if "query_latency" in results:
        found.append(
            ("query load (open loop + wrk)", results["query_latency"]["server_peak_rss_mb"])
        )
    if "ceiling" in results:
        found.append(("wrk on the demo class", results["ceiling"]["query"]["peak_rss_mib"]))
    for r in results.get("ingest_throughput", {}).get("runs", []):
        found.append((f"ingest, {r['channel']} → {r['store']}", r["server_peak_rss_mb"]))
    if not found:
        return []
    worst = max(peak for _, peak in found)
    rows = [[name, _num(peak)] for name, peak in found]
    return [
        "### Server memory under load",
        "",
        "Peak resident set (VmHWM) of the one server process, per run above.",
        "",
        *table(["run", "peak RSS MiB"], rows),
        "",
        f"Largest: **{worst:.0f} MiB** (target < {RSS_TARGET_MIB:.0f} MiB:"
        f" {_status(worst < RSS_TARGET_MIB)}).",
    ]


def formula_section(formula: dict[str, Any]) -> list[str]:
    """Pure evaluation rates."""
    rows = [
        [name, _num(f["best_per_s"]), _num(f["skill_evals_per_s"])]
        for name, f in formula["cases"].items()
    ]
    return [
        "### Pure formula, in process (`bench/formula_eval.py`)",
        "",
        *table(["case", "calls/s (best)", "skill evaluations/s"], rows),
    ]


SECTIONS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "query_latency": query_section,
    "ceiling": ceiling_section,
    "ingest_throughput": ingest_section,
    "kafka_throughput": kafka_section,
    "formula_eval": formula_section,
    "school_day": school_day_report.markdown,
}


def render(results: Results, command: str, minutes: float | None) -> str:
    """The whole generated section."""
    first = next(iter(results.values()))
    machine = first["machine"]
    took = f" in {minutes:.0f} minutes" if minutes is not None else ""
    lines = [
        BEGIN,
        "## Latest `make bench` run",
        "",
        f"`{command}`{took}: {machine['cpus']} cores ({machine['cpu_model']}), Python"
        f" {machine['python']}, {machine['platform']}. The load generators run on the same"
        " cores as the server. Each section says when and on which commit it was measured;"
        " full figures are in `bench/results/*.json`.",
    ]
    for name, section in SECTIONS.items():
        if name in results:
            measured = results[name]
            stamp = f"_Measured {measured['measured_at']} on {measured['machine']['source']}._"
            lines += ["", *section(measured), "", stamp]
    lines += ["", *rss_section(results), END]
    return "\n".join(lines) + "\n"


def update(path: Path, section: str) -> None:
    """Replace the generated section of `path` (or put it after the introduction)."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if BEGIN in text and END in text:
        head, _, rest = text.partition(BEGIN)
        tail = rest.partition(END)[2].lstrip("\n")
        text = head + section + ("\n" + tail if tail else "")
    else:
        head, heading, rest = text.partition("\n## ")
        text = head.rstrip("\n") + "\n\n" + section + (f"\n## {rest}" if heading else "")
    path.write_text(text)


def load(names: Sequence[str]) -> Results:
    """The result files of `names` that exist."""
    found: Results = {}
    for name in names:
        path = report.RESULTS / f"{name}.json"
        if path.exists():
            found[name] = json.loads(path.read_text())
    return found
