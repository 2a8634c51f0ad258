"""What the service checks before it applies a batch, and what it takes from a stored
configuration."""

import pytest

from mastery_engine.core.errors import InvalidConfig
from mastery_engine.service.mastery import MasteryService
from mastery_engine.service.outcomes import Status
from mastery_engine.stores.base import CONFIG
from tests.conftest import event


def test_a_dry_check_finds_repeats_within_the_batch(service: MasteryService) -> None:
    first = event("a", "quiz.graded", "2026-03-10T10:00:00Z", quiz_id="q", score=0.5)
    other = event("b", "quiz.graded", "2026-03-10T10:00:00Z", quiz_id="q", score=0.5)
    report = service.check("t", [first, other, first, {"id": "c"}])
    assert [r.status for r in report.results] == [
        Status.ACCEPTED,
        Status.ACCEPTED,
        Status.DUPLICATE,
        Status.REJECTED,
    ]


async def test_a_stored_configuration_keeps_working_with_keys_now_refused(
    service: MasteryService,
) -> None:
    # Saved before unknown skill keys were refused: the tenant's reads keep working.
    older = {"curriculum": {"skills": [{"id": "a", "exercises": 3, "name": "Arrays"}]}}
    await service.store.put_document("t", CONFIG, older)
    rules = await service.rules("t")
    assert rules.curriculum.skill_ids == ("a",)
    with pytest.raises(InvalidConfig) as refused:
        await service.configure("t", older, "admin")
    assert "unknown keys ['name']" in refused.value.message
