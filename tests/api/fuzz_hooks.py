"""Schemathesis hooks of the fuzzing test: the few rules no JSON Schema can state.

The OpenAPI document states every rule of the service that JSON Schema can express, so a
request it calls valid must be accepted and one it calls invalid refused. A few rules depend
on the server's clock, on the caller, or relate two values; the document states them in words
only. These hooks make the requests Schemathesis draws as valid obey those rules too (the
requests it draws as invalid are left alone), so any refusal left is a real disagreement.
"""

import math
import time
from typing import Any

import schemathesis
from schemathesis import Case, HookContext

from mastery_engine.core.instants import US_PER_DAY, parse_date, parse_rfc3339
from mastery_engine.core.rules import WEIGHT_NAMES
from mastery_engine.service.mastery import MAX_HISTORY_DAYS

TENANT = "fuzz"  # the tenant of the fuzzing token
PAST = "2026-01-01T00:00:00Z"


def _event(body: dict[str, Any]) -> None:
    """At most 5 minutes after the server's clock; a `tenant_id` is the caller's own."""
    if parse_rfc3339(body["occurred_at"], "occurred_at") > time.time_ns() // 1000:
        body["occurred_at"] = PAST
    if "tenant_id" in body:
        body["tenant_id"] = TENANT


def _weights(weights: dict[str, float]) -> None:
    """Weights sum to 1."""
    largest = max(weights[name] for name in WEIGHT_NAMES)
    scaled = {name: weights[name] / largest if largest else 1.0 for name in WEIGHT_NAMES}
    total = math.fsum(scaled.values())
    weights.update({name: value / total for name, value in scaled.items()})


def _skills(skills: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Distinct skill ids; prerequisites name skills listed before (so no cycle)."""
    kept: list[dict[str, Any]] = []
    for skill in skills:
        if any(other["id"] == skill["id"] for other in kept):
            continue
        if isinstance(skill.get("prerequisites"), list):
            earlier = {other["id"] for other in kept}
            skill["prerequisites"] = [p for p in skill["prerequisites"] if p in earlier]
        kept.append(skill)
    return kept


def _configuration(document: dict[str, Any]) -> None:
    if "weights" in document:
        _weights(document["weights"])
    curriculum = document.get("curriculum")
    if isinstance(curriculum, dict):
        curriculum["skills"] = _skills(curriculum["skills"])
    elif isinstance(curriculum, list):
        document["curriculum"] = _skills(curriculum)


def _history(query: dict[str, Any]) -> None:
    """`from` <= `to` (default today), at most MAX_HISTORY_DAYS days apart."""
    if "from" not in query:
        return  # `from` defaults to `to` - 29 days
    first = parse_date(query["from"], "from")
    last = parse_date(query["to"], "to") if "to" in query else time.time_ns() // 1000 // US_PER_DAY
    if not 0 <= last - first < MAX_HISTORY_DAYS:
        query["to"] = query["from"]


def _obey(case: Case) -> None:
    """Make a request the document calls valid obey the rules it states in words only."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return
    route = (case.method.upper(), case.path)
    if route == ("POST", "/v1/events") and isinstance(case.body, dict):
        _event(case.body)
    elif route == ("PUT", "/v1/config") and isinstance(case.body, dict):
        _configuration(case.body)
    elif route == ("GET", "/v1/students/{student_id}/skills/{skill_id}/history"):
        _history(case.query)


@schemathesis.hook
def map_case(context: HookContext, case: Case) -> Case:
    """Generated requests (coverage, fuzzing and stateful phases)."""
    _obey(case)
    return case


@schemathesis.hook
def before_add_examples(context: HookContext, examples: list[Case]) -> None:
    """Requests built from the document's examples, which `map_case` does not see."""
    for case in examples:
        _obey(case)
