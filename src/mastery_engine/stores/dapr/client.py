"""A small client of the Dapr sidecar's state HTTP API (v1.0): where a `dapr://` URL points,
transaction operations, and the calls the Dapr store makes.

Shapes and status codes follow https://docs.dapr.io/reference/api/state_api/ and
https://docs.dapr.io/reference/api/health_api/. Every transport error, timeout and unexpected
answer becomes `StoreUnavailable`; a lost optimistic-concurrency race becomes `Conflict`, which
the store answers by reading again.
"""

from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import orjson

from mastery_engine.core.errors import InvalidConfig, StoreUnavailable
from mastery_engine.stores.base import DEFAULT_TIMEOUT_S

JSON = {"content-type": "application/json"}
# first-write: an ETag must match, and a write without one only creates a missing key.
FIRST_WRITE = {"concurrency": "first-write", "consistency": "strong"}
LAST_WRITE = {"concurrency": "last-write", "consistency": "strong"}
BULK_PARALLELISM = 16
OPTIONS = ("host", "port", "prefix", "timeout_ms")


@dataclass(frozen=True, slots=True)
class Item:
    """A stored value with the ETag it was read at."""

    value: Any
    etag: str | None


class Conflict(Exception):
    """Another writer changed a key between our read and our write."""


class Target(NamedTuple):
    """Where a `dapr://` URL points."""

    store: str
    base_url: str
    prefix: str
    timeout_s: float


def target_of(
    url: str, timeout_s: float = DEFAULT_TIMEOUT_S, default_port: int | None = None
) -> Target:
    """`dapr://STORE?host=&port=&prefix=&timeout_ms=` -> the component, sidecar and key prefix
    (`timeout_ms` defaults to `timeout_s`)."""
    parts = urlsplit(url)
    if not parts.netloc:
        raise InvalidConfig(f"store URL {url!r} names no state store; use dapr://STATESTORE")
    given = {name: values[-1] for name, values in parse_qs(parts.query, True).items()}
    unknown = set(given) - set(OPTIONS)
    if unknown:
        raise InvalidConfig(
            f"unknown Dapr URL options {sorted(unknown)}; allowed: {', '.join(OPTIONS)}"
        )
    port = given.get("port") or str(default_port or 3500)
    timeout_ms = given.get("timeout_ms", str(max(1, round(timeout_s * 1000))))
    for name, value in (("port", port), ("timeout_ms", timeout_ms)):
        if not value.isdigit() or int(value) == 0:
            raise InvalidConfig(f"Dapr {name} must be a positive whole number, got {value!r}")
    prefix = given.get("prefix", "")
    if "||" in prefix:
        raise InvalidConfig("the Dapr key prefix may not contain '||' (Dapr's key separator)")
    host = given.get("host") or "127.0.0.1"
    return Target(parts.netloc, f"http://{host}:{port}", prefix, int(timeout_ms) / 1000)


def etag_of(found: dict[str, Item], key: str) -> str | None:
    """The ETag to write `key` over; None (create only) when it was missing."""
    item = found.get(key)
    if item is None:
        return None
    if item.etag is None:
        # Without an ETag the write below would be "create only": it could never succeed.
        raise StoreUnavailable(f"the Dapr state store returned {key!r} without an ETag")
    return item.etag


def upsert(
    key: str, value: Any, etag: str | None = None, ttl: int | None = None, *, replace: bool = False
) -> dict[str, Any]:
    """A transaction upsert: over `etag`, only while `key` is missing, or anyway if `replace`."""
    options = LAST_WRITE if replace else FIRST_WRITE
    request: dict[str, Any] = {"key": key, "value": value, "options": options}
    if etag is not None:
        request["etag"] = etag
    if ttl is not None:
        request["metadata"] = {"ttlInSeconds": str(ttl)}
    return {"operation": "upsert", "request": request}


def delete(key: str, etag: str | None = None) -> dict[str, Any]:
    """A transaction operation deleting `key` (only at `etag` when one is given)."""
    request: dict[str, Any] = {"key": key, "options": FIRST_WRITE}
    if etag is not None:
        request["etag"] = etag
    return {"operation": "delete", "request": request}


def _detail(response: httpx.Response) -> str:
    try:
        body = orjson.loads(response.content)
        return f"{body.get('errorCode', '?')}: {body.get('message', '')}"
    except (orjson.JSONDecodeError, AttributeError):
        return response.text[:200] or "no body"


class StateClient:
    """One state store component, reached through one sidecar."""

    def __init__(self, base_url: str, store: str, token: str | None, timeout: float) -> None:
        headers = {"dapr-api-token": token} if token else {}
        self._http = httpx.AsyncClient(base_url=base_url, headers=headers, timeout=timeout)
        self._state = f"/v1.0/state/{quote(store, safe='')}"
        self.where = f"Dapr state store {store!r} through the sidecar at {base_url}"
        self.timeout = timeout

    async def _call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        content = None if body is None else orjson.dumps(body)
        try:
            return await self._http.request(method, path, content=content, headers=JSON)
        except httpx.TimeoutException as exc:
            message = f"{self.where} did not answer within {self.timeout:g} s"
            raise StoreUnavailable(message) from exc
        except httpx.HTTPError as exc:
            message = f"{self.where} is unreachable or dropped the request ({exc!r})"
            raise StoreUnavailable(message) from exc

    def _failed(self, response: httpx.Response, doing: str) -> StoreUnavailable:
        code = response.status_code
        return StoreUnavailable(f"{self.where}: {doing} answered {code} ({_detail(response)})")

    async def healthz(self) -> None:
        """Raise unless the sidecar reports itself healthy (204)."""
        response = await self._call("GET", "/v1.0/healthz")
        if response.status_code != 204:
            raise self._failed(response, "the health check")

    async def get(self, key: str) -> Item | None:
        """One key with its ETag; None when it does not exist (204)."""
        path = f"{self._state}/{quote(key, safe='')}?consistency=strong"
        response = await self._call("GET", path)
        if response.status_code == 204:
            return None
        if response.status_code != 200:
            raise self._failed(response, f"reading {key!r}")
        return Item(orjson.loads(response.content), response.headers.get("etag"))

    async def bulk_get(self, keys: list[str]) -> dict[str, Item]:
        """The keys that exist among `keys`, with their ETags."""
        if not keys:
            return {}
        body = {"keys": keys, "parallelism": BULK_PARALLELISM}
        response = await self._call("POST", f"{self._state}/bulk", body)
        if response.status_code != 200:
            raise self._failed(response, f"a bulk read of {len(keys)} keys")
        found = {}
        for entry in orjson.loads(response.content):
            if entry.get("error"):
                raise StoreUnavailable(f"{self.where}: reading {entry['key']!r}: {entry['error']}")
            if entry.get("data") is not None:
                found[entry["key"]] = Item(entry["data"], entry.get("etag"))
        return found

    async def transact(self, operations: list[dict[str, Any]]) -> None:
        """Apply the operations all together or not at all; `Conflict` if a precondition failed."""
        response = await self._call(
            "POST", f"{self._state}/transaction", {"operations": operations}
        )
        if response.status_code in (200, 201, 204):
            return
        if response.status_code == 409:
            raise Conflict(_detail(response))
        if response.status_code == 500 and b"ERR_STATE_TRANSACTION" in response.content:
            # The runtime answers every failed transaction this way, ETag mismatches included;
            # the caller reads again, which surfaces a real outage as a failed read.
            raise Conflict(_detail(response))
        raise self._failed(response, f"a transaction of {len(operations)} operations")

    async def close(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()
