"""Everything held about one student, as one JSON document (GDPR Art. 15 and 20)."""

from collections.abc import Sequence
from typing import Any

from mastery_engine.core.aggregates import StudentAggregates
from mastery_engine.core.events import Event
from mastery_engine.core.formula import SkillMastery
from mastery_engine.core.instants import day_to_date, format_us


def export_document(
    student_id: str,
    aggregates: StudentAggregates,
    events: Sequence[tuple[Event, int]],
    mastery: Sequence[SkillMastery],
    now: int,
) -> dict[str, Any]:
    """The student's aggregates, kept raw events and current mastery, in plain JSON."""
    return {
        "student_id": student_id,
        "exported_at": format_us(now),
        "mastery": [
            {
                "skill_id": m.skill_id,
                "mastery": m.mastery,
                "level": m.level.value,
                "components": m.components._asdict(),
            }
            for m in mastery
        ],
        "aggregates": _aggregates(aggregates),
        "events": [e.to_json() | {"ingested_at": format_us(at)} for e, at in events],
    }


def _aggregates(aggregates: StudentAggregates) -> dict[str, Any]:
    scores = [
        {
            "date": day_to_date(day).isoformat(),
            "component": component.value,
            "skill_id": skill,
            "count": m.n,
            "mean": m.s[0] / m.w[0] if m.w[0] else None,
        }
        for (skill, component), days in sorted(aggregates.scores.items())
        for day, m in sorted(days.items())
    ]
    completions = [
        {"skill_id": skill, "exercise_id": exercise, "first_completed_at": format_us(at)}
        for skill, done in sorted(aggregates.completions.items())
        for exercise, at in sorted(done.items())
    ]
    active = [
        {"date": day_to_date(day).isoformat(), "first_event_at": format_us(at)}
        for day, at in sorted(aggregates.active.items())
    ]
    skills = [
        {"skill_id": skill, "first_event_at": format_us(at)}
        for skill, at in sorted(aggregates.skills.items())
    ]
    return {"scores": scores, "completions": completions, "active_days": active, "skills": skills}
