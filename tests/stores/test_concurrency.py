"""Several processes writing overlapping batches to one store end where one writer ends."""

import asyncio
import multiprocessing
import random
from collections.abc import Sequence

import pytest

from mastery_engine.core.curriculum import DEFAULT_CURRICULUM
from mastery_engine.core.events import Event, parse_event
from mastery_engine.core.formula import FormulaConfig, evaluate_student
from mastery_engine.stores import open_store
from tests.backends import SHARED_BACKENDS
from tests.conftest import NOW, event

WRITERS = 4
STUDENTS = 5


def stream(seed: int = 3, size: int = 400) -> list[dict[str, object]]:
    """A mixed event stream over a few students and days."""
    rng = random.Random(seed)
    bodies: list[dict[str, object]] = []
    for i in range(size):
        day, hour, minute = rng.randint(1, 19), rng.randint(0, 23), rng.randint(0, 59)
        at = f"2026-03-{day:02d}T{hour:02d}:{minute:02d}:00Z"
        student, skill = f"s-{rng.randrange(STUDENTS)}", rng.choice(["basics", "oop", "x-extra"])
        kind = rng.choice(["quiz", "review", "done", "activity"])
        if kind == "quiz":
            body = event(
                f"e{i}",
                "quiz.graded",
                at,
                student=student,
                skill=skill,
                quiz_id="q",
                score=rng.random(),
            )
        elif kind == "review":
            body = event(
                f"e{i}",
                "code.reviewed",
                at,
                student=student,
                skill=skill,
                submission_id="s",
                quality=rng.random(),
            )
        elif kind == "done":
            body = event(
                f"e{i}",
                "exercise.completed",
                at,
                student=student,
                skill=skill,
                exercise_id=f"x{rng.randrange(8)}",
            )
        else:
            body = event(f"e{i}", "activity", at, student=student, skill=None, kind="read")
        bodies.append(body)
    return bodies


def write(url: str, batches: Sequence[Sequence[dict[str, object]]]) -> int:
    """In a child process: apply each batch; how many events were new."""

    async def run() -> int:
        store = await open_store(url)
        try:
            fresh = 0
            for batch in batches:
                events = [parse_event(b, NOW) for b in batch]
                fresh += sum(await store.apply("t", events, NOW))
            return fresh
        finally:
            await store.close()

    return asyncio.run(run())


async def mastery_of(url: str) -> dict[str, list[tuple[str, float]]]:
    """Every student's mastery per skill at NOW."""
    store = await open_store(url)
    try:
        result = {}
        for student in await store.students("t"):
            aggregates = await store.read("t", student, NOW)
            assert aggregates is not None
            skills = evaluate_student(aggregates, NOW, DEFAULT_CURRICULUM, FormulaConfig())
            result[student] = [(m.skill_id, m.mastery) for m in skills]
        return result
    finally:
        await store.close()


@pytest.mark.slow
@pytest.mark.parametrize("backend", SHARED_BACKENDS)
async def test_concurrent_writers_with_overlaps_match_one_writer(backend_url: str) -> None:
    bodies = stream()
    # Each writer sends a shuffled, overlapping 60% of the stream in batches of 25.
    plans = []
    for w in range(WRITERS):
        rng = random.Random(w)
        part = rng.sample(bodies, k=len(bodies) * 6 // 10)
        plans.append([part[i : i + 25] for i in range(0, len(part), 25)])
    covered = {str(b["id"]) for plan in plans for batch in plan for b in batch}
    context = multiprocessing.get_context("spawn")
    with context.Pool(WRITERS) as pool:
        fresh = sum(pool.starmap(write, [(backend_url, plan) for plan in plans]))
    assert fresh == len(covered)  # every event counted once, whichever writer won

    reference = "memory://"
    single = await open_store(reference)
    events: list[Event] = [parse_event(b, NOW) for b in bodies if str(b["id"]) in covered]
    await single.apply("t", events, NOW)
    want = {}
    for student in await single.students("t"):
        aggregates = await single.read("t", student, NOW)
        assert aggregates is not None
        skills = evaluate_student(aggregates, NOW, DEFAULT_CURRICULUM, FormulaConfig())
        want[student] = [(m.skill_id, m.mastery) for m in skills]
    got = await mastery_of(backend_url)
    assert got.keys() == want.keys()
    for student, skills in want.items():
        assert [s for s, _ in got[student]] == [s for s, _ in skills]
        assert [m for _, m in got[student]] == pytest.approx([m for _, m in skills], abs=1e-9)
