"""P(correct) on a student's next quiz item of a skill: a logistic model over `features`.

The log-odds are a weighted sum of the features, with weights per skill and global ones for
skills the fit never saw. A model is kept as a JSON document (`to_json` / `from_json`); a
version 1 document, fitted before the decayed sums existed, is the same model with zero
weights on those features.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mastery_engine.core.aggregates import StudentAggregates
from mastery_engine.core.errors import InvalidConfig
from mastery_engine.core.features import DEFAULT_POWER, FEATURES, MAX_POWER, V1_FEATURES, features

MODEL_KIND = "mastery-engine/next-answer-model"
MODEL_VERSION = 2
P_MIN, P_MAX = 1e-6, 1.0 - 1e-6


def _weights(raw: object, where: str, size: int = len(FEATURES)) -> tuple[float, ...]:
    """A validated list of one finite weight per feature."""
    wanted = f"{where} must be a list of {size} finite numbers, one per feature"
    if not isinstance(raw, list | tuple) or len(raw) != size:
        raise InvalidConfig(f"{wanted}, got {_show(raw)}", field=where)
    for value in raw:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidConfig(f"{wanted}; {_show(value)} is not a number", field=where)
        if not math.isfinite(value):
            raise InvalidConfig(f"{wanted}; {value!r} is not finite", field=where)
    return tuple(float(v) for v in raw)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


@dataclass(frozen=True)
class PredictionModel:
    """Weights of the next-answer model: global ones, and per skill where fitted."""

    weights: tuple[float, ...]
    skills: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    recency_power: int = DEFAULT_POWER

    def __post_init__(self) -> None:
        _weights(list(self.weights), "weights")
        for skill_id, weights in self.skills.items():
            _weights(list(weights), f"skills.{skill_id}")
        _power(self.recency_power)

    def weights_of(self, skill_id: str) -> tuple[float, ...]:
        """The skill's own weights, or the global ones for a skill the fit never saw."""
        return self.skills.get(skill_id, self.weights)

    def to_json(self) -> dict[str, Any]:
        """The model as a JSON document (what `from_json` reads back)."""
        return {
            "kind": MODEL_KIND,
            "version": MODEL_VERSION,
            "features": list(FEATURES),
            "recency_power": self.recency_power,
            "weights": list(self.weights),
            "skills": {skill: list(w) for skill, w in sorted(self.skills.items())},
        }

    @classmethod
    def from_json(cls, raw: object) -> "PredictionModel":
        """Read a document of `to_json` (or of version 1); raise `InvalidConfig` saying what
        is wrong."""
        if not isinstance(raw, Mapping):
            raise InvalidConfig(f"a prediction model must be a JSON object, got {_show(raw)}")
        names = _features_of(raw)
        if raw.get("features") != list(names):
            raise InvalidConfig(
                f"model features must be {list(names)}, got {_show(raw.get('features'))}",
                field="features",
            )
        skills = raw.get("skills", {})
        if not isinstance(skills, Mapping) or not all(isinstance(k, str) for k in skills):
            raise InvalidConfig(
                f"skills must map skill ids to weight lists, got {_show(skills)}", field="skills"
            )
        # A version 1 model leaves the features it did not know at zero weight.
        zeros = (0.0,) * (len(FEATURES) - len(names))
        return cls(
            _weights(raw.get("weights"), "weights", len(names)) + zeros,
            {
                skill: _weights(w, f"skills.{skill}", len(names)) + zeros
                for skill, w in skills.items()
            },
            _power(raw.get("recency_power", DEFAULT_POWER)),
        )


def _features_of(raw: Mapping[str, Any]) -> tuple[str, ...]:
    """The features a model document of a known kind and version was fitted on."""
    versions = {1: V1_FEATURES, MODEL_VERSION: FEATURES}
    version = raw.get("version")
    if raw.get("kind") != MODEL_KIND or isinstance(version, bool) or version not in versions:
        got = f"{_show(raw.get('kind'))}, version {_show(version)}"
        raise InvalidConfig(
            f"not a prediction model this service reads: kind must be {MODEL_KIND!r} and"
            f" version 1 or {MODEL_VERSION}, got {got}",
            field="kind",
        )
    return versions[version]


def _power(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_POWER:
        raise InvalidConfig(
            f"recency_power must be an integer from 1 to {MAX_POWER}, got {_show(value)}",
            field="recency_power",
        )
    return value


def logistic(z: float) -> float:
    """1 / (1 + e^-z), without overflow."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def p_correct(
    aggregates: StudentAggregates | None, skill_id: str, as_of: int, model: "PredictionModel"
) -> float:
    """P(the student answers the next quiz item of the skill correctly), as of `as_of`."""
    x = features(aggregates, skill_id, as_of, model.recency_power)
    return clamped(math.fsum(w * f for w, f in zip(model.weights_of(skill_id), x, strict=True)))


def clamped(z: float) -> float:
    """The probability of log-odds `z`, kept inside (0, 1)."""
    return min(max(logistic(z), P_MIN), P_MAX)


# One set of weights for every skill, fitted on all 544,339 answers of the ASSISTments 2015
# skill builders (`mastery-engine import-pykt` of the whole file, then `mastery-engine fit
# --pooled`): its skill ids mean nothing elsewhere, its learning curves do. Rounded to 4
# decimals, in FEATURES order.
DEFAULT_MODEL = PredictionModel(
    (
        0.9202,
        -0.3038,
        0.3315,
        -0.5225,
        0.1146,
        -0.2807,
        0.0639,
        -0.0154,
        0.2468,
        -0.1333,
        1.2109,
        -0.0531,
        -0.3812,
        0.2003,
        0.5614,
        0.2284,
        -0.2083,
        -0.1516,
        -0.2496,
        -0.2504,
    )
)
