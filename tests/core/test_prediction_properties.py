"""The window of latest answers and the next-answer predictions ignore order and re-delivery."""

import asyncio
import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mastery_engine.core.aggregates import StudentAggregates, contribution, fold
from mastery_engine.core.events import Event, parse_event
from mastery_engine.core.features import V1_FEATURES, features
from mastery_engine.core.instants import MAX_US, US_PER_SECOND, format_us
from mastery_engine.core.prediction import DEFAULT_MODEL, p_correct
from mastery_engine.core.recent import RECENT_ANSWERS, Answer
from mastery_engine.stores.memory import MemoryStore
from tests.conftest import NOW

START = NOW - 3 * 3600 * US_PER_SECOND
SKILLS = ["basics", "functions", "regex"]
OLD = len(V1_FEATURES)  # features from the day buckets: float sums, equal to rounding


@st.composite
def answers(draw: st.DrawFn) -> list[Event]:
    """Up to 40 events of one student within three hours, quiz answers mostly, with ties."""
    out = []
    for i in range(draw(st.integers(1, 40))):
        kind = draw(st.sampled_from(["quiz.graded"] * 4 + ["code.reviewed", "activity"]))
        at = START + draw(st.integers(0, 180)) * 60 * US_PER_SECOND  # whole minutes: ties
        data: dict[str, Any] = {
            "quiz.graded": {"quiz_id": "q", "score": draw(st.sampled_from([0.0, 0.5, 1.0]))},
            "code.reviewed": {"submission_id": "s", "quality": 0.5},
            "activity": {"kind": "login"},
        }[kind]
        raw = {
            "id": f"ev-{i}",
            "type": kind,
            "student_id": "s1",
            "skill_id": draw(st.sampled_from(SKILLS)),
            "occurred_at": format_us(at),
            "data": data,
        }
        out.append(parse_event(raw, MAX_US))
    return out


def delivered(events: list[Event], rng: random.Random) -> list[Event]:
    """The events shuffled, some of them twice."""
    again = events + [rng.choice(events) for _ in range(len(events) // 2 + 1)]
    rng.shuffle(again)
    return again


async def _through_store(events: list[Event], rng: random.Random) -> StudentAggregates | None:
    store = MemoryStore()
    pending = delivered(events, rng)
    while pending:
        size = rng.randint(1, 6)
        await store.apply("t", pending[:size], NOW)
        pending = pending[size:]
    return await store.read("t", "s1", NOW)


@settings(max_examples=80, deadline=None)
@given(events=answers(), rng=st.randoms(use_true_random=False))
def test_a_window_holds_the_latest_answers_whatever_the_order(
    events: list[Event], rng: random.Random
) -> None:
    folded = fold(contribution(e) for e in delivered(events, rng))
    for skill in SKILLS:
        every = sorted(
            Answer(e.occurred_at, e.id, e.score)
            for e in events
            if e.type.value == "quiz.graded" and e.skill_id == skill and e.score is not None
        )
        window = folded.recent.get(skill, ())
        assert len(window) <= RECENT_ANSWERS
        assert list(window) == every[-RECENT_ANSWERS:]


@settings(max_examples=60, deadline=None)
@given(
    events=answers(),
    rng=st.randoms(use_true_random=False),
    as_of_minute=st.integers(0, 200),
)
def test_predictions_are_identical_for_any_permutation_and_re_delivery(
    events: list[Event], rng: random.Random, as_of_minute: int
) -> None:
    as_of = START + as_of_minute * 60 * US_PER_SECOND
    reference = fold(contribution(e) for e in sorted(events, key=lambda e: e.id))
    stored = asyncio.run(_through_store(events, rng))
    assert stored is not None
    # The store's snapshot leaves out the tail of `as_of`'s day, as a read at `as_of` would.
    stored = stored.with_tail(tuple(e for e in events if as_of < e.occurred_at))
    reference = reference.with_tail(tuple(e for e in events if as_of < e.occurred_at))
    for skill in [*SKILLS, "never-seen"]:
        want, got = features(reference, skill, as_of), features(stored, skill, as_of)
        assert got[OLD:] == want[OLD:]  # the decayed sums: exactly equal
        for a, b in zip(got[:OLD], want[:OLD], strict=True):
            assert abs(a - b) <= 1e-9  # sums of moments, a mid-day tail taken out
        p_want = p_correct(reference, skill, as_of, DEFAULT_MODEL)
        assert abs(p_correct(stored, skill, as_of, DEFAULT_MODEL) - p_want) <= 1e-9
