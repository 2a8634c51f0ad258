"""How learning records (xAPI statements, Caliper events) become events: a table per verb or
action, the defaults and a tenant's overrides (`"xapi": {"verbs": ...}`, `"caliper":
{"actions": ...}` in its configuration).

- graded (any verb or action not listed): quiz.graded with a score; without one,
  exercise.attempted with a success flag (or the verb passed / failed); else activity
- completed: exercise.completed (quiz.graded when the record carries a score)
- attempted: exercise.attempted with a success flag (or the verb); else activity
- activity: activity
- ignore: nothing; the record is skipped

A graded, completed or attempted record without a skill becomes `activity`, with a warning.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from mastery_engine.core.errors import InvalidConfig


class Treatment(StrEnum):
    """What a verb or action makes of a record."""

    GRADED = "graded"
    COMPLETED = "completed"
    ATTEMPTED = "attempted"
    ACTIVITY = "activity"
    IGNORE = "ignore"


ADL = ("http://adlnet.gov/expapi/verbs/", "https://w3id.org/xapi/adl/verbs/")
TINCAN = "http://id.tincanapi.com/verb/"


def _verbs(names: tuple[str, ...], treatment: Treatment) -> dict[str, Treatment]:
    return {f"{base}{name}": treatment for base in ADL for name in names}


# Enrolment and bookkeeping are skipped; `completed` completes; every other verb is graded
# when it carries a score and is the learner's activity otherwise.
DEFAULT_VERBS: dict[str, Treatment] = {
    **_verbs(("completed",), Treatment.COMPLETED),
    **_verbs(("registered", "unregistered", "voided"), Treatment.IGNORE),
    f"{TINCAN}completed": Treatment.COMPLETED,
    f"{TINCAN}unregistered": Treatment.IGNORE,
}
# Keys: "<Type>.<Action>" (the type without a namespace) or "<Action>" for every type.
DEFAULT_ACTIONS: dict[str, Treatment] = {
    "AssignableEvent.Completed": Treatment.COMPLETED,
    "AssignableEvent.Submitted": Treatment.COMPLETED,
    "AssessmentEvent.Submitted": Treatment.COMPLETED,
    "Activated": Treatment.IGNORE,
    "Deactivated": Treatment.IGNORE,
    "Deleted": Treatment.IGNORE,
}


@dataclass(frozen=True, slots=True)
class RecordRules:
    """The verb and action tables in force for one tenant (defaults plus overrides)."""

    verbs: Mapping[str, Treatment] = field(default_factory=lambda: dict(DEFAULT_VERBS))
    actions: Mapping[str, Treatment] = field(default_factory=lambda: dict(DEFAULT_ACTIONS))

    def verb(self, verb_id: str) -> Treatment:
        """The treatment of an xAPI verb."""
        return self.verbs.get(verb_id, Treatment.GRADED)

    def action(self, event_type: str, action: str) -> Treatment:
        """The treatment of a Caliper action of an event type (the type's own entry first)."""
        found = self.actions.get(f"{event_type}.{action}") or self.actions.get(action)
        return found or Treatment.GRADED

    def overridden(self, document: object) -> "RecordRules":
        """These rules with a configuration's `xapi` / `caliper` overrides, validated."""
        if not isinstance(document, Mapping):
            return self
        verbs = _table(document, "xapi", "verbs")
        actions = _table(document, "caliper", "actions")
        return RecordRules({**self.verbs, **verbs}, {**self.actions, **actions})

    def to_json(self) -> dict[str, Any]:
        """The tables as the configuration shows them."""
        return {
            "xapi": {"verbs": {k: v.value for k, v in sorted(self.verbs.items())}},
            "caliper": {"actions": {k: v.value for k, v in sorted(self.actions.items())}},
        }


TREATMENTS = frozenset(t.value for t in Treatment)
ALLOWED = ", ".join(t.value for t in Treatment)


def _table(document: Mapping[str, Any], key: str, table: str) -> dict[str, Treatment]:
    if key not in document:
        return {}
    section = document[key]
    if not isinstance(section, Mapping) or set(section) - {table}:
        raise InvalidConfig(f'{key} must be {{"{table}": {{...}}}}', field=key)
    entries = section.get(table, {})
    if not isinstance(entries, Mapping):
        raise InvalidConfig(f"{key}.{table} must be an object", field=f"{key}.{table}")
    found: dict[str, Treatment] = {}
    for name, value in entries.items():
        where = f"{key}.{table}.{name}"
        if not isinstance(name, str) or not name.strip():
            raise InvalidConfig(f"{key}.{table} keys must be non-empty strings", field=where)
        if not isinstance(value, str) or value not in TREATMENTS:
            raise InvalidConfig(f"{where} is {value!r}; allowed: {ALLOWED}", field=where)
        found[name] = Treatment(value)
    return found
