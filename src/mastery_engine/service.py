"""Use cases: ingest events and answer mastery questions, from the core and a Store."""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from mastery_engine.core.aggregates import StudentAggregates
from mastery_engine.core.curriculum import Curriculum
from mastery_engine.core.errors import InvalidEvent, InvalidRequest, NotFound, PayloadTooLarge
from mastery_engine.core.events import Event, parse_event
from mastery_engine.core.explain import Explanation, explain
from mastery_engine.core.formula import FormulaConfig, SkillMastery, evaluate, evaluate_student
from mastery_engine.core.history import HistoryPoint, history
from mastery_engine.core.instants import (
    US_PER_DAY,
    US_PER_SECOND,
    day_of,
    day_to_date,
    end_of_day,
)
from mastery_engine.stores.base import Store

MAX_HISTORY_DAYS = 366
CHANGE_WINDOW_DAYS = 7


def wall_clock_us() -> int:
    """Now, in UTC microseconds since the epoch."""
    return time.time_ns() // 1000


class Status(StrEnum):
    """Outcome of one event of a batch."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one submitted event."""

    id: str | None
    status: Status
    error: str | None = None
    field: str | None = None


@dataclass(frozen=True, slots=True)
class IngestReport:
    """Per-event outcomes of a batch, in submission order."""

    results: tuple[Outcome, ...]

    def count(self, status: Status) -> int:
        """How many events ended with this status."""
        return sum(1 for r in self.results if r.status is status)


@dataclass(frozen=True, slots=True)
class StudentMastery:
    """Every skill of one student at one instant."""

    student_id: str
    as_of: int
    skills: tuple[SkillMastery, ...]


class MasteryService:
    """The application: validation, de-duplicated ingestion, and mastery queries."""

    def __init__(
        self,
        store: Store,
        curriculum: Curriculum,
        config: FormulaConfig,
        *,
        clock: Callable[[], int] = wall_clock_us,
        max_batch: int = 1000,
        max_future_s: int = 300,
        retention_days: int = 90,
    ) -> None:
        self.store = store
        self.curriculum = curriculum
        self.config = config
        self.clock = clock
        self.max_batch = max_batch
        self.max_future_us = max_future_s * US_PER_SECOND
        self.retention_us = retention_days * US_PER_DAY

    def validate(self, raw: object) -> Event:
        """Check one decoded JSON value against the event contract."""
        return parse_event(raw, self.clock(), self.max_future_us)

    async def ingest(self, tenant: str, items: Sequence[object]) -> IngestReport:
        """Validate each item, apply the valid ones as one batch, report every outcome."""
        if len(items) > self.max_batch:
            raise PayloadTooLarge(
                f"a batch holds at most {self.max_batch} events, got {len(items)}"
            )
        outcomes: list[Outcome] = []
        valid: list[tuple[int, Event]] = []  # (position in the batch, event)
        for raw in items:
            try:
                valid.append((len(outcomes), self.validate(raw)))
                outcomes.append(Outcome(None, Status.ACCEPTED))  # settled below
            except InvalidEvent as exc:
                raw_id = raw.get("id") if isinstance(raw, dict) else None
                event_id = raw_id if isinstance(raw_id, str) and raw_id.isprintable() else None
                outcomes.append(Outcome(event_id, Status.REJECTED, exc.message, exc.field))
        if valid:
            applied = await self.store.apply(tenant, [e for _, e in valid], self.clock())
            for (position, event), fresh in zip(valid, applied, strict=True):
                status = Status.ACCEPTED if fresh else Status.DUPLICATE
                outcomes[position] = Outcome(event.id, status)
        return IngestReport(tuple(outcomes))

    async def _aggregates(self, tenant: str, student_id: str, as_of: int) -> StudentAggregates:
        aggregates = await self.store.read(tenant, student_id, as_of)
        if aggregates is None:
            raise NotFound(f"student {student_id!r} has no events in this tenant")
        return aggregates

    async def mastery(self, tenant: str, student_id: str, as_of: int | None) -> StudentMastery:
        """Mastery of every curriculum skill and every other skill the student has events for."""
        at = self.clock() if as_of is None else as_of
        aggregates = await self._aggregates(tenant, student_id, at)
        skills = evaluate_student(aggregates, at, self.curriculum, self.config)
        return StudentMastery(student_id, at, tuple(skills))

    async def skill_mastery(
        self, tenant: str, student_id: str, skill_id: str, as_of: int | None
    ) -> tuple[SkillMastery, Explanation]:
        """One skill's mastery with what makes it up, what would raise it and what moved it."""
        at = self.clock() if as_of is None else as_of
        aggregates = await self._aggregates(tenant, student_id, at)
        self._require_skill(aggregates, skill_id)
        current = evaluate(aggregates, skill_id, at, self.curriculum, self.config)
        earlier = end_of_day(day_of(at) - CHANGE_WINDOW_DAYS)
        previous = evaluate(aggregates, skill_id, earlier, self.curriculum, self.config)
        return current, explain(current, self.config, previous)

    async def history(
        self, tenant: str, student_id: str, skill_id: str, days: range
    ) -> list[HistoryPoint]:
        """Mastery at the end of each UTC day of `days`, at most 366 of them."""
        if len(days) == 0:
            first, last = (day_to_date(d).isoformat() for d in (days.start, days.stop - 1))
            raise InvalidRequest(
                f"from ({first}) must not be after to ({last}; to defaults to today)", field="from"
            )
        if len(days) > MAX_HISTORY_DAYS:
            raise InvalidRequest(
                f"a history spans at most {MAX_HISTORY_DAYS} days, asked for {len(days)}",
                field="from",
            )
        aggregates = await self._aggregates(tenant, student_id, end_of_day(days[-1]))
        self._require_skill(aggregates, skill_id)
        return history(aggregates, skill_id, days, self.curriculum, self.config)

    def _require_skill(self, aggregates: StudentAggregates, skill_id: str) -> None:
        if self.curriculum.get(skill_id) is None and skill_id not in aggregates.skills:
            known = ", ".join(self.curriculum.skill_ids)
            raise NotFound(
                f"skill {skill_id!r} is not in the curriculum ({known}) and the student"
                " has no events for it"
            )

    async def purge(self) -> int:
        """Drop raw event records older than the retention period; aggregates stay."""
        return await self.store.purge(self.clock() - self.retention_us)

    async def students(self, tenant: str) -> list[str]:
        """The tenant's students."""
        return await self.store.students(tenant)

    def today(self) -> int:
        """The current UTC day number."""
        return self.clock() // US_PER_DAY
