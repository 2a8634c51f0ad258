"""The Redis store's announcements of new student versions, and the listener that reads them.

Every write publishes, in the same transaction as the write (on a cluster: in the stage after
it, before the write is acknowledged), `[tenant, version, [student, ...]]` on the channel
`{prefix}mastery:versions` (a sharded channel on a cluster, so it stays on one node). Each
process subscribes with a connection of its own and, before answering a read from its cached
snapshots, reads every announcement already delivered. The writer makes one more round trip
to the server that published before it reports the write done (`_fence`): Redis writes all
the replies of one turn of its event loop before it reads another command, so by then the
announcement is on each subscriber's connection, and a read after an acknowledged write sees
the write (see `stores.freshness`), unless a subscriber has fallen so far behind that Redis
holds its messages in an output buffer. On a cluster a migration of the channel's slot drops
the subscription, which forgets every assurance until the listener subscribes again.
"""

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from redis.asyncio.client import PubSub
from redis.exceptions import RedisClusterException, RedisError

from mastery_engine.stores.freshness import Freshness

log = logging.getLogger(__name__)

CHANNEL = "mastery:versions"
RETRY_S = 1.0  # between attempts to subscribe
IDLE_DRAIN_S = 0.5  # announcements are read at least this often, reads or not


def payload(tenant: str, version: bytes, students: Sequence[str]) -> str:
    """The announcement that these students of a tenant are now at `version` (b"": erased)."""
    return json.dumps([tenant, version.decode(), list(students)])


async def subscribed(pubsub: PubSub, subscribe: Awaitable[Any], timeout_s: float) -> PubSub:
    """`pubsub` once the server confirmed its subscription (it is closed otherwise)."""
    try:
        await subscribe
        reply = await pubsub.get_message(timeout=timeout_s)
        kind = reply["type"] if reply else None
        if kind not in ("subscribe", "ssubscribe", b"subscribe", b"ssubscribe"):
            raise OSError(f"the server did not confirm the subscription in {timeout_s} s")
    except BaseException:
        await closed(pubsub)
        raise
    return pubsub


async def closed(pubsub: PubSub | None) -> None:
    """Close a subscription's connection, whatever state it is in."""
    if pubsub is not None:
        with contextlib.suppress(RedisError, OSError):
            await pubsub.aclose()  # type: ignore[no-untyped-call]


class Listener:
    """Reads the announcements into a `Freshness`, never waiting for the server."""

    def __init__(
        self, subscribe: Callable[[], Any], freshness: Freshness, *, sharded: bool
    ) -> None:
        self._subscribe = subscribe  # a coroutine: a PubSub subscribed to the channel
        self._freshness = freshness
        self._kinds = (b"smessage",) if sharded else (b"message",)
        self._pubsub: PubSub | None = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._closed = asyncio.Event()

    def start(self) -> None:
        """Subscribe in the background, and again whenever the subscription is lost."""
        if self._task is None:
            self._task = asyncio.create_task(self._keep_listening())

    async def drain(self) -> None:
        """Read every announcement delivered so far (nothing to do while not subscribed)."""
        async with self._lock:
            if self._pubsub is None:
                return
            try:
                while (message := await self._pubsub.get_message(timeout=0)) is not None:
                    self._take(message)
            except (RedisError, RedisClusterException, OSError, ValueError) as exc:
                await self._lose(exc)

    def _take(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        kind = kind if isinstance(kind, bytes) else kind.encode()
        if kind in self._kinds:
            try:  # anything unreadable on the channel counts as announcements lost
                tenant, version, students = json.loads(message["data"])
                heard = [((tenant, student), version.encode()) for student in students]
            except (ValueError, TypeError, AttributeError) as exc:
                raise ValueError(f"an announcement could not be read ({exc})") from exc
            for key, announced in heard:
                self._freshness.heard(key, announced)
        elif kind == b"pong":
            self._freshness.alive()
        elif kind in (b"subscribe", b"ssubscribe"):  # the client reconnected and resubscribed
            self._freshness.started()
        elif kind in (b"unsubscribe", b"sunsubscribe"):  # a cluster moved the channel's slot
            raise ValueError("the channel was unsubscribed")

    async def _reconnected(self, connection: Any) -> None:
        # The client reconnects on its own; what was announced in between is lost to us.
        self._freshness.lost()

    async def _keep_listening(self) -> None:
        # Reads stay cheap and the server's output buffer small when nobody reads for a while.
        while not self._closed.is_set():
            if self._pubsub is None:
                await self._subscribed()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._closed.wait(), IDLE_DRAIN_S if self._pubsub else RETRY_S
                )
            await self.drain()
            await self._ping()

    async def _ping(self) -> None:
        # Its answer, read by the next drain, shows the connection still reaches the store.
        async with self._lock:
            if self._pubsub is None:
                return
            try:
                await self._pubsub.ping()
            except (RedisError, RedisClusterException, OSError) as exc:
                await self._lose(exc)

    async def _subscribed(self) -> None:
        try:
            pubsub = await self._subscribe()  # returns once the server confirmed it
        except (RedisError, RedisClusterException, OSError) as exc:
            log.warning("cannot listen to the store's announcements (%s); reads ask it", exc)
            return
        async with self._lock:
            if self._closed.is_set():
                await closed(pubsub)
                return
            self._pubsub = pubsub
            self._freshness.started()
            if pubsub.connection is not None:
                pubsub.connection.register_connect_callback(self._reconnected)

    async def _lose(self, exc: Exception) -> None:
        log.warning("announcements were lost (%s); reads ask the store", exc)
        self._freshness.lost()
        pubsub, self._pubsub = self._pubsub, None
        await closed(pubsub)

    async def close(self) -> None:
        """Stop listening."""
        self._closed.set()  # the client may swallow a cancellation: the loop ends anyway
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        async with self._lock:
            self._freshness.lost()
            pubsub, self._pubsub = self._pubsub, None
            await closed(pubsub)
