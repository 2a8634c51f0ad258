"""Which mastery moves are worth announcing: a new level, or a move of at least a threshold."""

from collections.abc import Iterable
from dataclasses import dataclass

from mastery_engine.core.formula import Level, SkillMastery, level_of

DEFAULT_THRESHOLD = 0.05
# Mastery values are sums of floats: a move of exactly the threshold may come out a hair short.
_NOISE = 1e-9


@dataclass(frozen=True, slots=True)
class MasteryChange:
    """One skill of one student, before and after a batch, evaluated at the same instant."""

    student_id: str
    skill_id: str
    old_mastery: float
    new_mastery: float
    old_level: Level
    new_level: Level
    as_of: int


def significant(old: float, new: float, threshold: float = DEFAULT_THRESHOLD) -> bool:
    """True when the level differs or mastery moved by at least `threshold` either way."""
    return level_of(old) is not level_of(new) or abs(new - old) >= threshold - _NOISE


def changes(
    student_id: str,
    before: Iterable[SkillMastery],
    after: Iterable[SkillMastery],
    as_of: int,
    threshold: float = DEFAULT_THRESHOLD,
) -> list[MasteryChange]:
    """The significant moves from `before` to `after`; a skill absent before counts as 0."""
    previous = {m.skill_id: m.mastery for m in before}
    moves = []
    for now in after:
        old = previous.get(now.skill_id, 0.0)
        if significant(old, now.mastery, threshold):
            moves.append(
                MasteryChange(
                    student_id,
                    now.skill_id,
                    old,
                    now.mastery,
                    level_of(old),
                    now.level,
                    as_of,
                )
            )
    return moves
