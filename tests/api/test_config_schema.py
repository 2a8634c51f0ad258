"""PUT /v1/config: the documented schema and the service agree on what a configuration is."""

import re
from typing import Any

import jsonschema_rs
import pytest

from mastery_engine.api.routes.privacy import CONFIG_SCHEMA, WHITESPACE
from mastery_engine.core.curriculum import DEFAULT_CURRICULUM
from mastery_engine.core.errors import InvalidConfig
from mastery_engine.core.formula import FormulaConfig
from mastery_engine.core.rules import KEYS, Rules, rules_from

SCHEMA = jsonschema_rs.validator_for(CONFIG_SCHEMA, validate_formats=True)
DEFAULTS = Rules(DEFAULT_CURRICULUM, FormulaConfig())
SKILL = {"id": "basics", "exercises": 10}

# Values JSON Schema cannot tell apart from what the service refuses, or that look odd, but
# that both take; and what both refuse. The rules no schema states (weights summing to 1,
# distinct skills, known and acyclic prerequisites) are not here.
BOTH_TAKE: list[dict[str, Any]] = [
    {},
    {"weights": {"completion": 0.25, "quiz": 0.25, "quality": 0.25, "consistency": 0.25}},
    {"window_days": 14.0, "half_life_days": 1},
    {"alerts": {"repeated_error_count": 3.0, "falling_drop": 1}},
    {"curriculum": [SKILL]},
    {"curriculum": {"skills": [{**SKILL, "exercises": 2.0, "prerequisites": False}]}},
    {"curriculum": {"skills": [{**SKILL, "prerequisites": None}], "note": "kept aside"}},
    {"curriculum": {"skills": [{**SKILL, "id": " a ", "prerequisites": {}}]}},
    {"desired_retention": 0.5},
    {"curriculum": [{**SKILL, "activities": ["https://lms/course-1", "urn:x:course:2"]}]},
    {"curriculum": [{**SKILL, "activities": []}]},
    {"xapi": {"verbs": {"https://w3id.org/xapi/acrossx/verbs/evaluated": "attempted"}}},
    {"xapi": {}, "caliper": {"actions": {"NavigationEvent.NavigatedTo": "ignore"}}},
]
BOTH_REFUSE: list[dict[str, Any]] = [
    {"colour": "blue"},
    {"weights": {"completion": 1}},
    {"weights": None},
    {"window_days": 14.5},
    {"window_days": 367},
    {"half_life_days": 0.5},
    {"alerts": {"repeated_error_count": 3.5}},
    {"alerts": {"repeated_error_count": 0}},
    {"alerts": {"sound": True}},
    {"curriculum": []},
    {"curriculum": {"skills": [{**SKILL, "id": " \t\u3000"}]}},
    {"curriculum": {"skills": [{**SKILL, "exercises": 0}]}},
    {"curriculum": {"skills": [{**SKILL, "exercises": True}]}},
    {"curriculum": {"skills": [{**SKILL, "exercises": 2.0**53 + 2}]}},
    {"curriculum": {"skills": [{**SKILL, "prerequisites": "basics"}]}},
    {"curriculum": {"skills": [{**SKILL, "prerequisites": {"a": 1}}]}},
    {"desired_retention": 1},
    {"curriculum": [{**SKILL, "activities": "https://lms/course-1"}]},
    {"curriculum": [{**SKILL, "activities": [" "]}]},
    {"curriculum": [{**SKILL, "activites": ["https://lms/course-1"]}]},
    {"xapi": {"verbs": {"https://x/verb": "graded-ish"}}},
    {"xapi": {"verbs": {" ": "ignore"}}},
    {"xapi": {"actions": {}}},
    {"caliper": {"actions": {"Submitted": None}}},
]


@pytest.mark.parametrize("document", BOTH_TAKE)
def test_both_take(document: dict[str, Any]) -> None:
    rules_from(document, DEFAULTS)
    assert SCHEMA.is_valid(document)


@pytest.mark.parametrize("document", BOTH_REFUSE)
def test_both_refuse(document: dict[str, Any]) -> None:
    with pytest.raises(InvalidConfig):
        rules_from(document, DEFAULTS)
    assert not SCHEMA.is_valid(document)


def test_the_documented_keys_are_the_service_s() -> None:
    assert list(CONFIG_SCHEMA["properties"]) == list(KEYS)


def test_whitespace_is_what_python_strips() -> None:
    blank = re.compile(f"[{WHITESPACE}]")
    for code in range(0x110000):
        char = chr(code)
        assert (blank.fullmatch(char) is not None) == char.isspace(), hex(code)
