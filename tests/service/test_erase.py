"""Erasure takes a student out of every class roster too, on every store backend."""

from mastery_engine.core.rosters import CLASSES
from mastery_engine.service.mastery import MasteryService
from tests.conftest import event


async def test_erase_takes_the_student_out_of_every_class(service: MasteryService) -> None:
    store = service.store
    sent = [event("a", "quiz.graded", "2026-03-10T10:00:00Z", quiz_id="q", score=0.5)]
    sent.append(
        event("b", "quiz.graded", "2026-03-10T10:00:00Z", student="s-2", quiz_id="q", score=1)
    )
    await service.ingest("t", sent)
    await store.put_document("t", CLASSES, {"7a": ["s-1", "s-2"], "7b": ["s-1"], "7c": ["s-2"]})
    await store.put_document("u", CLASSES, {"7a": ["s-1"]})
    erased = await service.erase("t", "s-1", "admin")
    removed = erased["records_removed"]
    assert removed >= 3  # the student's records, and two roster entries
    assert await store.get_document("t", CLASSES) == {"7a": ["s-2"], "7b": [], "7c": ["s-2"]}
    assert await store.get_document("u", CLASSES) == {"7a": ["s-1"]}
    assert await store.read("t", "s-1", 0) is None
    # A roster may name a student without events; erasure takes them out too.
    await store.put_document("t", CLASSES, {"7a": ["s-2", "s-9"]})
    assert (await service.erase("t", "s-9", "admin"))["records_removed"] == 1
    assert await store.get_document("t", CLASSES) == {"7a": ["s-2"]}
    assert (await service.erase("t", "s-9", "admin"))["records_removed"] == 0
    actions = [entry["action"] for entry in await store.audit_log("t", 10)]
    assert actions == ["erase", "erase", "erase"]
