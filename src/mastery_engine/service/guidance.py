"""Use cases that look ahead: next steps, struggle alerts, forecasts, next-answer predictions.

Each reads one student's aggregates once (plus the raw events still kept, for alerts) and
hands them to the pure core; nothing here is stored.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from mastery_engine.core.aggregates import StudentAggregates
from mastery_engine.core.alerts import Alert, AlertThresholds, alerts, event_alerts
from mastery_engine.core.events import EventType
from mastery_engine.core.explain import Prediction, predict
from mastery_engine.core.forecast import Forecast, forecast
from mastery_engine.core.formula import SkillMastery, evaluate_student
from mastery_engine.core.history import HistoryPoint, history
from mastery_engine.core.instants import US_PER_DAY, day_of
from mastery_engine.core.memory_model import MemoryParams, retrievability, skill_memory
from mastery_engine.core.prediction import PredictionModel
from mastery_engine.core.recommend import Recommendation, recommend
from mastery_engine.core.rules import Rules
from mastery_engine.service.mastery import MasteryService
from mastery_engine.service.models import TenantModels
from mastery_engine.service.outcomes import TrackedIngest

SERIES_DAYS = 28  # daily history behind forecasts and the falling-mastery alert
# Most steps one recommendations call returns (HTTP `limit`, MCP `recommend_next`).
MAX_RECOMMENDATIONS = 50


@dataclass(frozen=True, slots=True)
class SkillOutlook:
    """One skill's next-answer probability and its forecast."""

    skill_id: str
    mastery: float
    prediction: Prediction
    forecast: Forecast


@dataclass(frozen=True, slots=True)
class _Student:
    aggregates: StudentAggregates
    rules: Rules
    skills: list[SkillMastery]
    at: int
    memory: MemoryParams


class Guidance:
    """Recommendations, alerts, forecasts and predictions, on top of the mastery service."""

    def __init__(
        self, service: MasteryService, model: PredictionModel, memory: MemoryParams | None = None
    ) -> None:
        self.service = service
        # The tenant's own fit, else these.
        self.models = TenantModels(service, model, memory or MemoryParams())

    async def _student(self, tenant: str, student_id: str, as_of: int | None) -> _Student:
        at = self.service.clock() if as_of is None else as_of
        aggregates = await self.service.aggregates(tenant, student_id, at)
        rules = await self.service.rules(tenant)
        skills = evaluate_student(aggregates, at, rules.curriculum, rules.config)
        return _Student(aggregates, rules, skills, at, await self.models.memory_of(tenant))

    def _recall(self, student: _Student) -> dict[str, float]:
        """Retrievability now of every skill with quiz history."""
        recall = {}
        for skill in student.skills:
            memory = student.memory
            state = skill_memory(student.aggregates, skill.skill_id, student.at, memory)
            if state is not None:
                recall[skill.skill_id] = retrievability(state, student.at / US_PER_DAY, memory)
        return recall

    def _series(self, student: _Student) -> dict[str, list[HistoryPoint]]:
        """Each skill's mastery at the end of the last SERIES_DAYS days."""
        last = day_of(student.at)
        days = range(last - SERIES_DAYS + 1, last + 1)
        curriculum, config = student.rules.curriculum, student.rules.config
        return {
            s.skill_id: history(student.aggregates, s.skill_id, days, curriculum, config)
            for s in student.skills
        }

    async def recommendations(
        self, tenant: str, student_id: str, as_of: int | None, limit: int
    ) -> list[Recommendation]:
        """The best next steps: eligible skills' largest gains, and reviews due."""
        student = await self._student(tenant, student_id, as_of)
        rules = student.rules
        return recommend(
            student.skills,
            rules.curriculum,
            rules.config,
            self._recall(student),
            desired_retention=rules.desired_retention,
            limit=limit,
        )

    async def alerts(self, tenant: str, student_id: str, as_of: int | None) -> list[Alert]:
        """Struggle alerts: repeated errors, low quiz scores, inactivity, falling mastery."""
        student = await self._student(tenant, student_id, as_of)
        series = self._series(student)
        return alerts(student.aggregates, series, student.at, student.rules.alerts)

    async def outlook(
        self, tenant: str, student_id: str, as_of: int | None
    ) -> tuple[int, Sequence[SkillOutlook]]:
        """Per skill: P(correct) on its next quiz item and the days to Proficient / Mastered."""
        student = await self._student(tenant, student_id, as_of)
        series = self._series(student)
        model = await self.models.of(tenant)
        return student.at, [
            SkillOutlook(
                s.skill_id,
                s.mastery,
                predict(student.aggregates, s.skill_id, student.at, model),
                forecast(s.skill_id, series[s.skill_id]),
            )
            for s in student.skills
        ]

    async def struggles(self, tenant: str, tracked: TrackedIngest) -> list[tuple[str, Alert]]:
        """(student, alert) for each struggle alert that a batch's applied events made fire.

        Evaluated at the student's latest new event, on the student's windows of latest
        answers and failed attempts before and after the batch (no raw event is read): only
        repeated errors and low quiz scores are event-driven.
        """
        latest: dict[str, int] = {}
        for event in tracked.applied:
            failed = event.type is EventType.EXERCISE_ATTEMPTED and event.data["passed"] is False
            if event.type is EventType.QUIZ_GRADED or failed:
                known = latest.get(event.student_id, event.occurred_at)  # instants may be < 0
                latest[event.student_id] = max(known, event.occurred_at)
        thresholds = (await self.service.rules(tenant)).alerts
        fired = []
        for student_id, at in sorted(latest.items()):
            after = tracked.after.get(student_id)
            if after is None:
                continue
            before = _keyed(tracked.before.get(student_id), at, thresholds)
            for key, alert in _keyed(after, at, thresholds).items():
                if key not in before:
                    fired.append((student_id, alert))
        return fired


def _keyed(
    aggregates: StudentAggregates | None, at: int, thresholds: AlertThresholds
) -> dict[tuple[str, str | None], Alert]:
    if aggregates is None:
        return {}
    return {(a.kind.value, a.skill_id): a for a in event_alerts(aggregates, at, thresholds)}
