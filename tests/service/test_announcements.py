"""What a batch announces equals a naive evaluation of every event so far, on every backend.

The reference re-evaluates the whole event history before and after each batch: mastery of
the skills the batch names from a fold of all the events, and the two event-driven struggle
rules from the raw events themselves, as documented. The service instead reads each student
once before the batch, lets the store move its cached snapshot on, and evaluates the
windows of latest answers and failed attempts. The stream has re-deliveries and events
arriving out of order (shuffled a few places, as a partitioned stream reorders them), in
batches of varying size. Windows keep the latest answers by time, so the rules stay exact
while a late answer has fewer than 3 newer answers of its skill (a late failed attempt,
fewer than 8 newer failures): lateness of a few events, not of days.
"""

import math
import random
from collections import defaultdict
from typing import Any

from mastery_engine.core.aggregates import contribution, fold
from mastery_engine.core.alerts import AlertThresholds
from mastery_engine.core.changes import changes
from mastery_engine.core.curriculum import DEFAULT_CURRICULUM
from mastery_engine.core.events import Event, EventType, parse_event
from mastery_engine.core.formula import FormulaConfig, evaluate
from mastery_engine.core.instants import US_PER_DAY, US_PER_SECOND, format_us
from mastery_engine.core.prediction import DEFAULT_MODEL
from mastery_engine.service.guidance import Guidance
from mastery_engine.service.mastery import MasteryService
from mastery_engine.stores import Store
from tests.conftest import NOW, fixed_clock

SKILLS = ["basics", "functions"]
STUDENTS = ["s1", "s2", "s3"]


def stream(seed: int) -> list[dict[str, Any]]:
    """Quizzes (often low), failed attempts with a few error types, completions, activity."""
    rng = random.Random(seed)
    found = []
    for i in range(90):
        kind = rng.choice(["quiz.graded"] * 3 + ["exercise.attempted"] * 2 + ["activity"])
        at = NOW - rng.randint(0, 9 * 24 * 60) * 60 * US_PER_SECOND
        data: dict[str, Any] = {
            "quiz.graded": {"quiz_id": f"q{i}", "score": rng.choice([0.0, 0.2, 0.4, 0.9, 1.0])},
            "exercise.attempted": {
                "exercise_id": "e1",
                "passed": rng.random() < 0.2,
                "error_type": rng.choice(["TypeError", "NameError"]),
            },
            "activity": {"kind": "login"},
        }[kind]
        found.append(
            {
                "id": f"ev{i:03d}",
                "type": kind,
                "student_id": rng.choice(STUDENTS),
                "skill_id": rng.choice(SKILLS),
                "occurred_at": format_us(at),
                "data": data,
            }
        )
    return found


def naive_alerts(events: list[Event], at: int, t: AlertThresholds) -> set[tuple[str, str]]:
    """(kind, skill) of the repeated-error and low-quiz alerts, from raw events as documented."""
    fired = set()
    failures: dict[tuple[str, str], list[int]] = defaultdict(list)
    quizzes: dict[str, list[tuple[int, str, float]]] = defaultdict(list)
    for e in events:
        if e.skill_id is None or e.occurred_at > at:
            continue
        recent = at - t.inactive_days * US_PER_DAY < e.occurred_at
        if e.type is EventType.EXERCISE_ATTEMPTED and not e.data["passed"] and recent:
            failures[e.skill_id, e.data["error_type"]].append(e.occurred_at)
        if e.type is EventType.QUIZ_GRADED:
            quizzes[e.skill_id].append((e.occurred_at, e.id, float(e.data["score"])))
    span = t.repeated_error_hours * 3600 * US_PER_SECOND
    for (skill, _), times in failures.items():
        times.sort()
        if any(sum(1 for u in times if 0 <= u - s <= span) >= 3 for s in times):
            fired.add(("repeated_error", skill))
    for skill, scored in quizzes.items():
        last = sorted(scored)[-t.low_quiz_last :]
        if len(last) == t.low_quiz_last and math.fsum(s for *_, s in last) / len(last) < 0.5:
            fired.add(("low_quiz_scores", skill))
    return fired


def reference(seen: list[Event], batch: list[Event]) -> tuple[set[Any], set[Any]]:
    """The moves and newly fired alerts of `batch` (its new events), judged from scratch."""
    new = [e for e in batch if e.id not in {s.id for s in seen}]
    new = list({e.id: e for e in new}.values())
    moves, fired = set(), set()
    rules, config = DEFAULT_CURRICULUM, FormulaConfig()
    for student in sorted({e.student_id for e in new}):
        mine_before = [e for e in seen if e.student_id == student]
        mine_after = mine_before + [e for e in new if e.student_id == student]
        named = sorted({e.skill_id for e in new if e.student_id == student and e.skill_id})
        before, after = fold(map(contribution, mine_before)), fold(map(contribution, mine_after))
        old = [evaluate(before, s, NOW, rules, config) for s in named] if mine_before else []
        now = [evaluate(after, s, NOW, rules, config) for s in named]
        moves |= {(c.student_id, c.skill_id, c.new_level) for c in changes(student, old, now, NOW)}
        driving = [
            e.occurred_at
            for e in new
            if e.student_id == student
            and (e.type is EventType.QUIZ_GRADED or e.data.get("passed") is False)
        ]
        if driving:
            at, t = max(driving), AlertThresholds()
            gained = naive_alerts(mine_after, at, t) - naive_alerts(mine_before, at, t)
            fired |= {(student, kind, skill) for kind, skill in gained}
    return moves, fired


async def test_announcements_equal_a_naive_evaluation_of_the_whole_history(store: Store) -> None:
    rng = random.Random(5)
    raws = sorted(stream(21), key=lambda raw: raw["occurred_at"])
    delivered = []
    for start in range(0, len(raws), 5):  # out of order within a few places
        chunk = raws[start : start + 5]
        rng.shuffle(chunk)
        delivered += chunk
    for raw in rng.sample(raws, 25):  # re-deliveries, anywhere later in the stream
        delivered.insert(rng.randint(raws.index(raw) + 1, len(delivered)), raw)
    service = MasteryService(store, DEFAULT_CURRICULUM, FormulaConfig(), clock=fixed_clock())
    guidance = Guidance(service, DEFAULT_MODEL)
    seen: list[Event] = []
    total_moves, kinds = 0, set()
    while delivered:
        size = rng.randint(1, 12)
        batch, delivered = delivered[:size], delivered[size:]
        parsed = [parse_event(raw, NOW) for raw in batch]
        want_moves, want_fired = reference(seen, parsed)
        tracked = await service.ingest_tracked("t", batch)
        got_moves = {(c.student_id, c.skill_id, c.new_level) for c in tracked.changes}
        got_fired = {
            (s, a.kind.value, a.skill_id) for s, a in await guidance.struggles("t", tracked)
        }
        assert got_moves == want_moves
        assert got_fired == want_fired
        seen += [e for e in parsed if e.id not in {s.id for s in seen}]
        total_moves += len(got_moves)
        kinds |= {kind for _, kind, _ in got_fired}
    assert total_moves >= 5 and kinds == {"repeated_error", "low_quiz_scores"}, kinds
