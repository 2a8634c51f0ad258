"""Ingest learning records (xAPI statements, Caliper events) that are first mapped onto
canonical events, reporting every record in order: rejected, skipped, or settled by the
service (accepted, duplicate, rejected), with the mapping's warning."""

import dataclasses
from collections.abc import Callable, Sequence

from mastery_engine.core.errors import InvalidEvent, PayloadTooLarge
from mastery_engine.core.events import printable_id
from mastery_engine.formats.records import Mapped
from mastery_engine.service.mastery import MasteryService
from mastery_engine.service.outcomes import IngestReport, Outcome, Status


async def ingest_records(
    service: MasteryService,
    tenant: str,
    records: Sequence[object],
    mapping: Callable[[object], Mapped],
    *,
    time_field: str,
    dry_run: bool = False,
) -> IngestReport:
    """Map each record; ingest the events as one batch (with `dry_run`, only validate them).

    A refusal of the event's time (too far ahead) names the record's own `time_field`.
    """
    if len(records) > service.max_batch:
        raise PayloadTooLarge(
            f"a batch holds at most {service.max_batch} records, got {len(records)}"
        )
    outcomes: list[Outcome | None] = []  # None: settled by the service below
    events, warnings = [], []
    for raw in records:
        try:
            mapped = mapping(raw)
        except InvalidEvent as exc:
            outcomes.append(Outcome(printable_id(raw), Status.REJECTED, exc.message, exc.field))
            continue
        if mapped.event is None:
            outcomes.append(Outcome(printable_id(raw), Status.SKIPPED, reason=mapped.skipped))
            continue
        outcomes.append(None)
        events.append(mapped.event)
        warnings.append(mapped.warning)
    report = IngestReport(())
    if events:
        report = service.check(tenant, events) if dry_run else await service.ingest(tenant, events)
    settled = iter(zip(report.results, warnings, strict=True))
    return IngestReport(
        tuple(o if o is not None else _settled(*next(settled), time_field) for o in outcomes)
    )


def _settled(outcome: Outcome, warning: str | None, time_field: str) -> Outcome:
    if outcome.status is Status.REJECTED:
        if outcome.field == "occurred_at":
            return dataclasses.replace(outcome, field=time_field)
        return outcome
    return outcome if warning is None else dataclasses.replace(outcome, warning=warning)
