"""The Redis store's connection handling and tenant-wide keys: named documents (configuration
too) and the audit log (the base of `RedisStore`)."""

import hashlib
import json
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar, cast

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import NoScriptError, RedisClusterException, RedisError

from mastery_engine.core.errors import StoreUnavailable
from mastery_engine.stores.base import CONFIG, Change, Document
from mastery_engine.stores.redis import scripts
from mastery_engine.stores.redis.options import reason

if TYPE_CHECKING:
    from redis.asyncio.cluster import ClusterPipeline, RedisCluster

T = TypeVar("T")
Build = Callable[[Pipeline], None]  # queues commands on a pipeline

# KEYS[1]: a document; ARGV: the SHA1 of the body it was read with ('' when it was absent), the
# new body. Writes only over what was read (a compare-and-set within one slot, where WATCH and
# MULTI would need a connection of their own on a cluster); 1 when written.
CHANGE = """
local found = redis.call('GET', KEYS[1])
if (found and redis.sha1hex(found) or '') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1
"""
CHANGE_SHA = scripts.sha_of(CHANGE)


def quick_retry() -> Retry:
    """A few quick retries ride out a reconnect; a dead server answers 503 fast."""
    return Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.2), retries=3)


class TenantDocuments:
    """Calls to the server (errors become `StoreUnavailable`), and the tenant-wide keys."""

    where: str
    _client: "Redis | RedisCluster"
    _prefix: str

    async def _load_scripts(self) -> None:
        # One command per script: a cluster client sends each to every primary.
        for text in (*scripts.SCRIPTS.values(), CHANGE):
            await self._client.script_load(text)

    async def _run(self, call: Callable[[], Awaitable[T]]) -> T:
        """Run a call, loading the scripts once if the server lost them; errors -> 503."""
        try:
            try:
                return await call()
            except NoScriptError:  # a restarted or flushed server
                await self._load_scripts()
                return await call()
        except (RedisError, RedisClusterException, OSError) as exc:
            raise StoreUnavailable(
                f"Redis store {self.where} is unavailable: {reason(exc)}"
            ) from exc

    async def _pipeline(self, *stages: Build, atomic: bool) -> list[Any]:
        """The stages' commands in one pipeline (in MULTI/EXEC when `atomic`); their replies.

        A cluster, where no transaction spans slots, sends the stages in order (see `cluster`).
        """

        def build(pipe: Pipeline) -> None:
            for stage in stages:
                stage(pipe)

        return await self._run(lambda: self._send(build, atomic))

    def _open_pipeline(self, transaction: bool) -> "Pipeline | ClusterPipeline":
        return self._client.pipeline(transaction=transaction)

    async def _send(self, build: Build, transaction: bool) -> list[Any]:
        """One pipeline; the commands a server refused for want of a script go again."""

        async def once() -> list[Any]:
            async with self._open_pipeline(transaction) as pipe:
                build(cast("Pipeline", pipe))  # a cluster's pipeline takes the same commands
                return await pipe.execute(raise_on_error=False)

        replies = await once()
        if any(isinstance(reply, NoScriptError) for reply in replies):  # a restarted server
            await self._load_scripts()
            # Every command is idempotent, so all go again, but the replies of those that ran
            # stand: a script that applied an event would now call it a duplicate.
            again = await once()
            replies = [
                new if isinstance(old, NoScriptError) else old
                for old, new in zip(replies, again, strict=True)
            ]
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return replies

    def _tenant_key(self, tenant: str, name: str) -> str:
        return f"{self._prefix}{{{scripts.encode(tenant)}}}:{name}"

    def _document_key(self, tenant: str, name: str) -> str:
        """Where a document lives; the configuration keeps the key it always had."""
        return self._tenant_key(
            tenant, "config" if name == CONFIG else f"doc:{scripts.encode(name)}"
        )

    async def get_document(self, tenant: str, name: str) -> Document | None:
        """The tenant's document called `name`."""
        key = self._document_key(tenant, name)
        found = await self._run(lambda: self._client.get(key))
        return None if found is None else dict(json.loads(found))

    async def put_document(self, tenant: str, name: str, document: Document) -> None:
        """Replace the tenant's document called `name`."""
        key, body = self._document_key(tenant, name), json.dumps(document)
        await self._run(lambda: self._client.set(key, body))

    async def update_document(self, tenant: str, name: str, change: Change) -> Document | None:
        """Read the document, change it, and write it over what was read; again if it moved."""
        key = self._document_key(tenant, name)
        while True:
            found = cast("bytes | None", await self._run(lambda: self._client.get(key)))
            current = None if found is None else dict(json.loads(found))
            new = change(current)
            if new is None:
                return current
            read = "" if found is None else hashlib.sha1(found).hexdigest()
            call = partial(self._client.evalsha, CHANGE_SHA, 1, key, read, json.dumps(new))
            if await self._run(call):
                return new

    async def audit(self, tenant: str, entry: dict[str, Any]) -> None:
        """Append an audit entry (newest at the head of the list)."""
        body = json.dumps(entry)
        await self._run(lambda: self._client.lpush(self._tenant_key(tenant, "audit"), body))

    async def audit_log(self, tenant: str, limit: int) -> list[dict[str, Any]]:
        """The latest audit entries, newest first."""
        if limit <= 0:  # LRANGE 0 -1 would mean everything
            return []
        key = self._tenant_key(tenant, "audit")
        found = await self._run(lambda: self._client.lrange(key, 0, limit - 1))
        return [dict(json.loads(body)) for body in cast("list[bytes]", found)]
