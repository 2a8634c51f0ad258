"""P(correct) on a student's next quiz item of a skill: a logistic model over quiz counts.

In the spirit of PFA and Best-LR (Gervet et al., 2020), the log-odds are a weighted sum of

- a bias (the skill's difficulty) and a flag for a skill never quizzed before;
- log(1 + wins) and log(1 + fails) on the skill, and over every skill of the student;
- the same counts recency-weighted: an observation at time t weighs v ** p, with
  v = (t - first) / (as_of - first) and `first` the first event of the skill (or of the
  student), so what happened lately counts most, whatever the pace of the student.

A win is the score, a fail 1 - score. Everything comes from the quiz day buckets: the
weighted sums are exact from their power moments, since (c + x) ** p expands into
C(p, j) c ** (p - j) x ** j. Weights are per skill, with global ones for unknown skills.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mastery_engine.core.aggregates import Component, ScoreKey, StudentAggregates
from mastery_engine.core.errors import InvalidConfig
from mastery_engine.core.events import EventType
from mastery_engine.core.instants import US_PER_DAY, day_of
from mastery_engine.core.moments import Moments

FEATURES = (
    "bias",
    "skill_new",
    "skill_wins",
    "skill_fails",
    "student_wins",
    "student_fails",
    "skill_recent_wins",
    "skill_recent_fails",
    "student_recent_wins",
    "student_recent_fails",
)
MODEL_KIND = "mastery-engine/next-answer-model"
MODEL_VERSION = 1
DEFAULT_POWER = 2
MAX_POWER = 4  # higher powers lose precision on buckets only minutes long
P_MIN, P_MAX = 1e-6, 1.0 - 1e-6


@dataclass(frozen=True, slots=True)
class Tally:
    """Wins and fails of some quiz observations, plain and recency-weighted."""

    count: int = 0
    wins: float = 0.0
    fails: float = 0.0
    recent_wins: float = 0.0
    recent_fails: float = 0.0


def _tally(buckets: Sequence[tuple[int, Moments]], as_of: int, first: int, power: int) -> Tally:
    """The counts of (day, moments) buckets, weighting each observation by v ** power."""
    span = (as_of - first) / US_PER_DAY
    count, wins, weight, weighted_wins = 0, 0.0, 0.0, 0.0
    for day, moments in buckets:
        count += moments.n
        wins += moments.s[0]
        if span <= 0:  # everything happened at `as_of`: all equally recent
            weight, weighted_wins = weight + moments.n, weighted_wins + moments.s[0]
            continue
        # The bucket's noon, in days after `first`; observations sit at c + x.
        c = ((day * US_PER_DAY + US_PER_DAY // 2) - first) / US_PER_DAY
        terms = [math.comb(power, j) * c ** (power - j) for j in range(power + 1)]
        weight += sum(t * w for t, w in zip(terms, moments.w, strict=False)) / span**power
        weighted_wins += sum(t * s for t, s in zip(terms, moments.s, strict=False)) / span**power
    return Tally(
        count,
        max(wins, 0.0),
        max(count - wins, 0.0),
        max(weighted_wins, 0.0),
        max(weight - weighted_wins, 0.0),
    )


def _later(aggregates: StudentAggregates, as_of: int) -> dict[str, Moments]:
    """Per skill, the quiz observations of `as_of`'s day that came after it (the tail)."""
    later: dict[str, Moments] = {}
    for event in aggregates.tail:
        score = event.score
        if (
            event.type is EventType.QUIZ_GRADED
            and event.skill_id is not None
            and score is not None
            and as_of < event.occurred_at
            and day_of(event.occurred_at) == day_of(as_of)
        ):
            moments = Moments.of(event.occurred_at, score)
            later[event.skill_id] = later.get(event.skill_id, Moments()) + moments
    return later


def _buckets(
    aggregates: StudentAggregates, key: ScoreKey, as_of: int, later: Mapping[str, Moments]
) -> list[tuple[int, Moments]]:
    """The skill's quiz buckets up to `as_of` (its own day without the tail)."""
    last_day = day_of(as_of)
    found = []
    for day, moments in aggregates.scores.get(key, {}).items():
        if day < last_day:
            found.append((day, moments))
        elif day == last_day:
            kept = moments - later[key[0]] if key[0] in later else moments
            if kept.n > 0:
                found.append((day, kept))
    return found


def _student_tally(aggregates: StudentAggregates, as_of: int, power: int) -> Tally:
    """Counts over every skill of the student, computed once per snapshot and instant."""
    # One entry, for the latest instant: a cached snapshot is asked about a new instant on
    # every request, and keeping them all would grow without bound.
    memo_key = ("prediction.student", power)
    found: tuple[int, Tally] | None = aggregates.memo.get(memo_key)
    if found is not None and found[0] == as_of:
        return found[1]
    starts = [at for at in aggregates.active.values() if at <= as_of]
    tally = Tally()
    if starts:
        later = _later(aggregates, as_of)
        buckets = [
            bucket
            for key in aggregates.scores
            if key[1] is Component.QUIZ
            for bucket in _buckets(aggregates, key, as_of, later)
        ]
        tally = _tally(buckets, as_of, min(starts), power)
    aggregates.memo[memo_key] = (as_of, tally)
    return tally


def features(
    aggregates: StudentAggregates | None, skill_id: str, as_of: int, power: int = DEFAULT_POWER
) -> tuple[float, ...]:
    """The model's inputs, in the order of FEATURES, from events at or before `as_of`."""
    skill, student = Tally(), Tally()
    if aggregates is not None:
        first = aggregates.skills.get(skill_id)
        if first is not None and first <= as_of:
            key = (skill_id, Component.QUIZ)
            buckets = _buckets(aggregates, key, as_of, _later(aggregates, as_of))
            skill = _tally(buckets, as_of, first, power)
        student = _student_tally(aggregates, as_of, power)
    log = math.log1p
    return (
        1.0,
        1.0 if skill.count == 0 else 0.0,
        log(skill.wins),
        log(skill.fails),
        log(student.wins),
        log(student.fails),
        log(skill.recent_wins),
        log(skill.recent_fails),
        log(student.recent_wins),
        log(student.recent_fails),
    )


def _weights(raw: object, where: str) -> tuple[float, ...]:
    """A validated list of one finite weight per feature."""
    wanted = f"{where} must be a list of {len(FEATURES)} finite numbers, one per feature"
    if not isinstance(raw, list | tuple) or len(raw) != len(FEATURES):
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
        """Read a document of `to_json`; raise `InvalidConfig` saying what is wrong."""
        if not isinstance(raw, Mapping):
            raise InvalidConfig(f"a prediction model must be a JSON object, got {_show(raw)}")
        if raw.get("kind") != MODEL_KIND or raw.get("version") != MODEL_VERSION:
            got = f"{_show(raw.get('kind'))}, version {_show(raw.get('version'))}"
            raise InvalidConfig(
                f"not a prediction model of this version: kind must be {MODEL_KIND!r} and"
                f" version {MODEL_VERSION}, got {got}",
                field="kind",
            )
        if raw.get("features") != list(FEATURES):
            raise InvalidConfig(
                f"model features must be {list(FEATURES)}, got {_show(raw.get('features'))}",
                field="features",
            )
        skills = raw.get("skills", {})
        if not isinstance(skills, Mapping) or not all(isinstance(k, str) for k in skills):
            raise InvalidConfig(
                f"skills must map skill ids to weight lists, got {_show(skills)}", field="skills"
            )
        return cls(
            _weights(raw.get("weights"), "weights"),
            {skill: _weights(w, f"skills.{skill}") for skill, w in skills.items()},
            _power(raw.get("recency_power", DEFAULT_POWER)),
        )


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
# skill builders (`mastery-engine fit` pooled, see bench/predict_eval.py): its skill ids mean
# nothing elsewhere, its learning curves do. Rounded to 4 decimals, in FEATURES order.
DEFAULT_MODEL = PredictionModel(
    (1.2495, -0.6597, 0.3528, -0.6831, 0.1031, -0.3108, 0.481, -0.0721, 0.2944, -0.2054)
)
