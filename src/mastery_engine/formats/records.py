"""What mapping an xAPI statement or a Caliper event shares: the rules in force, the skill
resolution, the event a treatment makes, and the outcome of one record (pure, no I/O).

The skill of a record is, in this order: the configured extension (`SkillRule.extension`);
the curriculum skill whose `activities` prefix is the longest match of the object's id; the
longest match among the record's context ids (xAPI `contextActivities`; Caliper `isPartOf`,
`assignable`, `group`); the shape of the object's id (`MASTERY_ACTIVITY_SKILL_PATTERN`).
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from mastery_engine.core.activities import ActivityIndex
from mastery_engine.core.records import RecordRules, Treatment
from mastery_engine.formats.mapping import SkillRule

# Statements sent without an id get a version-5 UUID of their canonical JSON in this namespace,
# so the same statement sent again is the same event (a duplicate).
RECORD_NAMESPACE = uuid.UUID("6f0f6c8e-3a38-5b5e-9d57-1d3c0c4f9a11")


@dataclass(frozen=True, slots=True)
class RecordRulesInForce:
    """How one tenant's records map: the deployment's skill rule, the tenant's curriculum
    activities and verb / action tables, and the time a record without one is taken at."""

    skills: SkillRule
    activities: ActivityIndex
    table: RecordRules
    received_at: str

    def skill_of(
        self, object_id: str | None, context_ids: Iterable[str], *extensions: object
    ) -> str | None:
        """The skill of a record (see the module's docstring for the order)."""
        found = self.skills.from_extensions(*extensions)
        if found is None and object_id is not None:
            found = self.activities.skill_of(object_id)
        if found is None:
            found = self.activities.longest(context_ids)
        if found is None and object_id is not None:
            found = self.skills.from_pattern(object_id)
        return found

    def explain(self, object_id: str | None) -> str:
        """How to give a record of this activity a skill."""
        return (
            f"no skill for activity {object_id!r}: put a prefix of its id (or of its course)"
            f" in a curriculum skill's `activities`, or {self.skills.how()}"
        )


@dataclass(frozen=True, slots=True)
class Mapped:
    """One record's canonical event, or why it was skipped; a warning where one is due."""

    event: dict[str, Any] | None
    skipped: str | None = None
    warning: str | None = None


@dataclass(frozen=True, slots=True)
class Facts:
    """What a record says, read from either format, that its event is made from."""

    event_id: str
    student_id: str
    occurred_at: str
    verb: str  # an activity's kind: the verb's last segment, Caliper's type and action
    object_id: str | None
    skill_id: str | None
    score: float | None
    success: bool | None
    duration_s: float | None = None


def skipped(label: str, setting: str) -> Mapped:
    """A record its verb or action says to ignore."""
    return Mapped(
        None,
        skipped=f"{label} is ignored (enrolment or bookkeeping; the tenant's {setting} table"
        " can map it otherwise)",
    )


def typed(facts: Facts, treatment: Treatment, rules: RecordRulesInForce) -> Mapped:
    """The event a treatment makes of a record; an activity (with a warning) without a skill."""
    body: dict[str, Any] | None = None
    activity, score, success = facts.object_id, facts.score, facts.success
    if activity is not None and treatment is not Treatment.ACTIVITY:
        if score is not None and treatment is not Treatment.ATTEMPTED:
            body = {"type": "quiz.graded", "data": {"quiz_id": activity, "score": score}}
        elif treatment is Treatment.COMPLETED:
            body = {"type": "exercise.completed", "data": {"exercise_id": activity}}
        elif success is not None:
            data = {"exercise_id": activity, "passed": success}
            body = {"type": "exercise.attempted", "data": data}
    warning = None
    if body is not None and facts.skill_id is None:
        warning = f"{rules.explain(activity)}; kept as the learner's activity"
        body = None
    if body is None:
        data = {"kind": facts.verb}
        if facts.duration_s is not None:
            data["duration_s"] = facts.duration_s
        body = {"type": "activity", "data": data}
    event = {
        "id": facts.event_id,
        "student_id": facts.student_id,
        "occurred_at": facts.occurred_at,
        **body,
    }
    if facts.skill_id is not None:
        event["skill_id"] = facts.skill_id
    return Mapped(event, warning=warning)


def derived_id(raw: object) -> str:
    """A version-5 UUID of a record's canonical JSON (sorted keys): the same record, the
    same id."""
    canonical = orjson.dumps(raw, option=orjson.OPT_SORT_KEYS)
    return str(uuid.uuid5(RECORD_NAMESPACE, canonical.decode()))
