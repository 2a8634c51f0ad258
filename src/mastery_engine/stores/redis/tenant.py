"""The Redis store's connection handling and tenant-wide keys: named documents (configuration
too) and the audit log (the base of `RedisStore`)."""

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import NoScriptError, RedisError

from mastery_engine.core.errors import StoreUnavailable
from mastery_engine.stores.base import CONFIG, Change, Document
from mastery_engine.stores.redis import scripts
from mastery_engine.stores.redis.options import reason

T = TypeVar("T")


class TenantDocuments:
    """Calls to the server (errors become `StoreUnavailable`), and the tenant-wide keys."""

    where: str
    _client: Redis
    _prefix: str

    async def _load_scripts(self) -> None:
        async with self._client.pipeline(transaction=False) as pipe:
            for text in scripts.SCRIPTS.values():
                pipe.script_load(text)
            await pipe.execute()

    async def _run(self, call: Callable[[], Awaitable[T]]) -> T:
        """Run a call, loading the scripts once if the server lost them; errors -> 503."""
        try:
            try:
                return await call()
            except NoScriptError:  # a restarted or flushed server
                await self._load_scripts()
                return await call()
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(
                f"Redis store {self.where} is unavailable: {reason(exc)}"
            ) from exc

    async def _pipeline(self, build: Callable[[Pipeline], None], atomic: bool) -> list[Any]:
        async def send() -> list[Any]:
            async with self._client.pipeline(transaction=atomic) as pipe:
                build(pipe)
                return await pipe.execute()

        return await self._run(send)

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
        """WATCH the document, change it, and write it in MULTI/EXEC; again if it moved."""
        key = self._document_key(tenant, name)

        async def attempt(pipe: Pipeline) -> Document | None:
            found = await pipe.get(key)
            current = None if found is None else dict(json.loads(found))
            new = change(current)
            pipe.multi()  # type: ignore[no-untyped-call]
            if new is not None:
                pipe.set(key, json.dumps(new))
            return current if new is None else new

        transaction = self._client.transaction
        return cast(
            "Document | None",
            await self._run(lambda: transaction(attempt, key, value_from_callable=True)),
        )

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
