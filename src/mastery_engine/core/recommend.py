"""What a student should do next: learning steps and reviews, ranked by the mastery they add.

Eligibility: a skill is recommended only when every prerequisite is above 0.70, i.e.
Proficient or Mastered on the formula's rounded percentage (exactly 0.70 is not enough). A
prerequisite without a value counts as 0. This holds for reviews too.

Steps, each about one study session (a quiz or a reviewed submission takes about as long as
three exercises, so their gains compare like for like):

  ``start`` / ``practice``  the next ``PRACTICE_STEP`` = 3 exercises (fewer if fewer remain):
                            gain ``w_C * k / exercises``; ``start`` when the skill has no
                            completion, quiz or review yet;
  ``quiz``                  one quiz now, expected to score the skill's readiness;
  ``improve-quality``       one code review now, expected to score the same;
  ``review``                a quiz on a skill whose memory has faded (below).

Readiness is the best evidence of what the student can do on the skill: the largest of its
completion share and its quiz and quality means. A step's expected gain is what it adds to
the weighted mastery (explain's per-step gains; recency means via `RecencyMean.adding`).

Each skill below Mastered gets one learning step:

1. Exercises first: while exercises are left, practice. Their gain is the same whenever
   they are done, and a quiz or review scores higher after them.
2. Then the quiz or the code review, whichever adds more.

A skill is weak while its scores (the weighted mean of its quiz and quality means) are below
``WEAK`` = 0.60, whatever its mastery (completion and consistency can carry a skill to
Proficient on weak scores):

3. Practice before retesting: on a weak skill each quiz or review after the first should
   follow 3 more exercises beyond the curriculum's count (completion is capped at 1, so
   extra exercises exist); until they are done the step is ``practice``, carrying the
   expected gain of the retest it prepares.
4. Weak prerequisites first: a weak prerequisite holds back its dependants below
   Proficient, and its own step is ranked with theirs instead.

Reviews: a skill with quiz history whose retrievability (FSRS, from `reviews`) is below
`desired_retention` gets a ``review``, even when Mastered. Its expected gain is the quiz
mastery at stake, ``w_Q * Q * (1 - R)``, which grows as memory fades (urgency).

Ranking: first the steps that move skills below Proficient (and weak prerequisites); then
reviews and the steps that polish Proficient skills, and steps held back by a weak
prerequisite. Within each group by expected gain, then curriculum order, skill id, action.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from mastery_engine.core.aggregates import Component
from mastery_engine.core.curriculum import Curriculum
from mastery_engine.core.explain import explain
from mastery_engine.core.formula import FormulaConfig, Level, SkillMastery
from mastery_engine.core.recency import RecencyMean

PRACTICE_STEP = 3
WEAK = 0.60
PASSING = (Level.PROFICIENT, Level.MASTERED)
_NOISE = 1e-12  # gains below this are floating-point residue, not progress


class Action(StrEnum):
    """What a recommendation asks the student to do."""

    START = "start"
    PRACTICE = "practice"
    QUIZ = "quiz"
    IMPROVE_QUALITY = "improve-quality"
    REVIEW = "review"


ACTION_ORDER = tuple(Action)


@dataclass(frozen=True, slots=True)
class Recommendation:
    """One suggested step, why, the weighted mastery it should add, and its rank (from 1)."""

    skill_id: str
    action: Action
    reason: str
    expected_gain: float
    priority: int


@dataclass(frozen=True, slots=True)
class Step:
    """A step before ranking; `later` steps rank after every other one."""

    skill_id: str
    action: Action
    reason: str
    gain: float
    later: bool = False


def eligible(skill_id: str, by_id: Mapping[str, SkillMastery], curriculum: Curriculum) -> bool:
    """True when every prerequisite of the skill is above 0.70 (Proficient or better)."""
    skill = curriculum.get(skill_id)
    prerequisites = skill.prerequisites if skill else ()
    return all(p in by_id and by_id[p].level in PASSING for p in prerequisites)


def readiness(m: SkillMastery) -> float:
    """The score expected on the next quiz or review: the skill's best evidence so far."""
    c = m.components
    return max(c.completion, c.quiz, c.quality)


def scores(m: SkillMastery, config: FormulaConfig) -> float | None:
    """The weighted mean of the skill's quiz and quality means; None before any score."""
    weights, ev = config.weights, m.evidence
    pairs = [
        (weights.quiz, m.components.quiz, ev.quiz.n),
        (weights.quality, m.components.quality, ev.quality.n),
    ]
    seen = [(w, value) for w, value, n in pairs if n > 0]
    total = sum(w for w, _ in seen)
    if not seen or total <= 0:
        return None
    return sum(w * value for w, value in seen) / total


def _practice(m: SkillMastery, one_exercise_gain: float) -> Step | None:
    done, total = m.evidence.completed, m.evidence.exercises
    count = min(PRACTICE_STEP, total - done)
    gain = one_exercise_gain * count
    if count <= 0 or gain <= _NOISE:
        return None
    exercises = f"{count} exercise{'s' if count > 1 else ''}"
    if done == 0 and m.evidence.quiz.n == 0 and m.evidence.quality.n == 0:
        reason = f"Start {m.skill_id} with its first {exercises} to add {gain:.2f} mastery"
        return Step(m.skill_id, Action.START, reason, gain)
    reason = (
        f"Complete the next {exercises} of {m.skill_id} ({done} of {total} done)"
        f" to add {gain:.2f} mastery"
    )
    return Step(m.skill_id, Action.PRACTICE, reason, gain)


def _scored(m: SkillMastery, component: Component, config: FormulaConfig) -> Step:
    mean: RecencyMean = m.evidence.quiz if component is Component.QUIZ else m.evidence.quality
    score = readiness(m)
    after = mean.adding(m.as_of, score, config.half_life_days)
    gain = config.weights.of(component) * (after - m.components.of(component))
    if component is Component.QUIZ:
        action, what = Action.QUIZ, f"Take a quiz on {m.skill_id} (expected score"
    else:
        action, what = (
            Action.IMPROVE_QUALITY,
            f"Get code on {m.skill_id} reviewed (expected quality",
        )
    return Step(m.skill_id, action, f"{what} {score:.2f}) to add {gain:.2f} mastery", gain)


def _retest_waits(m: SkillMastery, config: FormulaConfig) -> float | None:
    """The scores mean when the skill should be practised before its next retest, else None."""
    mean = scores(m, config)
    if mean is None or mean >= WEAK:
        return None
    ev = m.evidence
    extra = max(0, ev.completed - ev.exercises)
    return mean if extra < PRACTICE_STEP * (ev.quiz.n + ev.quality.n - 1) else None


def learning_step(m: SkillMastery, config: FormulaConfig) -> Step | None:
    """The skill's next learning step by rules 1-3; None when nothing would add anything."""
    parts = {p.component: p for p in explain(m, config).parts}
    practice = _practice(m, parts[Component.COMPLETION].next_step_gain)
    if practice is not None:
        return practice
    quiz, quality = _scored(m, Component.QUIZ, config), _scored(m, Component.QUALITY, config)
    best = quiz if quiz.gain >= quality.gain else quality
    if best.gain <= _NOISE:
        return None
    waits = _retest_waits(m, config)
    if waits is None:
        return best
    next_one = "quiz" if best.action is Action.QUIZ else "code review"
    reason = (
        f"Practise {PRACTICE_STEP} more exercises of {m.skill_id} before the next {next_one}"
        f" (scores average {waits:.2f}); then it should add {best.gain:.2f} mastery"
    )
    return Step(m.skill_id, Action.PRACTICE, reason, best.gain)


def review_step(
    m: SkillMastery, recall: float, desired_retention: float, config: FormulaConfig
) -> Step | None:
    """A review once recall falls below the desired retention; its gain is what is at stake."""
    if recall >= desired_retention:
        return None
    at_stake = config.weights.quiz * m.components.quiz * (1.0 - recall)
    reason = (
        f"Review {m.skill_id}: recall has faded to {recall:.0%} (target"
        f" {desired_retention:.0%}); {at_stake:.2f} mastery at stake"
    )
    return Step(m.skill_id, Action.REVIEW, reason, at_stake, later=True)


def _weak_prerequisites(
    m: SkillMastery, by_id: Mapping[str, SkillMastery], rules: tuple[Curriculum, FormulaConfig]
) -> list[str]:
    curriculum, config = rules
    skill = curriculum.get(m.skill_id)
    if skill is None or m.level in PASSING:
        return []
    found = []
    for p in skill.prerequisites:
        mean = scores(by_id[p], config)
        if mean is not None and mean < WEAK:
            found.append(p)
    return found


def _learning_steps(
    eligible_skills: Sequence[SkillMastery],
    by_id: Mapping[str, SkillMastery],
    rules: tuple[Curriculum, FormulaConfig],
) -> list[Step]:
    """Each eligible skill's learning step, marked `later` unless it moves a skill forward."""
    weak = {m.skill_id: _weak_prerequisites(m, by_id, rules) for m in eligible_skills}
    needed = {p for found in weak.values() for p in found}
    steps = []
    for m in eligible_skills:
        step = learning_step(m, rules[1]) if m.level is not Level.MASTERED else None
        if step is None:
            continue
        if m.skill_id in needed:
            step = replace(step, reason=f"{step.reason}; skills after it need it stronger")
        later = (m.level is Level.PROFICIENT or bool(weak[m.skill_id])) and m.skill_id not in needed
        steps.append(replace(step, later=later))
    return steps


def recommend(
    skills: Sequence[SkillMastery],
    curriculum: Curriculum,
    config: FormulaConfig,
    reviews: Mapping[str, float],
    *,
    desired_retention: float = 0.9,
    limit: int = 5,
) -> list[Recommendation]:
    """The `limit` best next steps over eligible skills: learning steps and reviews due."""
    by_id = {m.skill_id: m for m in skills}
    ready = [m for m in skills if eligible(m.skill_id, by_id, curriculum)]
    steps = _learning_steps(ready, by_id, (curriculum, config))
    for m in ready:
        if m.skill_id in reviews:
            review = review_step(m, reviews[m.skill_id], desired_retention, config)
            steps += [review] if review else []
    order = {skill_id: i for i, skill_id in enumerate(curriculum.skill_ids)}
    steps.sort(
        key=lambda s: (
            s.later,
            -s.gain,
            order.get(s.skill_id, len(order)),
            s.skill_id,
            ACTION_ORDER.index(s.action),
        )
    )
    return [
        Recommendation(s.skill_id, s.action, s.reason, s.gain, rank)
        for rank, s in enumerate(steps[: max(0, limit)], start=1)
    ]
