"""The school day's figures: what each target asks, what was measured, met or not."""

from itertools import accumulate
from typing import Any

import report

TARGET_EVENTS_PER_S = 10_000.0
TARGET_P95_MS, TARGET_P99_MS = 50.0, 100.0
TARGET_FRESHNESS_P95_S = 2.0
LIMIT_RSS_MIB, GOAL_RSS_MIB = 256.0, 150.0
SERVICE = ("serve-", "consume-")


def ingest(figures: dict[str, Any]) -> dict[str, Any]:
    """Ingest rate from the first scheduled message to the last one settled, and the backlog."""
    produced = figures["plan"]["produced"]
    done = figures["ingest"]["done_at_s"]
    producer = figures["producer"]
    sent = list(accumulate(producer["per_second"]))
    timeline = figures["ingest"]["timeline"]
    backlog = [sent[min(int(t), len(sent) - 1)] - settled for t, settled, _ in timeline if t >= 0]
    window = figures["settings"]["load_seconds"] or figures["settings"]["replay_seconds"]
    during = max((n for t, n, _ in timeline if 0 <= t <= window), default=0)
    after = (produced - during) / (done - window) if done and done > window else float("nan")
    return {
        "during_queries_events_per_s": during / window,
        "after_queries_events_per_s": after,
        "drain_events_per_s": _middle_rate(timeline),
        "all_settled": done is not None,
        "seconds": done,
        "events_per_s": produced / done if done else float("nan"),
        "production_seconds": producer["seconds"],
        "catch_up_seconds": (done - producer["seconds"]) if done else float("nan"),
        "largest_backlog": max(backlog, default=0),
    }


def _middle_rate(timeline: list[tuple[float, int, int]]) -> float:
    """Messages settled per second between 10 % and 90 % of the total."""
    if not timeline:
        return float("nan")
    total = timeline[-1][1]
    low = next((t, n) for t, n, _ in timeline if n >= 0.1 * total)
    high = next((t, n) for t, n, _ in timeline if n >= 0.9 * total)
    return (high[1] - low[1]) / (high[0] - low[0]) if high[0] > low[0] else float("nan")


def summarise(figures: dict[str, Any]) -> dict[str, Any]:
    """The figures each target is judged on."""
    rate = ingest(figures)
    queries = {
        name: {k: q["latency_ms"][k] for k in ("p50", "p95", "p99", "max")}
        | {"achieved_rate": q["achieved_rate"], "statuses": q["statuses"]}
        for name, q in figures["load"].items()
    }
    fresh = figures["freshness"]
    peaks = figures["peak_rss_mib"]
    service_peak = max(v for k, v in peaks.items() if k.startswith(SERVICE))
    memory = figures["memory"]
    grown = sum(memory["after"].values()) - sum(memory["before"].values())
    students = figures["settings"]["students"]
    check = figures["correctness"]
    kinds = figures["announcements"]
    totals = figures["consumer_totals"].values()
    accepted = sum(t.get("accepted", 0) for t in totals)
    duplicates = sum(t.get("duplicate", 0) for t in totals)
    met = {
        "ingest >= 10k events/s": rate["events_per_s"] >= TARGET_EVENTS_PER_S,
        "query p95 < 50 ms": all(q["p95"] < TARGET_P95_MS for q in queries.values()),
        "query p99 < 100 ms": all(q["p99"] < TARGET_P99_MS for q in queries.values()),
        "freshness p95 < 2 s": fresh["p95"] < 1000 * TARGET_FRESHNESS_P95_S,
        "every service process < 256 MiB": service_peak < LIMIT_RSS_MIB,
        "every service process < 150 MiB (goal)": service_peak < GOAL_RSS_MIB,
        "correctness sample exact to 1e-6": bool(check["exact"]),
        "no 5xx": all(q["server_errors"] == 0 for q in figures["load"].values()),
        "no lost connection": all(q["lost_connections"] == 0 for q in figures["load"].values()),
    }
    cpu = figures["cpu_seconds"]
    ours = sum(v for k, v in cpu.items() if k != "machine")
    ours += figures["producer"]["cpu_seconds"] + figures["load_process"]["cpu_seconds"]
    return {
        "cpu_seconds": {"machine": cpu["machine"], "ours": ours, "others": cpu["machine"] - ours},
        "ingest": rate,
        "accounted": {
            "produced": figures["plan"]["produced"],
            "accepted": accepted,
            "duplicates": duplicates,
            "distinct": figures["plan"]["distinct"],
            "redeliveries": figures["plan"]["redeliveries"],
            "store_retries": sum(t.get("store_retries", 0) for t in totals),
        },
        "freshness_ms": {k: fresh[k] for k in ("p50", "p95", "p99", "max")}
        | {
            "probes": fresh["probes"],
            "unseen": fresh["unseen"],
        },
        "queries": queries,
        "service_peak_rss_mib": service_peak,
        "redis_bytes_per_student": grown / students,
        "announcements": kinds,
        "correctness": {k: check[k] for k in ("students", "with_events", "wrong_count")}
        | {"largest_gap": max(check["largest_gap_formula"], check["largest_gap_core"])},
        "targets": met,
    }


def print_figures(figures: dict[str, Any]) -> None:
    """The summary as tables."""
    s = figures["summary"]
    i = s["ingest"]
    report.print_table(
        "Ingest (from the first scheduled message to the last settled)",
        ["messages", "accepted", "duplicates", "seconds", "events/s", "with queries/s",
         "after queries/s", "produced in s", "catch-up s", "largest backlog"],
        [[s["accounted"]["produced"], s["accounted"]["accepted"], s["accounted"]["duplicates"],
          i["seconds"] or float("nan"), i["events_per_s"], i["during_queries_events_per_s"],
          i["after_queries_events_per_s"], i["production_seconds"], i["catch_up_seconds"],
          i["largest_backlog"]]],
    )  # fmt: skip
    f = s["freshness_ms"]
    report.print_table(
        "Freshness: produced -> visible in a mastery query (ms, upper bounds)",
        ["probes", "unseen", "p50", "p95", "p99", "max"],
        [[f["probes"], f["unseen"], f["p50"], f["p95"], f["p99"], f["max"]]],
    )
    report.print_table(
        "Queries during ingestion, open loop over the replicas (ms from the scheduled time)",
        ["endpoint", "req/s", "p50", "p95", "p99", "max", "statuses"],
        [[name, q["achieved_rate"], q["p50"], q["p95"], q["p99"], q["max"], q["statuses"]]
         for name, q in s["queries"].items()],
    )  # fmt: skip
    cpu = figures["cpu_seconds"]
    rows = [
        [name, mib, cpu.get(name, float("nan"))] for name, mib in figures["peak_rss_mib"].items()
    ]
    for name, key in (("producer (bench)", "producer"), ("load generator (bench)", "load_process")):
        rows.append([name, figures[key]["peak_rss_mib"], figures[key]["cpu_seconds"]])
    report.print_table(
        "Per process: peak RSS (VmHWM) and CPU seconds during the replay",
        ["process", "peak MiB", "CPU s"],
        rows,
    )
    use = s["cpu_seconds"]
    print(f"\nCPU seconds of the machine during the replay: {use['machine']:.0f}", end="")
    print(f" (this benchmark's processes {use['ours']:.0f}, others {use['others']:.0f})")
    print(f"\nRedis used_memory per student: {s['redis_bytes_per_student'] / 1024:.1f} KiB")
    print(f"announcements on the out topic: {s['announcements']}")
    print(f"correctness: {s['correctness']}")
    report.print_table(
        "Targets",
        ["target", "status"],
        [[name, "MET" if ok else "MISSED"] for name, ok in s["targets"].items()],
    )


def _row(name: str, figure: str, met: bool | None) -> list[str]:
    return [name, figure, "-" if met is None else ("**met**" if met else "**missed**")]


def markdown(figures: dict[str, Any]) -> list[str]:
    """The generated section of BENCHMARKS.md for this run: one row per figure."""
    s, settings = figures["summary"], figures["settings"]
    t, i, f, a = s["targets"], s["ingest"], s["freshness_ms"], s["accounted"]
    rows = [
        _row("messages produced / accepted / duplicates",
             f"{a['produced']:,} / {a['accepted']:,} / {a['duplicates']:,}", None),
        _row("ingest, first message due → last settled (≥ 10k/s)",
             f"{i['events_per_s']:,.0f} events/s ({i['seconds'] or float('nan'):.0f} s)",
             t["ingest >= 10k events/s"]),
        _row("settled while queries ran / after they stopped",
             f"{i['during_queries_events_per_s']:,.0f} / {i['after_queries_events_per_s']:,.0f}"
             " events/s", None),
        _row("freshness p50 / p95 / p99 (p95 < 2 s)",
             f"{f['p50'] / 1000:.2f} / {f['p95'] / 1000:.2f} / {f['p99'] / 1000:.2f} s",
             t["freshness p95 < 2 s"]),
    ]  # fmt: skip
    for name, q in s["queries"].items():
        ok = q["p95"] < TARGET_P95_MS and q["p99"] < TARGET_P99_MS
        figure = f"{q['p50']:.1f} / {q['p95']:.1f} / {q['p99']:.1f} ms"
        rows.append(_row(f"{name} p50 / p95 / p99 (< 50 / < 100 ms)", figure, ok))
    rows += [
        _row("largest peak RSS of a service process (< 256 MiB, goal < 150)",
             f"{s['service_peak_rss_mib']:.0f} MiB", t["every service process < 256 MiB"]),
        _row("Redis memory per student", f"{s['redis_bytes_per_student'] / 1024:.1f} KiB", None),
        _row("CPU seconds: the machine / this benchmark / other processes",
             " / ".join(f"{s['cpu_seconds'][k]:,.0f}" for k in ("machine", "ours", "others")),
             None),
        _row("announcements", ", ".join(f"{k} {v:,}" for k, v in s["announcements"].items()),
             sum(s["announcements"].values()) > 0),
        _row("correctness sample (exact to 1e-6)",
             f"{s['correctness']['students']:,} students, largest gap"
             f" {s['correctness']['largest_gap']:.1e}", t["correctness sample exact to 1e-6"]),
    ]  # fmt: skip
    return [
        "### A school day, replayed live (`bench/school_day.py`)",
        "",
        f"{settings['students']:,} students, {a['produced']:,} messages on"
        f" {settings['partitions']} partitions over {settings['replay_seconds']:g} s,"
        f" {settings['consumers']} consumers, {settings['replicas']} replicas on a Redis Cluster,"
        f" {settings['rate']:g} queries/s; everything on the same cores.",
        "",
        "| figure | measured | target |",
        "| --- | --- | --- |",
        *("| " + " | ".join(r) + " |" for r in rows),
    ]
