"""Kafka consumer: decode each message, ingest a batch per tenant, then acknowledge (commit).

At-least-once delivery with an exactly-once effect: offsets are committed only after the
batch is applied (atomically, de-duplicated by event id) and its dead letters and change
events are acknowledged by the broker, so a crash at any point re-reads an applied batch,
whose events are then duplicates and change nothing. A message that can never be ingested
goes to the DLQ with the reason; while the store is unavailable the assigned partitions are
paused (the consumer keeps polling, so it stays in the group) and the batch is retried with
a capped exponential backoff, skipping nothing.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict
from typing import TypeVar

from confluent_kafka import Consumer, Message, TopicPartition

from mastery_engine.core.errors import StoreUnavailable
from mastery_engine.core.instants import format_us
from mastery_engine.formats.decode import Decoded, Reason, decode_value, expand
from mastery_engine.service.guidance import Guidance
from mastery_engine.service.mastery import MasteryService
from mastery_engine.service.outcomes import Baseline, Status, TrackedIngest
from mastery_engine.sources.kafka.config import StreamOptions
from mastery_engine.sources.kafka.dlq import header
from mastery_engine.sources.kafka.offsets import (
    commit,
    next_offsets,
    partition_of,
    received_at,
)
from mastery_engine.sources.kafka.publish import Publisher
from mastery_engine.sources.kafka.stats import ConsumeStats, Progress

log = logging.getLogger(__name__)
T = TypeVar("T")
FIRST_BACKOFF_S = 0.1
JOIN_WAIT_S = 30.0  # burst mode: how long a member that gets no partition waits for one


class Abandoned(Exception):
    """Asked to stop while the store was unavailable: the batch is left for the next run."""


class KafkaSource:
    """One consumer-group member feeding the service."""

    def __init__(
        self,
        service: MasteryService,
        consumer: Consumer,
        publisher: Publisher,
        options: StreamOptions,
        guidance: Guidance | None = None,
    ) -> None:
        self.service = service
        self.guidance = guidance
        self.consumer = consumer
        self.publisher = publisher
        self.options = options
        self.stats = ConsumeStats()
        self._stopping = False
        self._held: list[Message] = []
        self._started_at = time.monotonic()
        self._assigned_at: float | None = None
        self._progress = Progress()

    def stop(self) -> None:
        """Finish (or, if the store is down, abandon) the current batch, then return."""
        self._stopping = True

    async def run(
        self, *, until_idle_s: float | None = None, max_messages: int | None = None
    ) -> ConsumeStats:
        """Consume until stopped; in burst mode, until idle for `until_idle_s` or enough read."""
        self.consumer.subscribe(
            [self.options.topic],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_revoke,
        )
        last_message = time.monotonic()
        try:
            while not self._stopping:
                messages = self._next_batch()
                if messages:
                    await self._process(messages)
                    last_message = time.monotonic()
                elif until_idle_s is not None and self._idle_for(last_message) >= until_idle_s:
                    break
                if max_messages is not None and self.stats.messages >= max_messages:
                    break
                self._progress.tick(self.stats, self.consumer)
                await asyncio.sleep(0)
        except Abandoned:
            log.warning("stopped while the store was unavailable; the batch is left unread")
        self.stats.measure_lag(self.consumer)
        log.info("consumer done: %s", asdict(self.stats))
        return self.stats

    def _idle_for(self, last_message: float) -> float:
        """Seconds without a message since the last one or the last assignment."""
        now = time.monotonic()
        if self._assigned_at is None:  # still joining the group: that is not idleness
            return now - self._started_at - JOIN_WAIT_S
        return now - max(last_message, self._assigned_at)

    def _next_batch(self) -> list[Message]:
        if self._held:
            held, self._held = self._held, []
            return held
        batch = self.consumer.consume(self.options.batch_size, self.options.batch_wait_s)
        usable = []
        for message in batch:
            if message.error() is not None:
                log.warning("consumer error: %s", message.error())
            else:
                usable.append(message)
        return usable

    def _decode(self, message: Message, received_at: str) -> Decoded:
        tenant = header(message, "tenant") or header(message, "ce_tenant")
        return decode_value(message.value(), tenant, self.options.rules, received_at)

    async def _process(self, messages: Sequence[Message]) -> None:
        if self.stats.first_batch_at is None:
            self.stats.first_batch_at = time.monotonic()
        now = format_us(self.service.clock())
        groups: dict[str, list[tuple[Message, Decoded]]] = {}
        for message in messages:
            decoded = self._decode(message, now)
            if decoded.item is None:
                self._dead_letter(message, decoded, now)
            else:
                groups.setdefault(decoded.tenant, []).append((message, decoded))
        for tenant, members in groups.items():
            await self._ingest(tenant, members, now)
        self.publisher.confirm()
        commit(self.consumer, next_offsets(messages))
        self.stats.messages += len(messages)
        self.stats.batches += 1
        self.stats.last_batch_at = time.monotonic()

    async def _ingest(self, tenant: str, members: list[tuple[Message, Decoded]], now: str) -> None:
        """Map the tenant's learning records, then ingest its events a batch at a time."""
        rules = await self._until_available(lambda: self.service.rules(tenant))
        events: list[tuple[Message, Decoded]] = []
        for message, decoded in members:
            in_force = self.options.rules.in_force(decoded.kind, rules, received_at(message, now))
            for one in expand(decoded, in_force):
                if one.warning is not None:
                    self.stats.warnings += 1
                    log.info("tenant %r, event %r: %s", tenant, one.event_id, one.warning)
                if one.item is not None:
                    events.append((message, one))
                elif one.skipped is not None:
                    self.stats.skipped += 1
                else:
                    self._dead_letter(message, one, now)
        size = self.service.max_batch
        for start in range(0, len(events), size):
            await self._ingest_batch(tenant, events[start : start + size], now)

    async def _ingest_batch(
        self, tenant: str, members: list[tuple[Message, Decoded]], now: str
    ) -> None:
        tracked = await self._apply(tenant, [d.item for _, d in members])
        for (message, decoded), outcome in zip(members, tracked.report.results, strict=True):
            if outcome.status is Status.REJECTED:
                rejected = Decoded(
                    tenant,
                    None,
                    outcome.id,
                    Reason.INVALID_EVENT,
                    outcome.error,
                    outcome.field,
                    record=decoded.record,
                )
                self._dead_letter(message, rejected, now)
        await self._announce_struggles(tenant, tracked)
        for change in tracked.changes:
            self.publisher.change(tenant, change)
            if change.old_level is not change.new_level:
                move = (change.old_level.value, change.new_level.value)
                self.stats.transitions[move] = self.stats.transitions.get(move, 0) + 1
        self.stats.accepted += tracked.report.count(Status.ACCEPTED)
        self.stats.duplicates += tracked.report.count(Status.DUPLICATE)
        self.stats.changes += len(tracked.changes)

    def _dead_letter(self, message: Message, decoded: Decoded, now: str) -> None:
        self.publisher.dead_letter(message, decoded, now)
        self.stats.dead_letters += 1

    async def _announce_struggles(self, tenant: str, tracked: TrackedIngest) -> None:
        """Publish the struggle alerts the batch made fire (best effort: the batch is applied)."""
        if self.guidance is None or self.publisher.out_topic is None:
            return
        try:
            fired = await self.guidance.struggles(tenant, tracked)
        except StoreUnavailable as exc:
            log.warning("struggle alerts of a batch not announced: %s", exc.message)
            return
        for student_id, alert in fired:
            self.publisher.struggle(tenant, student_id, alert)
            self.stats.struggles += 1

    async def _apply(self, tenant: str, items: list[object]) -> TrackedIngest:
        baseline: Baseline | None = None  # read once, kept across attempts (see ingest_tracked)
        interrupted = False  # an earlier attempt got past the baseline: it may have applied

        async def attempt() -> TrackedIngest:
            nonlocal baseline, interrupted
            if baseline is None and self.publisher.out_topic is not None:
                baseline = await self.service.baseline(tenant, items)
            try:
                return await self._attempt(tenant, items, baseline, interrupted)
            except StoreUnavailable:
                interrupted = baseline is not None
                raise

        return await self._until_available(attempt)

    async def _until_available(self, call: Callable[[], Awaitable[T]]) -> T:
        """The call's answer; while the store is unavailable, pause, back off and call again."""
        backoff = FIRST_BACKOFF_S
        while True:
            try:
                answer = await call()
            except StoreUnavailable as exc:
                if not self.stats.paused:
                    log.warning("store unavailable, pausing the partitions: %s", exc.message)
                    self._pause()
                self.stats.retries += 1
                await self._wait(backoff)
                backoff = min(backoff * 2, self.options.retry_max_s)
                continue
            if self.stats.paused:
                log.info("store available again, resuming after %d retries", self.stats.retries)
                self._resume()
            return answer

    async def _attempt(
        self, tenant: str, items: list[object], baseline: Baseline | None, interrupted: bool
    ) -> TrackedIngest:
        """Ingest; detect mastery changes only when they are published (with a baseline)."""
        if baseline is None:
            return TrackedIngest(await self.service.ingest(tenant, items), ())
        threshold = self.options.change_threshold
        return await self.service.ingest_tracked(
            tenant, items, threshold, baseline, interrupted=interrupted
        )

    def _pause(self) -> None:
        self.stats.paused = True
        self.consumer.pause(self.consumer.assignment())

    def _resume(self) -> None:
        self.stats.paused = False
        self.consumer.resume(self.consumer.assignment())

    async def _wait(self, seconds: float) -> None:
        """Keep polling (group membership) while waiting; hold whatever still arrives."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self._stopping:
                raise Abandoned
            arrived = self.consumer.consume(self.options.batch_size, min(left, 0.5))
            fresh = [m for m in arrived if m.error() is None]
            if fresh:  # partitions assigned meanwhile were not paused yet
                self._held += fresh
                where = {partition_of(m) for m in fresh}
                self.consumer.pause([TopicPartition(t, p) for t, p in where])
            await asyncio.sleep(0)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assigned_at = time.monotonic()
        log.info("assigned partitions %s", _names(partitions))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info("revoked partitions %s", _names(partitions))


def _names(partitions: list[TopicPartition]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in partitions) or "none"
