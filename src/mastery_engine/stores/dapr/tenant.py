"""The Dapr store's tenant-wide documents: named documents (configuration too), audit log.

Every write is a transaction with optimistic concurrency; a lost race is read and tried again
(`_retrying`), which the student aggregates in `dapr.py` use as well.
"""

import asyncio
import functools
import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from mastery_engine.core.errors import StoreUnavailable
from mastery_engine.stores.base import Change, Document
from mastery_engine.stores.dapr.client import Conflict, StateClient, etag_of, upsert
from mastery_engine.stores.dapr.layout import Keys

T = TypeVar("T")
ATTEMPTS = 16
FIRST_BACKOFF_S = 0.005
MAX_BACKOFF_S = 0.5


class TenantDocuments:
    """Per-tenant documents behind the sidecar's state API (the base of `DaprStore`)."""

    client: StateClient
    keys: Keys

    async def _retrying(self, attempt: Callable[[], Awaitable[T]], doing: str) -> T:
        last: Conflict | None = None
        for number in range(ATTEMPTS):
            try:
                return await attempt()
            except Conflict as exc:
                last = exc
                cap = min(MAX_BACKOFF_S, FIRST_BACKOFF_S * 2**number)
                await asyncio.sleep(random.uniform(0, cap))
        raise StoreUnavailable(
            f"{self.client.where}: {doing} was refused {ATTEMPTS} times in a row (other writers "
            f"kept changing the same keys, or the transaction itself fails): {last}"
        ) from last

    async def get_document(self, tenant: str, name: str) -> Document | None:
        """The tenant's document called `name`."""
        found = await self.client.get(self.keys.document(tenant, name))
        return None if found is None else dict(found.value)

    async def put_document(self, tenant: str, name: str, document: Document) -> None:
        """Replace the tenant's document called `name` (the last write wins)."""
        operation = upsert(self.keys.document(tenant, name), document, replace=True)
        await self._retrying(functools.partial(self.client.transact, [operation]), "saving")

    async def update_document(self, tenant: str, name: str, change: Change) -> Document | None:
        """Read with the ETag, change, write over that ETag; again if another writer won."""
        attempt = functools.partial(self._update_once, self.keys.document(tenant, name), change)
        return await self._retrying(attempt, f"changing the document {name!r}")

    async def _update_once(self, key: str, change: Change) -> Document | None:
        found = await self.client.get(key)
        current = None if found is None else dict(found.value)
        new = change(current)
        if new is not None:
            etag = etag_of({} if found is None else {key: found}, key)
            await self.client.transact([upsert(key, new, etag)])
        return current if new is None else new

    async def audit(self, tenant: str, entry: dict[str, Any]) -> None:
        """Append an entry under the next number of the tenant's audit log."""
        attempt = functools.partial(self._audit_once, tenant, entry)
        await self._retrying(attempt, "appending to the audit log")

    async def _audit_once(self, tenant: str, entry: dict[str, Any]) -> None:
        head = await self.client.get(self.keys.audit(tenant))
        count = 0 if head is None else int(head.value)
        etag = None if head is None else head.etag
        await self.client.transact(
            [
                upsert(self.keys.audit(tenant), count + 1, etag),
                upsert(self.keys.audit(tenant, count), entry),
            ]
        )

    async def audit_log(self, tenant: str, limit: int) -> list[dict[str, Any]]:
        """The tenant's latest audit entries, newest first."""
        head = await self.client.get(self.keys.audit(tenant))
        count = 0 if head is None else int(head.value)
        wanted = [
            self.keys.audit(tenant, n) for n in range(count - 1, max(count - limit, 0) - 1, -1)
        ]
        found = await self.client.bulk_get(wanted)
        return [dict(found[key].value) for key in wanted if key in found]
