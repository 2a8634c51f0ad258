"""A tenant's rules: its curriculum and formula settings, from a configuration document.

The document (`GET/PUT /v1/config`) is
`{"weights": {...}, "half_life_days": H, "window_days": W, "curriculum": {"skills": [...]},
"desired_retention": R, "alerts": {...}, "xapi": {"verbs": {...}}, "caliper": {"actions": {...}}}`;
a key that is absent keeps the service-wide default. Aggregates are raw sums, so new rules
apply to every read at once without recomputing anything.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from mastery_engine.core.alerts import AlertThresholds
from mastery_engine.core.curriculum import Curriculum
from mastery_engine.core.errors import InvalidConfig
from mastery_engine.core.formula import FormulaConfig, Weights
from mastery_engine.core.records import RecordRules

KEYS = (
    "weights",
    "half_life_days",
    "window_days",
    "curriculum",
    "desired_retention",
    "alerts",
    "xapi",
    "caliper",
)
WEIGHT_NAMES = tuple(f.name for f in fields(Weights))


@dataclass(frozen=True, slots=True)
class Rules:
    """What mastery is computed with, for one tenant."""

    curriculum: Curriculum
    config: FormulaConfig
    desired_retention: float = 0.9  # a skill recalled with less is due for review
    alerts: AlertThresholds = field(default_factory=AlertThresholds)
    records: RecordRules = field(default_factory=RecordRules)


def rules_from(document: object, defaults: Rules, *, stored: bool = False) -> Rules:
    """Validate a configuration document over the defaults; `InvalidConfig` says what is wrong.

    A `stored` document was validated when it was saved: keys of a curriculum skill that later
    versions refuse are passed over, and alert counts above what the windows keep are read
    as the windows' sizes, so an older tenant keeps working.
    """
    if not isinstance(document, Mapping):
        raise InvalidConfig("the configuration must be a JSON object")
    unknown = sorted(set(document) - set(KEYS))
    if unknown:
        raise InvalidConfig(
            f"unknown configuration keys {unknown}; allowed: {', '.join(KEYS)}", field=unknown[0]
        )
    config = defaults.config
    weights = _weights(document["weights"]) if "weights" in document else config.weights
    half_life = _number(document, "half_life_days", config.half_life_days)
    window = _number(document, "window_days", config.window_days)
    if not float(window).is_integer():
        raise InvalidConfig(
            f"window_days must be a whole number, got {window!r}", field="window_days"
        )
    formula = FormulaConfig(weights, float(half_life), int(window))
    curriculum = defaults.curriculum
    if "curriculum" in document:
        curriculum = Curriculum.from_mapping(document["curriculum"], strict=not stored)
    retention = _number(document, "desired_retention", defaults.desired_retention)
    if not 0 < retention < 1:
        raise InvalidConfig(
            f"desired_retention must be a probability in (0, 1), got {retention!r}",
            field="desired_retention",
        )
    alerts = defaults.alerts
    if "alerts" in document:
        alerts = AlertThresholds.from_json(document["alerts"], stored=stored)
    return Rules(curriculum, formula, retention, alerts, defaults.records.overridden(document))


def document_of(rules: Rules) -> dict[str, Any]:
    """The full configuration document of some rules."""
    config = rules.config
    return {
        "weights": {name: float(getattr(config.weights, name)) for name in WEIGHT_NAMES},
        "half_life_days": config.half_life_days,
        "window_days": config.window_days,
        "curriculum": rules.curriculum.to_json(),
        "desired_retention": rules.desired_retention,
        "alerts": rules.alerts.to_json(),
        **rules.records.to_json(),
    }


def _weights(value: object) -> Weights:
    if not isinstance(value, Mapping):
        raise InvalidConfig("weights must be an object of the four weights", field="weights")
    unknown = sorted(set(value) - set(WEIGHT_NAMES))
    missing = sorted(set(WEIGHT_NAMES) - set(value))
    if unknown or missing:
        raise InvalidConfig(
            f"weights needs exactly {', '.join(WEIGHT_NAMES)}"
            + (f"; unknown: {unknown}" if unknown else "")
            + (f"; missing: {missing}" if missing else ""),
            field="weights",
        )
    numbers = {name: _finite(value[name], f"weights.{name}") for name in WEIGHT_NAMES}
    return Weights(**numbers)


def _number(document: Mapping[str, Any], key: str, default: float) -> float:
    return _finite(document[key], key) if key in document else default


def _finite(value: object, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidConfig(f"{field} must be a number, got {value!r}", field=field)
    return float(value)
