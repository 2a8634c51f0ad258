"""Use cases: ingest events and answer mastery questions, from the core and a Store."""

import time
from collections.abc import Callable, Sequence
from typing import Any

from mastery_engine.core.aggregates import StudentAggregates
from mastery_engine.core.changes import DEFAULT_THRESHOLD, MasteryChange, changes
from mastery_engine.core.curriculum import Curriculum
from mastery_engine.core.errors import InvalidRequest, NotFound, PayloadTooLarge
from mastery_engine.core.events import Event, parse_event
from mastery_engine.core.explain import Explanation, explain
from mastery_engine.core.export import export_document
from mastery_engine.core.formula import FormulaConfig, SkillMastery, evaluate, evaluate_student
from mastery_engine.core.history import HistoryPoint, history
from mastery_engine.core.instants import (
    US_PER_DAY,
    US_PER_SECOND,
    day_of,
    day_to_date,
    end_of_day,
    format_us,
)
from mastery_engine.core.rosters import CLASSES, classes_of, without_student
from mastery_engine.core.rules import Rules, document_of, rules_from
from mastery_engine.service.batches import by_student, check_batch, skill_named
from mastery_engine.service.outcomes import (
    Baseline,
    IngestReport,
    Outcome,
    Status,
    StudentMastery,
    TrackedIngest,
)
from mastery_engine.stores.base import CONFIG, Document, Store

MAX_HISTORY_DAYS = 366
RULES_TTL_S = 1.0  # other replicas see a configuration change within this time
CHANGE_WINDOW_DAYS = 7


def wall_clock_us() -> int:
    """Now, in UTC microseconds since the epoch."""
    return time.time_ns() // 1000


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
        self.defaults = Rules(curriculum, config)
        self._rules: dict[str, tuple[float, Rules]] = {}
        self.clock = clock
        self.max_batch = max_batch
        self.max_future_us = max_future_s * US_PER_SECOND
        self.retention_days = retention_days
        self.retention_us = retention_days * US_PER_DAY

    def validate(self, raw: object) -> Event:
        """Check one decoded JSON value against the event contract."""
        return parse_event(raw, self.clock(), self.max_future_us)

    def check(self, tenant: str, items: Sequence[object]) -> IngestReport:
        """What `ingest` would answer without the store (see `batches.check_batch`)."""
        if len(items) > self.max_batch:
            raise PayloadTooLarge(
                f"a batch holds at most {self.max_batch} events, got {len(items)}"
            )
        return check_batch(tenant, items, self.validate)

    async def ingest(self, tenant: str, items: Sequence[object]) -> IngestReport:
        """Validate each item, apply the valid ones as one batch, report every outcome."""
        outcomes = list(self.check(tenant, items).results)
        valid = [(i, o.event) for i, o in enumerate(outcomes) if o.event is not None]
        if valid:
            applied = await self.store.apply(tenant, [e for _, e in valid], self.clock())
            for (position, event), fresh in zip(valid, applied, strict=True):
                if not fresh:
                    outcomes[position] = Outcome(event.id, Status.DUPLICATE, event=event)
        return IngestReport(tuple(outcomes))

    async def baseline(self, tenant: str, items: Sequence[object]) -> Baseline:
        """The mastery of the (student, skill) pairs a batch names, now."""
        at = self.clock()
        students, skills = await self._named_at(tenant, by_student(map(skill_named, items)), at)
        return Baseline(at, skills, students)

    async def ingest_tracked(
        self,
        tenant: str,
        items: Sequence[object],
        threshold: float = DEFAULT_THRESHOLD,
        baseline: Baseline | None = None,
        *,
        interrupted: bool = False,
    ) -> TrackedIngest:
        """Ingest a batch and report the mastery moves of the skills its events name.

        Only the (student, skill) pairs the batch's events name are evaluated, before and
        after: a skill-less activity event moves consistency a little for every skill, and
        that drift (like the drift of time itself) is not announced. The "after" read costs
        a version check: the store moved its cached snapshots on with the batch.

        After an `interrupted` attempt of the same batch (the store stopped answering; it may
        have applied the batch all the same), the batch's duplicates count as its own,
        measured against the `baseline` read before that attempt: a store that applied a
        batch after the deadline loses none of its announcements.
        """
        if baseline is None:
            baseline = await self.baseline(tenant, items)
        report = await self.ingest(tenant, items)
        own = {Status.ACCEPTED, Status.DUPLICATE} if interrupted else {Status.ACCEPTED}
        applied = tuple(r.event for r in report.results if r.status in own and r.event)
        fresh = by_student((e.student_id, e.skill_id) for e in applied if e.skill_id is not None)
        after, evaluated = await self._named_at(tenant, fresh, baseline.at)
        moves: list[MasteryChange] = []
        for student, skills in sorted(evaluated.items()):
            moves += changes(student, baseline.skills[student], skills, baseline.at, threshold)
        before = {s: baseline.students.get(s) for s in after}
        return TrackedIngest(report, tuple(moves), applied, before, after)

    async def _named_at(
        self, tenant: str, wanted: dict[str, list[str]], at: int
    ) -> tuple[dict[str, StudentAggregates | None], dict[str, list[SkillMastery]]]:
        """Each student's aggregates at `at` (one batch read), and its named skills then."""
        rules = await self.rules(tenant)
        found = dict(zip(wanted, await self.store.read_many(tenant, list(wanted), at), strict=True))
        return found, {
            student: [
                evaluate(aggregates, skill, at, rules.curriculum, rules.config) for skill in skills
            ]
            if (aggregates := found[student]) is not None
            else []
            for student, skills in wanted.items()
        }

    async def aggregates(self, tenant: str, student_id: str, as_of: int) -> StudentAggregates:
        """A student's aggregates up to `as_of`, or `NotFound` in this tenant."""
        aggregates = await self.store.read(tenant, student_id, as_of)
        if aggregates is None:
            raise NotFound(f"student {student_id!r} has no events in this tenant")
        return aggregates

    async def mastery(self, tenant: str, student_id: str, as_of: int | None) -> StudentMastery:
        """Mastery of every curriculum skill and every other skill the student has events for."""
        at = self.clock() if as_of is None else as_of
        aggregates = await self.aggregates(tenant, student_id, at)
        rules = await self.rules(tenant)
        skills = evaluate_student(aggregates, at, rules.curriculum, rules.config)
        return StudentMastery(student_id, at, tuple(skills))

    async def skill_mastery(
        self, tenant: str, student_id: str, skill_id: str, as_of: int | None
    ) -> tuple[SkillMastery, Explanation]:
        """One skill's mastery with what makes it up, what would raise it and what moved it."""
        at = self.clock() if as_of is None else as_of
        aggregates = await self.aggregates(tenant, student_id, at)
        curriculum, config = await self._rules_for_skill(tenant, aggregates, skill_id)
        current = evaluate(aggregates, skill_id, at, curriculum, config)
        earlier = end_of_day(day_of(at) - CHANGE_WINDOW_DAYS)
        previous = evaluate(aggregates, skill_id, earlier, curriculum, config)
        return current, explain(current, config, previous)

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
        aggregates = await self.aggregates(tenant, student_id, end_of_day(days[-1]))
        curriculum, config = await self._rules_for_skill(tenant, aggregates, skill_id)
        return history(aggregates, skill_id, days, curriculum, config)

    async def _rules_for_skill(
        self, tenant: str, aggregates: StudentAggregates, skill_id: str
    ) -> tuple[Curriculum, FormulaConfig]:
        """The tenant's rules, once the skill is known to its curriculum or the student."""
        rules = await self.rules(tenant)
        curriculum = rules.curriculum
        if curriculum.get(skill_id) is None and skill_id not in aggregates.skills:
            known = ", ".join(curriculum.skill_ids)
            raise NotFound(
                f"skill {skill_id!r} is not in the curriculum ({known}) and the student"
                " has no events for it"
            )
        return curriculum, rules.config

    async def rules(self, tenant: str) -> Rules:
        """The tenant's curriculum and formula (its configuration over the defaults)."""
        cached = self._rules.get(tenant)
        if cached is not None and time.monotonic() - cached[0] < RULES_TTL_S:
            return cached[1]
        document = await self.store.get_document(tenant, CONFIG)
        rules = (
            self.defaults if document is None else rules_from(document, self.defaults, stored=True)
        )
        self._rules[tenant] = (time.monotonic(), rules)
        return rules

    async def configuration(self, tenant: str) -> dict[str, Any]:
        """The tenant's effective configuration, and whether it differs from the defaults."""
        document = document_of(await self.rules(tenant))
        return document | {"customised": await self.store.get_document(tenant, CONFIG) is not None}

    async def configure(self, tenant: str, document: object, actor: str) -> dict[str, Any]:
        """Validate and store a configuration (absent keys keep the defaults); audited."""
        rules = rules_from(document, self.defaults)
        assert isinstance(document, dict)
        await self.store.put_document(tenant, CONFIG, document)
        self._rules[tenant] = (time.monotonic(), rules)
        await self.audit(tenant, actor, "configure", None, {"keys": sorted(document)})
        return await self.configuration(tenant)

    async def erase(self, tenant: str, student_id: str, actor: str) -> dict[str, Any]:
        """Remove every record of a student, and them from every class (idempotent); audited."""
        removed = await self.store.delete_student(tenant, student_id)
        named = 0

        def unlist(document: Document | None) -> Document | None:
            nonlocal named
            rosters, named = without_student(document, student_id)
            return dict(rosters) if named else None

        await self.store.update_document(tenant, CLASSES, unlist)
        removed += named
        await self.audit(tenant, actor, "erase", student_id, {"records_removed": removed})
        return {"student_id": student_id, "records_removed": removed}

    async def export(self, tenant: str, student_id: str, actor: str) -> dict[str, Any]:
        """Everything held about a student; audited."""
        now = self.clock()
        aggregates = await self.aggregates(tenant, student_id, now)
        rules = await self.rules(tenant)
        mastery = evaluate_student(aggregates, now, rules.curriculum, rules.config)
        events = await self.store.events_of(tenant, student_id)
        document = export_document(student_id, aggregates, events, mastery, now)
        classes = classes_of(await self.store.get_document(tenant, CLASSES), student_id)
        outcome = {"events": len(events), "skills": len(mastery)}
        await self.audit(tenant, actor, "export", student_id, outcome)
        kept = {"raw_event_retention_days": self.retention_days}
        return document | {"tenant": tenant, "classes": classes} | kept

    async def audit_log(self, tenant: str, limit: int = 100) -> list[dict[str, Any]]:
        """The tenant's latest audit entries, newest first."""
        return await self.store.audit_log(tenant, limit)

    async def audit(
        self, tenant: str, actor: str, action: str, student_id: str | None, outcome: object
    ) -> None:
        """Append who did what to which student (ids only) to the tenant's audit log."""
        entry: dict[str, object] = {
            "at": format_us(self.clock()),
            "actor": actor,
            "action": action,
            "student_id": student_id,
            "outcome": outcome,
        }
        await self.store.audit(tenant, entry)

    async def purge(self) -> int:
        """Drop raw event records older than the retention period; aggregates stay."""
        return await self.store.purge(self.clock() - self.retention_us)

    async def students(self, tenant: str) -> list[str]:
        """The tenant's students."""
        return await self.store.students(tenant)

    def today(self) -> int:
        """The current UTC day number."""
        return self.clock() // US_PER_DAY
