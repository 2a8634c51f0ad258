"""What the Redis store's scripts answer, decoded: a student's snapshot, its tail, its latest
scored instant, a kept raw event."""

import json
from collections.abc import Sequence
from typing import Any, TypeVar
from urllib.parse import unquote

from mastery_engine.core.aggregates import StudentAggregates
from mastery_engine.core.events import Event, restore_event
from mastery_engine.core.instants import parse_rfc3339
from mastery_engine.stores import rows
from mastery_engine.stores.redis import windows
from mastery_engine.stores.redis.scripts import MOMENTS_PACK

T = TypeVar("T")


def pairs(flat: Sequence[T]) -> list[tuple[T, T]]:
    """[a, b, c, d] -> [(a, b), (c, d)]: how Redis returns hashes and scored members."""
    return list(zip(flat[::2], flat[1::2], strict=True))


def tail_of(flat: Sequence[bytes]) -> tuple[Event, ...]:
    """Events back from the read script's (body, occurred_at) pairs."""
    # A score (a double) holds instants exactly up to 2**53 us (year 2255); occurred_at is
    # never more than minutes ahead of the clock.
    return tuple(rows.restore(body, int(float(at))) for body, at in pairs(flat))


def latest_of(reply: Sequence[Any]) -> int | None:
    """The latest scored instant a read script answered (None: the student has none)."""
    return int(float(reply[2])) if reply[2] else None


def stored_event(body: bytes) -> Event:
    """An event back from its stored body alone: its `occurred_at` is there in RFC 3339."""
    raw = json.loads(body)
    return restore_event(raw, parse_rfc3339(raw["occurred_at"], "occurred_at"))


def snapshot_of(reply: Sequence[Any]) -> StudentAggregates:
    """A student's aggregates from the read script's reply."""
    activity, skills, done, buckets, recent, failed = reply[3:9]
    scores = []
    for suffix, fields in pairs(buckets):
        date, component = suffix.decode().split(":")
        for skill, packed in pairs(fields):
            scores.append((date, component, skill.decode(), *MOMENTS_PACK.unpack(packed)))
    completions = []
    for field, at in pairs(done):
        skill, _, exercise = field.decode().partition(":")
        completions.append((unquote(skill), unquote(exercise), int(at)))
    return rows.aggregates_from_rows(
        [(d.decode(), int(v.split(b" ")[0])) for d, v in pairs(activity)],
        scores,
        completions,
        [(s.decode(), int(at)) for s, at in pairs(skills)],
        windows.window_rows(recent, windows.answer_at),
        failures=windows.window_rows(failed, windows.failure_at),
    )
