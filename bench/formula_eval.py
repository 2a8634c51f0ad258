"""In-process speed of the mastery formula on a realistic student's aggregates (no I/O, no HTTP).

(a) `evaluate`: one skill from StudentAggregates (completion, two recency-weighted means,
    consistency window, weighted sum, level, evidence);
(b) `combine` + `level_of`: the weighted sum and level of already computed components;
(c) `evaluate_student`: every curriculum skill of the student.
"""

import argparse
import cProfile
import pstats
import statistics
import time
import timeit
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import dataset
import report
from mastery_engine.core.aggregates import StudentAggregates, contribution, fold
from mastery_engine.core.curriculum import DEFAULT_CURRICULUM
from mastery_engine.core.events import Event, parse_event
from mastery_engine.core.formula import (
    FormulaConfig,
    combine,
    evaluate,
    evaluate_student,
    level_of,
)

TARGET_PER_S = 200_000.0
CANDIDATES = 100
FRESH_A = "(a') evaluate, one skill, fresh snapshot"


def parse_args() -> argparse.Namespace:
    """Command-line options; the defaults are the documented benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=60, help="days of the student's history")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=7, help="timed repetitions per case")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile case (a) (and (a')) and print it"
    )
    return parser.parse_args()


def student_events(index: int, days: int, seed: int, now_us: int) -> list[Event]:
    """Validated events of one synthetic student over `days` days before today."""
    raw = [
        event
        for days_ago in range(days, 0, -1)
        for event in dataset.student_day(seed, index, days_ago, (days - days_ago) / days)
    ]
    return [parse_event(item, now_us) for item in raw]


def typical_student(days: int, seed: int, now_us: int) -> tuple[str, list[Event]]:
    """Among the first 100 synthetic students, the one with the median number of events."""
    everyone = {index: student_events(index, days, seed, now_us) for index in range(CANDIDATES)}
    ranked = sorted(everyone, key=lambda index: (len(everyone[index]), index))
    index = ranked[len(ranked) // 2]
    return dataset.student_id(index), everyone[index]


def busiest_skill(aggregates: StudentAggregates) -> str:
    """The skill with the most quiz and code-review day buckets."""
    buckets: dict[str, int] = {}
    for (skill, _), days in aggregates.scores.items():
        buckets[skill] = buckets.get(skill, 0) + len(days)
    return max(sorted(buckets), key=lambda skill: buckets[skill])


def rate(work: Callable[[], object], repeat: int) -> dict[str, float]:
    """Calls per second of `work`: best and median of `repeat` timed runs of >= 0.2 s each."""
    timer = timeit.Timer(work, timer=time.perf_counter)
    number, _ = timer.autorange()
    number = max(number, 1) * 2
    times = timer.repeat(repeat=repeat, number=number)
    return {
        "calls_per_run": number,
        "best_per_s": number / min(times),
        "median_per_s": number / statistics.median(times),
        "best_us_per_call": 1e6 * min(times) / number,
    }


def describe(aggregates: StudentAggregates, events: list[Event], skill: str) -> dict[str, Any]:
    """The shape of the test student's aggregates."""
    return {
        "events": len(events),
        "active_days": len(aggregates.active),
        "skills_with_events": len(aggregates.skills),
        "score_buckets_total": sum(len(d) for d in aggregates.scores.values()),
        "skill": skill,
        "score_buckets_of_skill": sum(
            len(d) for (s, _), d in aggregates.scores.items() if s == skill
        ),
        "completions_of_skill": len(aggregates.completions.get(skill, {})),
    }


def cases(aggregates: StudentAggregates, skill: str, now_us: int) -> dict[str, Callable[[], Any]]:
    """The three timed cases, as zero-argument callables."""
    config, curriculum = FormulaConfig(), DEFAULT_CURRICULUM
    components = evaluate(aggregates, skill, now_us, curriculum, config).components
    weights = config.weights
    return {
        "(a) evaluate, one skill": lambda: evaluate(aggregates, skill, now_us, curriculum, config),
        "(b) combine + level_of": lambda: level_of(combine(components, weights)),
        "(c) evaluate_student, all skills": lambda: evaluate_student(
            aggregates, now_us, curriculum, config
        ),
    }


def memo_of(aggregates: StudentAggregates) -> dict[Any, Any] | None:
    """The per-snapshot memo of derived values, in versions of the core that have one."""
    memo = getattr(aggregates, "memo", None)
    return memo if isinstance(memo, dict) else None


def uncached_cases(
    aggregates: StudentAggregates, skill: str, now_us: int
) -> dict[str, Callable[[], Any]]:
    """(a) and (c) on a fresh copy of the snapshot each call, so no memo entry is reused."""
    config, curriculum = FormulaConfig(), DEFAULT_CURRICULUM

    def fresh() -> StudentAggregates:
        return replace(aggregates, memo={})

    return {
        FRESH_A: lambda: evaluate(fresh(), skill, now_us, curriculum, config),
        "(c') evaluate_student, fresh snapshot": lambda: evaluate_student(
            fresh(), now_us, curriculum, config
        ),
        "copying the snapshot alone": fresh,
    }


def profile(label: str, work: Callable[[], Any], calls: int = 20_000) -> None:
    """Where the time of `work` goes: the top functions by own time."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        work()
    profiler.disable()
    print(f"\ncProfile of case {label}, {calls:,} calls, top functions by own time:")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


def add_skill_rates(figures: dict[str, dict[str, float]], skills: int) -> None:
    """Skill evaluations per second (best run): (c) evaluates `skills` skills per call."""
    for name, f in figures.items():
        f["skill_evals_per_s"] = f["best_per_s"] * (skills if name.startswith("(c") else 1)


def print_figures(figures: dict[str, dict[str, float]]) -> None:
    """The rates table."""
    keys = ("best_per_s", "median_per_s", "best_us_per_call", "skill_evals_per_s")
    headers = ["case", "best calls/s", "median calls/s", "best us/call", "skill evals/s"]
    rows = [[name, *(f[k] for k in keys)] for name, f in figures.items()]
    report.print_table("Formula evaluation, in process, one core", headers, rows)


def verdicts(figures: dict[str, dict[str, float]]) -> dict[str, str]:
    """For each case: does its skill-evaluation rate (best run) reach 200,000/s."""
    found = {}
    for name, f in figures.items():
        if not name.startswith("("):
            continue
        found[name] = "MET" if f["skill_evals_per_s"] >= TARGET_PER_S else "MISSED"
        print(f"target >= {TARGET_PER_S:,.0f} evaluations/s, {name}: {found[name]}")
    return found


def main() -> None:
    """Build the student, time the three cases, print and save the figures."""
    args = parse_args()
    source = report.source_state()
    now_us = time.time_ns() // 1000
    student, events = typical_student(args.days, args.seed, now_us)
    aggregates = fold(contribution(e) for e in events)
    skill = busiest_skill(aggregates)
    shape = {"student": student, **describe(aggregates, events, skill)}
    report.print_table("Test student", list(shape), [list(shape.values())])
    timed = cases(aggregates, skill, now_us)
    figures = {name: rate(work, args.repeat) for name, work in timed.items()}
    memo = memo_of(aggregates)
    if memo:
        print(f"\nnote: evaluate left {len(memo)} entries in StudentAggregates.memo; repeated")
        print("calls on one snapshot reuse them, so the cases below also time fresh snapshots.")
        extra = uncached_cases(aggregates, skill, now_us)
        figures |= {name: rate(work, args.repeat) for name, work in extra.items()}
    skills = len(evaluate_student(aggregates, now_us, DEFAULT_CURRICULUM, FormulaConfig()))
    add_skill_rates(figures, skills)
    print_figures(figures)
    status = verdicts(figures)
    if args.profile:
        profile("(a)", timed["(a) evaluate, one skill"])
        if memo:
            profile("(a')", uncached_cases(aggregates, skill, now_us)[FRESH_A])
    result: dict[str, Any] = {"settings": vars(args), "source_at_start": source}
    result["student"] = shape
    result["skills_per_student"] = skills
    report.write_result("formula_eval", result | {"cases": figures, "verdict": status})


if __name__ == "__main__":
    main()
