"""What the use cases answer: per-event outcomes of an ingest, the moves it caused, a
student's mastery at an instant."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from mastery_engine.core.aggregates import StudentAggregates
from mastery_engine.core.changes import MasteryChange
from mastery_engine.core.events import Event
from mastery_engine.core.formula import SkillMastery


class Status(StrEnum):
    """Outcome of one event of a batch."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
    SKIPPED = "skipped"  # a learning record that makes no event by design (its `reason`)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one submitted event or record; `event` as validated (unless it was
    rejected or skipped); `reason` why a record was skipped; `warning` what to fix in a
    mapping."""

    id: str | None
    status: Status
    error: str | None = None
    field: str | None = None
    event: Event | None = None
    reason: str | None = None
    warning: str | None = None


@dataclass(frozen=True, slots=True)
class IngestReport:
    """Per-event outcomes of a batch, in submission order."""

    results: tuple[Outcome, ...]

    def count(self, status: Status) -> int:
        """How many events ended with this status."""
        return sum(1 for r in self.results if r.status is status)


@dataclass(frozen=True, slots=True)
class TrackedIngest:
    """A batch's outcomes, the significant mastery moves it caused, and the events it applied
    (its accepted ones; after an interrupted attempt, its duplicates too)."""

    report: IngestReport
    changes: tuple[MasteryChange, ...]
    applied: tuple[Event, ...] = ()
    # The aggregates of the students the batch named, before it and after it.
    before: Mapping[str, StudentAggregates | None] = field(default_factory=dict)
    after: Mapping[str, StudentAggregates | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Baseline:
    """The mastery of the skills a batch names, read before it is applied, the students'
    aggregates they come from, and the instant."""

    at: int
    skills: dict[str, list[SkillMastery]]
    students: dict[str, StudentAggregates | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StudentMastery:
    """Every skill of one student at one instant."""

    student_id: str
    as_of: int
    skills: tuple[SkillMastery, ...]
