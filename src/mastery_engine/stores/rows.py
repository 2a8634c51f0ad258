"""The rows every backend stores: a batch summed per bucket, and a student read back.

Rows mirror the key pattern `{tenant}:student:{student_id}:mastery:{date}:{component}`:
a score row is keyed (student_id, date, component, skill_id) within a tenant. Summing a batch
per bucket first means each bucket is written once per batch, whatever the backend.
"""

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from sys import intern
from typing import Any

from mastery_engine.core.aggregates import (
    AggregateBuilder,
    Component,
    StudentAggregates,
    contribution,
)
from mastery_engine.core.events import Event, EventType, restore_event
from mastery_engine.core.instants import date_to_day, day_of, day_to_date
from mastery_engine.core.moments import MOMENTS, Bucket, DayBuckets
from mastery_engine.core.recent import (
    RECENT_FAILURES,
    Answer,
    Failure,
    Failures,
    Window,
    latest,
)

MOMENT_COLUMNS = [f"w{k}" for k in range(MOMENTS)] + [f"s{k}" for k in range(MOMENTS)]
SCORE_TYPES = (EventType.QUIZ_GRADED.value, EventType.CODE_REVIEWED.value)
COMPONENTS = {c.value: c for c in Component}

# (student_id, date, component, skill_id, n, w0..w7, s0..s7)
ScoreRow = tuple[Any, ...]
# (student_id, skill_id, exercise_id, first_at)
CompletionRow = tuple[str, str, str, int]
# (student_id, date, first_at, events that day)
ActivityRow = tuple[str, str, int, int]
# (student_id, skill_id, first_at)
SkillRow = tuple[str, str, int]
# (student_id, skill_id, occurred_at, event_id, score): one answer of a skill's latest ones
RecentRow = tuple[str, str, int, str, float]
# (student_id, skill_id, occurred_at, event_id, error_type): one of its latest failed attempts
FailureRow = tuple[str, str, int, str, str]


@dataclass
class BatchRows:
    """What a batch of new events adds, one row per bucket it touches."""

    students: list[str] = field(default_factory=list)
    scores: list[ScoreRow] = field(default_factory=list)
    completions: list[CompletionRow] = field(default_factory=list)
    activity: list[ActivityRow] = field(default_factory=list)
    skills: list[SkillRow] = field(default_factory=list)
    recent: list[RecentRow] = field(default_factory=list)
    failures: list[FailureRow] = field(default_factory=list)


@lru_cache(maxsize=4096)
def day_number(day_iso: str) -> int:
    """`YYYY-MM-DD` as a UTC day number (the same few dates recur in every read)."""
    return date_to_day(date.fromisoformat(day_iso))


def iso(day: int) -> str:
    """A UTC day number as `YYYY-MM-DD`."""
    return day_to_date(day).isoformat()


def batch_rows(events: Iterable[Event]) -> BatchRows:
    """Sum new events per student and bucket."""
    builders: dict[str, AggregateBuilder] = {}
    counts: dict[tuple[str, int], int] = {}
    for event in events:
        builders.setdefault(event.student_id, AggregateBuilder()).add(contribution(event))
        key = (event.student_id, day_of(event.occurred_at))
        counts[key] = counts.get(key, 0) + 1
    rows = BatchRows(students=list(builders))
    for student, b in builders.items():
        for (skill, component), days in b.scores.items():
            for day, m in days.items():
                rows.scores.append((student, iso(day), component.value, skill, m.n, *m.w, *m.s))
        for skill, exercises in b.completions.items():
            rows.completions.extend((student, skill, ex, at) for ex, at in exercises.items())
        for day, at in b.active.items():
            rows.activity.append((student, iso(day), at, counts[(student, day)]))
        rows.skills.extend((student, skill, at) for skill, at in b.skills.items())
        for skill, window in b.recent.items():
            rows.recent.extend((student, skill, *answer_row(a)) for a in window)
        for skill, failed in b.failures.items():
            rows.failures.extend((student, skill, *failure_row(f)) for f in failed)
    return rows


def answer_row(answer: Answer) -> tuple[int, str, float]:
    """(occurred_at, event_id, score) of a window's answer, as every backend stores it."""
    return answer.occurred_at, answer.event_id, answer.score


def failure_row(failure: Failure) -> tuple[int, str, str]:
    """(occurred_at, event_id, error_type) of a failed attempt, as every backend stores it."""
    return failure.occurred_at, failure.event_id, failure.error_type


def failures_from_rows(found: Iterable[Sequence[Any]]) -> dict[str, Failures]:
    """Each skill's failed attempts from rows (skill, occurred_at, event_id, error_type)."""
    failures: dict[str, list[Failure]] = {}
    for skill, at, event_id, error in found:
        failures.setdefault(intern(skill), []).append(Failure(int(at), event_id, error))
    return {skill: latest(marks, RECENT_FAILURES) for skill, marks in failures.items()}


def windows_from_rows(recent: Iterable[Sequence[Any]]) -> dict[str, Window]:
    """Each skill's window from rows (skill, occurred_at, event_id, score), in any order."""
    answers: dict[str, list[Answer]] = {}
    for skill, at, event_id, score in recent:
        answers.setdefault(intern(skill), []).append(Answer(int(at), event_id, float(score)))
    return {skill: latest(found) for skill, found in answers.items()}


def event_body(event: Event) -> str:
    """The raw event as stored (canonical JSON)."""
    return json.dumps(event.to_json(), separators=(",", ":"))


def restore(body: str | bytes, occurred_at: int) -> Event:
    """An event back from its stored body."""
    return restore_event(json.loads(body), occurred_at)


def fresh_flags(events: Sequence[Event], stored: set[str]) -> list[bool]:
    """Per event: not among the stored ids and not repeated earlier in the batch."""
    seen = set(stored)
    flags = []
    for event in events:
        flags.append(event.id not in seen)
        seen.add(event.id)
    return flags


def aggregates_from_rows(
    activity: Iterable[tuple[str, int]],
    scores: Iterable[Sequence[Any]],
    completions: Iterable[tuple[str, str, int]],
    skills: Iterable[tuple[str, int]],
    recent: Iterable[Sequence[Any]] = (),
    *,
    failures: Iterable[Sequence[Any]] = (),
) -> StudentAggregates:
    """A student's aggregates from rows (date, first_at), (date, component, skill, n,
    moments...), (skill, exercise, first_at), (skill, first_at) and the windows' answers
    (skill, occurred_at, event_id, score) and failed attempts (skill, occurred_at, event_id,
    error_type).

    Skill and exercise ids recur in every cached snapshot: each is kept once (interned), not
    once per row read.
    """
    by_key: dict[tuple[str, Component], list[Bucket]] = {}
    for day_iso, component, skill, n, *moments in scores:
        bucket = (day_number(day_iso), int(n), moments)
        by_key.setdefault((intern(skill), COMPONENTS[component]), []).append(bucket)
    done: dict[str, dict[str, int]] = {}
    for skill, exercise, first_at in completions:
        done.setdefault(intern(skill), {})[intern(exercise)] = int(first_at)
    return StudentAggregates(
        {key: DayBuckets(buckets) for key, buckets in by_key.items()},
        done,
        {day_number(d): int(at) for d, at in activity},
        {intern(skill): int(at) for skill, at in skills},
        recent=windows_from_rows(recent),
        failures=failures_from_rows(failures),
    )
