"""Ingest items that must first be mapped onto canonical events, reporting every item in order."""

from collections.abc import Callable, Sequence
from typing import Any

from mastery_engine.core.errors import InvalidEvent, PayloadTooLarge
from mastery_engine.service.mastery import MasteryService
from mastery_engine.service.outcomes import IngestReport, Outcome, Status


def printable_id(raw: object) -> str | None:
    """The `id` an item carries, when it can be echoed back."""
    value = raw.get("id") if isinstance(raw, dict) else None
    return value if isinstance(value, str) and value.isprintable() else None


async def ingest_mapped(
    service: MasteryService,
    tenant: str,
    items: Sequence[object],
    convert: Callable[[object], dict[str, Any]],
) -> IngestReport:
    """Map each item, ingest those that map as one batch; unmappable items are rejected."""
    if len(items) > service.max_batch:
        raise PayloadTooLarge(f"a batch holds at most {service.max_batch} items, got {len(items)}")
    mapped: list[dict[str, Any]] = []
    outcomes: list[Outcome | None] = []  # None: settled by the service below
    for raw in items:
        try:
            mapped.append(convert(raw))
            outcomes.append(None)
        except InvalidEvent as exc:
            outcomes.append(Outcome(printable_id(raw), Status.REJECTED, exc.message, exc.field))
    report = await service.ingest(tenant, mapped) if mapped else IngestReport(())
    settled = iter(report.results)
    return IngestReport(tuple(o if o is not None else next(settled) for o in outcomes))
