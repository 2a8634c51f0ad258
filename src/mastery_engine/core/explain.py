"""Why a mastery value is what it is, and what would raise it most; why a next-answer
prediction is what it is."""

import math
from dataclasses import dataclass

from mastery_engine.core.aggregates import Component, StudentAggregates
from mastery_engine.core.features import FEATURES, features
from mastery_engine.core.formula import FormulaConfig, SkillMastery
from mastery_engine.core.prediction import PredictionModel, clamped
from mastery_engine.core.recency import RecencyMean


@dataclass(frozen=True, slots=True)
class Part:
    """One component's share of a mastery value and its best next step."""

    component: Component
    value: float
    weight: float
    contribution: float
    headroom: float
    next_step: str
    next_step_gain: float


@dataclass(frozen=True, slots=True)
class Change:
    """How mastery moved since an earlier instant, per component contribution."""

    since: int
    previous: float
    delta: float
    by_component: dict[Component, float]


@dataclass(frozen=True, slots=True)
class Explanation:
    """The parts of a mastery value, the step that would raise it most, and its recent move."""

    parts: tuple[Part, ...]
    raise_most: Component | None
    summary: str
    change: Change | None


def _completion_step(m: SkillMastery, weight: float) -> tuple[str, float]:
    done, total = m.evidence.completed, m.evidence.exercises
    if done >= total:
        return f"all {total} exercises completed", 0.0
    gain = weight * (min(1.0, (done + 1) / total) - m.components.completion)
    return f"complete one more exercise ({done} of {total} done)", gain


def _score_step(m: SkillMastery, c: Component, cfg: FormulaConfig) -> tuple[str, float]:
    mean: RecencyMean = m.evidence.quiz if c is Component.QUIZ else m.evidence.quality
    current = m.components.of(c)
    noun = "quiz" if c is Component.QUIZ else "code review"
    gain = cfg.weights.of(c) * (mean.adding(m.as_of, 1.0, cfg.half_life_days) - current)
    if mean.n == 0:
        return f"get a first {noun} (none yet)", gain
    return f"score 1.0 on a {noun} now ({mean.n} so far, mean {current:.2f})", gain


def _consistency_step(m: SkillMastery, weight: float) -> tuple[str, float]:
    days, window = m.evidence.active_days, m.evidence.window_days
    if m.evidence.active_on_as_of:
        return f"active today; {days} of the last {window} days active", 0.0
    return f"be active today ({days} of the last {window} days active)", weight / window


def _step(m: SkillMastery, c: Component, cfg: FormulaConfig) -> tuple[str, float]:
    weight = cfg.weights.of(c)
    if c is Component.COMPLETION:
        return _completion_step(m, weight)
    if c in (Component.QUIZ, Component.QUALITY):
        return _score_step(m, c, cfg)
    return _consistency_step(m, weight)


def explain(
    mastery: SkillMastery, config: FormulaConfig, previous: SkillMastery | None = None
) -> Explanation:
    """Each component's value, weight and contribution; the biggest next gain; recent change."""
    parts = []
    for c in Component:
        weight, value = config.weights.of(c), mastery.components.of(c)
        step, gain = _step(mastery, c, config)
        parts.append(Part(c, value, weight, weight * value, weight * (1 - value), step, gain))
    best = max(parts, key=lambda p: p.next_step_gain)
    raise_most = best.component if best.next_step_gain > 0 else None
    summary = (
        f"{mastery.level.value} at {mastery.mastery:.2f}; best next step: {best.next_step}"
        f" (+{best.next_step_gain:.3f})"
        if raise_most
        else f"{mastery.level.value} at {mastery.mastery:.2f}; nothing left to raise"
    )
    change = None
    if previous is not None:
        by_component = {
            c: config.weights.of(c) * (mastery.components.of(c) - previous.components.of(c))
            for c in Component
        }
        change = Change(
            previous.as_of, previous.mastery, mastery.mastery - previous.mastery, by_component
        )
    return Explanation(tuple(parts), raise_most, summary, change)


@dataclass(frozen=True, slots=True)
class Driver:
    """How much one feature moved P(correct) away from the skill's base rate."""

    feature: str
    effect: float  # P(correct) with the feature as it is, minus with it at its base value


@dataclass(frozen=True, slots=True)
class Prediction:
    """P(correct), the skill's base rate (a student with no answers yet), and the features
    that moved it most, largest first."""

    p_correct: float
    base_rate: float
    drivers: tuple[Driver, ...]


BASE = features(None, "", 0)  # a student who has answered nothing yet
MAX_DRIVERS = 3


def predict(
    aggregates: StudentAggregates | None, skill_id: str, as_of: int, model: "PredictionModel"
) -> Prediction:
    """P(correct) with its explanation: each feature's effect is the change in P(correct)
    when that feature alone goes back to its value for a student with no answers."""
    x = features(aggregates, skill_id, as_of, model.recency_power)
    weights = model.weights_of(skill_id)
    z = math.fsum(w * f for w, f in zip(weights, x, strict=True))
    base_z = math.fsum(w * f for w, f in zip(weights, BASE, strict=True))
    p = clamped(z)
    effects = [
        Driver(name, p - clamped(z - w * (f - f0)))
        for name, w, f, f0 in zip(FEATURES, weights, x, BASE, strict=True)
        if f != f0 and w != 0.0
    ]
    effects.sort(key=lambda d: (-abs(d.effect), d.feature))
    return Prediction(p, clamped(base_z), tuple(effects[:MAX_DRIVERS]))
