"""What the Dapr store keeps under which key, and how a batch changes those JSON documents.

Keys put the tenant first and mirror the seed pattern
`{tenant}:student:{student_id}:mastery:{date}:{component}`:

    {prefix}tenants                                       ["t1", ...]
    {prefix}{t}:students                                  ["s1", ...]
    {prefix}{t}:config                                    the tenant's configuration document
    {prefix}{t}:audit                                     number of audit entries
    {prefix}{t}:audit:{n:012d}                            one audit entry
    {prefix}{t}:doc:{name}                                a named document (class rosters, ...)
    {prefix}{t}:student:{s}:activity                      {"v": batch token,
                                                           "days": {date: [first_at, events,
                                                                           [score components]]}}
    {prefix}{t}:student:{s}:skills                        {skill: first_at}
    {prefix}{t}:student:{s}:completions                   {skill: {exercise: first_at}}
    {prefix}{t}:student:{s}:recent                        {skill: [[occurred_at, event id,
                                                                    score], ...]}
    {prefix}{t}:student:{s}:failures                      {skill: [[occurred_at, event id,
                                                                    error_type], ...]}
    {prefix}{t}:student:{s}:mastery:{date}:{component}    {skill: [n, w0..w7, s0..s7]}
    {prefix}{t}:student:{s}:events:{date}                 {event id: [ingested_at, occurred_at,
                                                                      type]}
    {prefix}{t}:event:{id}                                {"student", "ingested_at",
                                                           "occurred_at", "body"}   (with a TTL)

Ids are percent-encoded inside keys, so a `:` or `%` in an id can never make another key, and
Dapr's reserved separator `||` cannot appear. The raw event record is keyed by tenant and id:
it is created only if missing, which makes the store itself enforce one event per id.

`recent` holds each skill's latest quiz answers and `failures` its latest failed attempts that
name an error type, oldest first (`core.recent`). Students whose data was written before a
window existed have no such document: their windows start empty and fill with what arrives
from then on (the day buckets already count the older events).
"""

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic
from urllib.parse import quote

from mastery_engine.core.aggregates import SCORE_COMPONENTS, StudentAggregates
from mastery_engine.core.events import Event
from mastery_engine.core.instants import day_of
from mastery_engine.core.recent import (
    RECENT_ANSWERS,
    RECENT_FAILURES,
    Answer,
    Failure,
    M,
    merged,
)
from mastery_engine.stores import rows
from mastery_engine.stores.base import CONFIG

Days = Mapping[str, Sequence[Any]]


@dataclass(frozen=True, slots=True)
class Kept(Generic[M]):
    """A window document: its name, its length, and how an entry becomes a mark and back."""

    name: str
    k: int
    mark: Callable[..., M]
    row: Callable[[M], Sequence[Any]]


def _answer(at: int, event_id: str, score: float) -> Answer:
    return Answer(int(at), event_id, float(score))


def _failure(at: int, event_id: str, error_type: str) -> Failure:
    return Failure(int(at), event_id, error_type)


ANSWERS = Kept("recent", RECENT_ANSWERS, _answer, rows.answer_row)
FAILURES = Kept("failures", RECENT_FAILURES, _failure, rows.failure_row)


def part(text: str) -> str:
    """An id as it appears inside a key."""
    return quote(text, safe="")


class Keys:
    """Key names under one prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def tenants(self) -> str:
        """Every tenant with data (purge starts here)."""
        return f"{self.prefix}tenants"

    def students(self, tenant: str) -> str:
        """The tenant's student ids."""
        return f"{self.prefix}{part(tenant)}:students"

    def audit(self, tenant: str, number: int | None = None) -> str:
        """The count of audit entries, or one entry (numbered from 0, zero-padded to sort)."""
        head = f"{self.prefix}{part(tenant)}:audit"
        return head if number is None else f"{head}:{number:012d}"

    def document(self, tenant: str, name: str) -> str:
        """A named document of the tenant; the configuration keeps the key it always had."""
        if name == CONFIG:
            return f"{self.prefix}{part(tenant)}:config"
        return f"{self.prefix}{part(tenant)}:doc:{part(name)}"

    def event(self, tenant: str, event_id: str) -> str:
        """The raw event record, which is also its de-duplication record."""
        return f"{self.prefix}{part(tenant)}:event:{part(event_id)}"

    def student(self, tenant: str, student: str, *rest: str) -> str:
        """A document of one student."""
        return ":".join((f"{self.prefix}{part(tenant)}:student:{part(student)}", *rest))

    def bucket(self, tenant: str, student: str, date: str, component: str) -> str:
        """A day's score sums of one component, per skill."""
        return self.student(tenant, student, "mastery", date, component)

    def events_on(self, tenant: str, student: str, date: str) -> str:
        """The index of the student's events that occurred on a date."""
        return self.student(tenant, student, "events", date)

    def profile(self, tenant: str, student: str) -> list[str]:
        """The student's activity, skills, completions and window documents (activity first)."""
        return [
            self.student(tenant, student, name)
            for name in ("activity", "skills", "completions", ANSWERS.name, FAILURES.name)
        ]

    def buckets(self, tenant: str, student: str, days: Days) -> list[str]:
        """Every score bucket the activity document lists."""
        return [
            self.bucket(tenant, student, date, component)
            for date, (_, _, components) in days.items()
            for component in components
        ]

    def indexes(self, tenant: str, student: str, days: Days) -> list[str]:
        """The event index of every active day."""
        return [self.events_on(tenant, student, date) for date in days]


def batch_keys(keys: Keys, tenant: str, events: Sequence[Event]) -> list[str]:
    """Every key applying `events` may read or write."""
    wanted = {keys.tenants(): None, keys.students(tenant): None}
    for e in events:
        date = rows.iso(day_of(e.occurred_at))
        wanted.update(dict.fromkeys(keys.profile(tenant, e.student_id)))
        wanted[keys.event(tenant, e.id)] = None
        wanted[keys.events_on(tenant, e.student_id, date)] = None
        component = SCORE_COMPONENTS.get(e.type)
        if component is not None:
            wanted[keys.bucket(tenant, e.student_id, date, component.value)] = None
    return list(wanted)


class Documents:
    """The documents a batch changes, each starting from its stored value."""

    def __init__(self, stored: Mapping[str, Any]) -> None:
        self.stored = stored
        self.changed: dict[str, Any] = {}

    def get(self, key: str, empty: Any) -> Any:
        """The document to change in place (`stored` is parsed afresh for every attempt)."""
        if key not in self.changed:
            self.changed[key] = self.stored.get(key, empty)
        return self.changed[key]


def merge(
    keys: Keys, tenant: str, new: Sequence[Event], ingested_at: int, stored: Mapping[str, Any]
) -> dict[str, Any]:
    """New values of the documents that `new` events change (sums, minimums, unions, windows).

    Each touched student's activity document gets a fresh `v`, so a cached snapshot is checked
    against one small document.
    """
    docs = Documents(stored)
    batch = rows.batch_rows(new)
    for student in batch.students:
        docs.get(keys.student(tenant, student, "activity"), {"days": {}})["v"] = uuid.uuid4().hex
    for student, date, first_at, count in batch.activity:
        days = docs.get(keys.student(tenant, student, "activity"), {})["days"]
        old = days.get(date, [first_at, 0, []])
        days[date] = [min(old[0], first_at), old[1] + count, old[2]]
    for student, date, component, skill, *sums in batch.scores:
        bucket = docs.get(keys.bucket(tenant, student, date, component), {})
        old = bucket.get(skill)
        bucket[skill] = sums if old is None else [a + b for a, b in zip(old, sums, strict=True)]
        listed = docs.get(keys.student(tenant, student, "activity"), {})["days"][date][2]
        if component not in listed:
            listed.append(component)
    _keep_first(docs, keys, tenant, batch)
    _keep_latest(docs, keys, tenant, ANSWERS, batch.recent)
    _keep_latest(docs, keys, tenant, FAILURES, batch.failures)
    for e in new:
        index = docs.get(keys.events_on(tenant, e.student_id, rows.iso(day_of(e.occurred_at))), {})
        index[e.id] = [ingested_at, e.occurred_at, e.type.value]
    _list_new(docs, keys.students(tenant), batch.students)
    _list_new(docs, keys.tenants(), [tenant])
    return docs.changed


def _keep_first(docs: Documents, keys: Keys, tenant: str, batch: rows.BatchRows) -> None:
    for student, skill, exercise, first_at in batch.completions:
        done = docs.get(keys.student(tenant, student, "completions"), {}).setdefault(skill, {})
        done[exercise] = min(done.get(exercise, first_at), first_at)
    for student, skill, first_at in batch.skills:
        skills = docs.get(keys.student(tenant, student, "skills"), {})
        skills[skill] = min(skills.get(skill, first_at), first_at)


def _keep_latest(
    docs: Documents, keys: Keys, tenant: str, kept: Kept[M], found: Iterable[Sequence[Any]]
) -> None:
    """Merge a batch's rows into each student x skill window of one window document."""
    marks: dict[tuple[str, str], list[M]] = {}
    for student, skill, *entry in found:
        marks.setdefault((student, skill), []).append(kept.mark(*entry))
    for (student, skill), more in marks.items():
        windows = docs.get(keys.student(tenant, student, kept.name), {})
        window = tuple(kept.mark(*entry) for entry in windows.get(skill, []))
        windows[skill] = [list(kept.row(m)) for m in merged(window, more, kept.k)]


def _list_new(docs: Documents, key: str, names: Iterable[str]) -> None:
    listed = docs.stored.get(key, [])
    missing = set(names) - set(listed)
    if missing:
        docs.changed[key] = sorted({*listed, *missing})


def raw_records(keys: Keys, tenant: str, new: Sequence[Event], ingested_at: int) -> dict[str, Any]:
    """The raw record of each new event."""
    return {
        keys.event(tenant, e.id): {
            "student": e.student_id,
            "ingested_at": ingested_at,
            "occurred_at": e.occurred_at,
            "body": rows.event_body(e),
        }
        for e in new
    }


def snapshot(
    keys: Keys, tenant: str, student: str, days: Days, stored: Mapping[str, Any]
) -> StudentAggregates:
    """A student's aggregates from the activity days and the other documents."""
    scores = [
        (date, component, skill, *sums)
        for date, (_, _, components) in days.items()
        for component in components
        for skill, sums in stored.get(keys.bucket(tenant, student, date, component), {}).items()
    ]
    done = stored.get(keys.student(tenant, student, "completions"), {})
    skills = stored.get(keys.student(tenant, student, "skills"), {})
    return rows.aggregates_from_rows(
        [(date, entry[0]) for date, entry in days.items()],
        scores,
        [(skill, exercise, at) for skill, by in done.items() for exercise, at in by.items()],
        list(skills.items()),
        _entries(stored, keys.student(tenant, student, ANSWERS.name)),
        failures=_entries(stored, keys.student(tenant, student, FAILURES.name)),
    )


def _entries(stored: Mapping[str, Any], key: str) -> list[Sequence[Any]]:
    """A window document as rows (skill, *entry); a missing one is an empty window."""
    return [(skill, *entry) for skill, entries in stored.get(key, {}).items() for entry in entries]
