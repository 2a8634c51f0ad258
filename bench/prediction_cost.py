"""What a student's next-answer predictions cost in process: every skill's P(correct) with its
explanation (what `GET /v1/students/{id}/predictions` computes), per student and per skill.

The synthetic data set (2,000 students x 30 days by default) is applied to the in-memory
store; each student's snapshot is read once, then `predict` runs for each of its skills at
one instant, as the endpoint does. Run it on two source trees (PYTHONPATH) for a before and
after on the same machine.
"""

import argparse
import asyncio
import statistics
import time

import dataset
import report
from mastery_engine.core.explain import predict
from mastery_engine.core.instants import parse_rfc3339
from mastery_engine.core.prediction import DEFAULT_MODEL
from mastery_engine.stores.memory import MemoryStore

TENANT = "bench"


async def snapshots(students: int, days: int) -> list[object]:
    """Every student's aggregates after the whole data set."""
    store = MemoryStore()
    events = list(dataset.stream(students, days))
    from mastery_engine.core.events import parse_event

    parsed = [parse_event(raw, 2**62) for raw in events]
    for start in range(0, len(parsed), 1000):
        await store.apply(TENANT, parsed[start : start + 1000], 0)
    ids = await store.students(TENANT)
    return [await store.read(TENANT, s, 2**62) for s in ids]


def main() -> None:
    """Time every student's predictions; print per student and per prediction."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=2000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    found = asyncio.run(snapshots(args.students, args.days))
    as_of = parse_rfc3339("2100-01-01T00:00:00Z", "as_of")
    per_student: list[float] = []
    predictions = 0
    for _ in range(args.rounds):
        for aggregates in found:
            skills = sorted(aggregates.skills)  # type: ignore[attr-defined]
            fresh = type(aggregates)(**{f: getattr(aggregates, f) for f in _fields(aggregates)})
            began = time.perf_counter()
            for skill in skills:
                predict(fresh, skill, as_of, DEFAULT_MODEL)
            per_student.append(time.perf_counter() - began)
            predictions += len(skills)
    mean_skills = predictions / len(per_student)
    p50 = statistics.median(per_student) * 1e6
    print(
        f"{len(found):,} students, {mean_skills:.1f} skills each: predictions of a student"
        f" p50 {p50:.0f} us, mean {statistics.fmean(per_student) * 1e6:.0f} us;"
        f" {statistics.fmean(per_student) * 1e6 / mean_skills:.1f} us per prediction"
    )
    report.write_result(
        "prediction_cost",
        {"students": len(found), "skills_per_student": mean_skills, "student_us_p50": p50},
    )


def _fields(aggregates: object) -> list[str]:
    """The snapshot's fields but its memo: each student starts without cached tallies."""
    from dataclasses import fields

    return [f.name for f in fields(aggregates) if f.name != "memo"]  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
