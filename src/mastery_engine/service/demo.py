"""A small demo class: six students, four weeks of events ending today."""

import random
from typing import Any

from mastery_engine.core.curriculum import Curriculum
from mastery_engine.core.instants import US_PER_SECOND, day_of, format_us

DEMO_DAYS = 28
# name -> (share of days active, skills reached, mean quiz score, mean code quality)
PROFILES = {
    "ada": (0.9, 6, 0.9, 0.85),
    "grace": (0.75, 4, 0.8, 0.75),
    "linus": (0.6, 3, 0.65, 0.6),
    "guido": (0.5, 2, 0.55, 0.7),
    "margaret": (0.35, 2, 0.4, 0.45),
    "alan": (0.2, 1, 0.3, 0.35),
}


def _day_events(
    rng: random.Random, student: str, skill: str, day_start: int, serial: int
) -> list[dict[str, Any]]:
    _, _, quiz_mean, quality_mean = PROFILES[student]
    at = day_start + rng.randrange(8 * 3600, 20 * 3600) * US_PER_SECOND
    base = {"student_id": student, "skill_id": skill}
    events: list[dict[str, Any]] = []

    def add(kind: str, data: dict[str, Any]) -> None:
        stamp = at + len(events) * 600 * US_PER_SECOND
        eid = f"demo-{student}-{serial}-{len(events)}"
        events.append(
            {"id": eid, "type": kind, "occurred_at": format_us(stamp), "data": data, **base}
        )

    exercise = f"{skill}-ex{rng.randrange(1, 13)}"
    if rng.random() > quiz_mean:
        add(
            "exercise.attempted",
            {"exercise_id": exercise, "passed": False, "error_type": "TypeError"},
        )
    add("exercise.completed", {"exercise_id": exercise})
    if rng.random() < 0.5:
        score = min(1.0, max(0.0, rng.gauss(quiz_mean, 0.12)))
        add("quiz.graded", {"quiz_id": f"{skill}-q{serial}", "score": round(score, 2)})
    if rng.random() < 0.4:
        quality = min(1.0, max(0.0, rng.gauss(quality_mean, 0.1)))
        add(
            "code.reviewed",
            {"submission_id": f"{student}-sub{serial}", "quality": round(quality, 2)},
        )
    add("activity", {"kind": "study_session", "duration_s": rng.randrange(600, 3600)})
    return events


def demo_events(now_us: int, curriculum: Curriculum, seed: int = 7) -> list[dict[str, Any]]:
    """Deterministic events for the demo class, all before `now_us`."""
    rng = random.Random(seed)
    today = day_of(now_us)
    events: list[dict[str, Any]] = []
    for student, (share, reach, _, _) in PROFILES.items():
        skills = curriculum.skill_ids[:reach]
        for offset in range(DEMO_DAYS, 0, -1):
            if rng.random() > share:
                continue
            progress = (DEMO_DAYS - offset) / DEMO_DAYS
            skill = skills[min(len(skills) - 1, int(progress * len(skills)))]
            day_start = (today - offset) * 86_400 * US_PER_SECOND
            events.extend(_day_events(rng, student, skill, day_start, offset))
    return events
