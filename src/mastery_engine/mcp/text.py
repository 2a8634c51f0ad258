"""Compact answers for tutor agents: a few hundred tokens where raw events would be thousands."""

from collections.abc import Sequence

from mastery_engine.core.alerts import Alert
from mastery_engine.core.analytics import ClassMatrix
from mastery_engine.core.explain import Explanation
from mastery_engine.core.formula import SkillMastery
from mastery_engine.core.instants import format_us
from mastery_engine.core.recommend import Recommendation
from mastery_engine.service.outcomes import IngestReport, StudentMastery


def _day(at: int) -> str:
    return format_us(at)[:10]


def _skill(m: SkillMastery) -> str:
    c = m.components
    parts = f"C{c.completion:.2f} Q{c.quiz:.2f} R{c.quality:.2f} S{c.consistency:.2f}"
    return f"{m.skill_id} {m.mastery:.2f} {m.level.value} [{parts}]"


def mastery_text(found: StudentMastery) -> str:
    """One line per skill: mastery, level, the four components."""
    lines = [f"{found.student_id} on {_day(found.as_of)} (mastery, level, [C Q R S]):"]
    lines += [_skill(m) for m in found.skills]
    return "\n".join(lines)


def explanation_text(student_id: str, m: SkillMastery, e: Explanation) -> str:
    """Each component's contribution and next step, the best step, the last week's move."""
    lines = [f"{student_id} {_skill(m)}", e.summary]
    for p in e.parts:
        lines.append(
            f"- {p.component.value}: {p.value:.2f} x {p.weight:g} = {p.contribution:.3f};"
            f" next: {p.next_step} (+{p.next_step_gain:.3f})"
        )
    if e.change is not None:
        lines.append(f"since {_day(e.change.since)}: {e.change.delta:+.3f}")
    return "\n".join(lines)


def recommendations_text(student_id: str, found: Sequence[Recommendation]) -> str:
    """Numbered steps, best first."""
    if not found:
        return f"{student_id}: nothing to recommend (every eligible skill is Mastered)"
    lines = [f"{student_id}, next steps:"]
    lines += [
        f"{r.priority}. {r.action.value} {r.skill_id} (+{r.expected_gain:.3f}): {r.reason}"
        for r in found
    ]
    return "\n".join(lines)


def alerts_text(student_id: str, found: Sequence[Alert]) -> str:
    """One line per alert."""
    if not found:
        return f"{student_id}: no struggle alerts"
    lines = [f"{student_id}, {len(found)} alert(s):"]
    lines += [f"- {a.kind.value} {a.skill_id or '(all skills)'}: {a.message}" for a in found]
    return "\n".join(lines)


def class_text(class_id: str, at: int, matrix: ClassMatrix) -> str:
    """Mastery in % per student and skill, '-' without events; then each skill's mean."""
    lines = [f"class {class_id} on {_day(at)}; columns: {', '.join(matrix.skills)}"]
    for row in matrix.rows:
        cells = " ".join("-" if c is None else f"{round(100 * c.mastery)}" for c in row.cells)
        lines.append(f"{row.student_id}: {cells}")
    means = " ".join(
        "-" if column.mean is None else f"{round(100 * column.mean)}" for column in matrix.columns
    )
    lines.append(f"mean: {means}")
    return "\n".join(lines)


def ingest_text(report: IngestReport) -> str:
    """The one event's outcome."""
    outcome = report.results[0]
    text = f"{outcome.id}: {outcome.status.value}"
    return f"{text} ({outcome.error})" if outcome.error else text
