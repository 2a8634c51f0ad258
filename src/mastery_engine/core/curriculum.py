"""Curricula: skills, their exercise counts, prerequisites and course material (activities)."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mastery_engine.core.activities import ActivityIndex
from mastery_engine.core.errors import InvalidConfig

SKILL_KEYS = ("id", "exercises", "prerequisites", "activities")
UNKNOWN_SKILL_EXERCISES = 10
MAX_EXERCISES = 2**53  # the largest whole number every JSON reader holds exactly


@dataclass(frozen=True, slots=True)
class Skill:
    """One skill: how many exercises it has, which skills come first, and the IRI prefixes of
    the course material that belongs to it (`activities`: a course, a unit, one activity)."""

    id: str
    exercises: int
    prerequisites: tuple[str, ...] = ()
    activities: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Curriculum:
    """An ordered, validated set of skills (prerequisites always listed before)."""

    skills: tuple[Skill, ...]
    _by_id: dict[str, Skill] = field(init=False, repr=False, compare=False)
    activities: ActivityIndex = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {s.id: s for s in self.skills})
        prefixes = ((prefix, s.id) for s in self.skills for prefix in s.activities)
        object.__setattr__(self, "activities", ActivityIndex.of(prefixes))

    def get(self, skill_id: str) -> Skill | None:
        """The skill with this id, if the curriculum has it."""
        return self._by_id.get(skill_id)

    def exercise_count(self, skill_id: str) -> int:
        """Exercises of a skill; a skill the curriculum does not know counts 10."""
        skill = self.get(skill_id)
        return skill.exercises if skill else UNKNOWN_SKILL_EXERCISES

    @property
    def skill_ids(self) -> tuple[str, ...]:
        """Skill ids in curriculum order."""
        return tuple(s.id for s in self.skills)

    def to_json(self) -> dict[str, Any]:
        """The curriculum as the JSON/YAML document `from_mapping` reads."""
        return {"skills": [_skill_json(s) for s in self.skills]}

    @classmethod
    def from_mapping(cls, document: object, *, strict: bool = True) -> "Curriculum":
        """Build from `{"skills": [{"id", "exercises", "prerequisites", "activities"}]}`.

        `strict=False` passes over unknown keys of a skill (a document stored before they
        were refused) instead of refusing them.
        """
        items = document.get("skills") if isinstance(document, Mapping) else document
        if not isinstance(items, Sequence) or isinstance(items, str) or not items:
            raise InvalidConfig(
                "a curriculum is {'skills': [...]} with at least one skill", field="skills"
            )
        skills = [_skill(item, i, strict) for i, item in enumerate(items)]
        return cls(tuple(_ordered(skills)))


def _skill_json(skill: Skill) -> dict[str, Any]:
    found: dict[str, Any] = {
        "id": skill.id,
        "exercises": skill.exercises,
        "prerequisites": list(skill.prerequisites),
    }
    return found | {"activities": list(skill.activities)} if skill.activities else found


def _skill(item: object, index: int, strict: bool) -> Skill:
    path = f"skills[{index}]"
    if not isinstance(item, Mapping):
        raise InvalidConfig(f"{path} must be an object with {', '.join(SKILL_KEYS)}")
    unknown = sorted(str(key) for key in item if key not in SKILL_KEYS)
    if unknown and strict:
        raise InvalidConfig(
            f"{path} has unknown keys {unknown}; allowed: {', '.join(SKILL_KEYS)}",
            field=f"{path}.{unknown[0]}",
        )
    skill_id = item.get("id")
    if not isinstance(skill_id, str) or not skill_id.strip():
        raise InvalidConfig(f"{path}.id must be a non-empty string", field=f"{path}.id")
    count = item.get("exercises")
    if isinstance(count, float) and count.is_integer():  # JSON does not tell 3.0 from 3
        count = int(count)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_EXERCISES:
        raise InvalidConfig(
            f"{path}.exercises must be a positive integer (at most 2**53), got {count!r}",
            field=f"{path}.exercises",
        )
    prerequisites = item.get("prerequisites") or []
    if not isinstance(prerequisites, Sequence) or isinstance(prerequisites, str):
        raise InvalidConfig(f"{path}.prerequisites must be a list of skill ids")
    if not all(isinstance(p, str) for p in prerequisites):
        raise InvalidConfig(f"{path}.prerequisites must be a list of skill ids")
    return Skill(skill_id, count, tuple(prerequisites), _activities(item, path))


def _activities(item: Mapping[str, Any], path: str) -> tuple[str, ...]:
    found = item.get("activities", [])
    where = f"{path}.activities"
    if not isinstance(found, Sequence) or isinstance(found, str):
        raise InvalidConfig(f"{where} must be a list of IRI prefixes", field=where)
    for i, prefix in enumerate(found):
        if not isinstance(prefix, str) or not prefix.strip():
            raise InvalidConfig(
                f"{where}[{i}] must be a non-empty string (an IRI prefix), got {prefix!r}",
                field=f"{where}[{i}]",
            )
    return tuple(dict.fromkeys(found))


def _check_activities(skills: list[Skill]) -> None:
    """Each activity prefix belongs to one skill."""
    owners: dict[str, str] = {}
    for skill in skills:
        for prefix in skill.activities:
            if prefix in owners:
                raise InvalidConfig(
                    f"activity prefix {prefix!r} is on two skills, {owners[prefix]!r} and"
                    f" {skill.id!r}; a prefix belongs to one skill",
                    field="activities",
                )
            owners[prefix] = skill.id


def _ordered(skills: list[Skill]) -> list[Skill]:
    """Topological order (stable), refusing duplicates, unknown prerequisites and cycles."""
    by_id: dict[str, Skill] = {}
    for skill in skills:
        if skill.id in by_id:
            raise InvalidConfig(f"skill {skill.id!r} is listed twice")
        by_id[skill.id] = skill
    _check_activities(skills)
    for skill in skills:
        unknown = [p for p in skill.prerequisites if p not in by_id]
        if unknown:
            raise InvalidConfig(f"skill {skill.id!r} has unknown prerequisites: {unknown}")
    ordered: list[Skill] = []
    state: dict[str, int] = {}  # 1 = visiting, 2 = done

    def visit(skill: Skill, trail: tuple[str, ...]) -> None:
        if state.get(skill.id) == 2:
            return
        if state.get(skill.id) == 1:
            cycle = " -> ".join((*trail[trail.index(skill.id) :], skill.id))
            raise InvalidConfig(f"prerequisites form a cycle: {cycle}")
        state[skill.id] = 1
        for prerequisite in skill.prerequisites:
            visit(by_id[prerequisite], (*trail, skill.id))
        state[skill.id] = 2
        ordered.append(skill)

    for skill in skills:
        visit(skill, ())
    return ordered


DEFAULT_CURRICULUM = Curriculum(
    (
        Skill("basics", 10),
        Skill("control-flow", 12, ("basics",)),
        Skill("data-structures", 12, ("control-flow",)),
        Skill("functions", 10, ("control-flow",)),
        Skill("oop", 15, ("functions", "data-structures")),
        Skill("files", 8, ("functions",)),
        Skill("errors", 8, ("functions",)),
        Skill("libraries", 6, ("files", "errors")),
    )
)
