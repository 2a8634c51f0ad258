"""Deterministic synthetic learning events: many students, all five event types, in time order."""

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

SKILLS = (
    "basics",
    "control-flow",
    "data-structures",
    "functions",
    "oop",
    "files",
    "errors",
    "libraries",
)
# The seed's scale: 10 skills per student (the track's 8 plus two of a school's own).
TEN_SKILLS = (*SKILLS, "testing", "async")
ERROR_TYPES = ("TypeError", "NameError", "IndexError", "KeyError", "SyntaxError")
EVENT_GAP = timedelta(minutes=4)
Item = tuple[str, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Profile:
    """How one synthetic student behaves: how often active, how good, how fast."""

    active_share: float
    quiz_mean: float
    quality_mean: float
    pace: float


def student_id(index: int) -> str:
    """The id of the synthetic student number `index`."""
    return f"s-{index:05d}"


def profile(seed: int, index: int) -> Profile:
    """The fixed profile of a student, from the seed and its index."""
    rng = random.Random(seed * 1_000_003 + index)
    return Profile(
        rng.uniform(0.3, 0.95),
        rng.uniform(0.35, 0.95),
        rng.uniform(0.35, 0.95),
        rng.uniform(0.6, 1.3),
    )


def skill_for(
    rng: random.Random, who: Profile, progress: float, skills: tuple[str, ...] = SKILLS
) -> str:
    """The skill of a study day: where the student's pace has got to, sometimes a review."""
    reached = min(len(skills) - 1, int(progress * who.pace * len(skills)))
    if reached > 0 and rng.random() < 0.2:
        return skills[rng.randrange(reached)]
    return skills[reached]


def _score(rng: random.Random, mean: float) -> float:
    return round(min(1.0, max(0.0, rng.gauss(mean, 0.15))), 3)


def exercise_items(rng: random.Random, who: Profile, exercise: str) -> list[Item]:
    """Maybe a failed attempt, then a passed attempt and the completion of one exercise."""
    items: list[Item] = []
    if rng.random() > who.quiz_mean:
        failed = {"exercise_id": exercise, "passed": False, "error_type": rng.choice(ERROR_TYPES)}
        items.append(("exercise.attempted", failed))
    items.append(("exercise.attempted", {"exercise_id": exercise, "passed": True}))
    items.append(("exercise.completed", {"exercise_id": exercise}))
    return items


def day_items(rng: random.Random, who: Profile, skill: str) -> list[Item]:
    """(type, data) of one study day: exercises, maybe a quiz and a code review, a session."""
    items: list[Item] = []
    for _ in range(rng.randint(1, 2)):
        items += exercise_items(rng, who, f"{skill}-ex{rng.randint(1, 12)}")
    if rng.random() < 0.5:
        score = _score(rng, who.quiz_mean)
        items.append(("quiz.graded", {"quiz_id": f"{skill}-q{rng.randint(1, 20)}", "score": score}))
    if rng.random() < 0.4:
        quality = _score(rng, who.quality_mean)
        review = {"submission_id": f"sub-{rng.randrange(10**9)}", "quality": quality}
        items.append(("code.reviewed", review))
    items.append(("activity", {"kind": "study_session", "duration_s": rng.randint(300, 3600)}))
    return items


def stamp(moment: datetime) -> str:
    """RFC 3339 in UTC with a `Z`, to the second."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def student_day(
    seed: int, index: int, days_ago: int, progress: float, skills: tuple[str, ...] = SKILLS
) -> list[dict[str, Any]]:
    """The events of one student on one UTC day (possibly none), fully determined by the seed."""
    who = profile(seed, index)
    rng = random.Random(f"{seed}:{index}:{days_ago}")
    day = midnight_days_ago(days_ago)
    if rng.random() > who.active_share:
        return []
    skill = skill_for(rng, who, progress, skills)
    start = day + timedelta(seconds=rng.randrange(7 * 3600, 20 * 3600))
    sid = student_id(index)
    events = []
    for k, (kind, data) in enumerate(day_items(rng, who, skill)):
        event: dict[str, Any] = {"id": f"{sid}-{day:%Y%m%d}-{k}", "type": kind, "student_id": sid}
        if kind != "activity":
            event["skill_id"] = skill
        event |= {"occurred_at": stamp(start + k * EVENT_GAP), "data": data}
        events.append(event)
    return events


def midnight_days_ago(days_ago: int) -> datetime:
    """UTC midnight of the day `days_ago` days before today."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days_ago)


def stream(students: int, days: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    """Events of `students` students over the `days` UTC days before today, day by day."""
    for days_ago in range(days, 0, -1):
        progress = (days - days_ago) / days
        for index in range(students):
            yield from student_day(seed, index, days_ago, progress)


def batches(events: Iterator[dict[str, Any]], size: int = 1000) -> Iterator[list[dict[str, Any]]]:
    """Consecutive lists of at most `size` events."""
    batch: list[dict[str, Any]] = []
    for event in events:
        batch.append(event)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def encode(batch: list[dict[str, Any]]) -> bytes:
    """A batch as the JSON body of POST /v1/events."""
    return json.dumps(batch, separators=(",", ":")).encode()
