"""State stores, chosen by URL scheme; drivers are imported only when used."""

from mastery_engine.core.errors import InvalidConfig
from mastery_engine.extras import require
from mastery_engine.stores.base import DEFAULT_TIMEOUT_S, NO_SIDECAR, Sidecar, Store

SCHEMES = (
    "memory://",
    "sqlite:///path/to.db",
    "redis://host:port/db",
    "rediss://host:port/db",
    "redis-cluster://host:port[,host:port…]/",
    "rediss-cluster://host:port[,host:port…]/",
    "postgresql://user@host:port/db",
    "dapr://statestore",
)


# scheme -> the optional extra its driver comes with
EXTRAS = {
    "redis": "redis",
    "rediss": "redis",
    "redis-cluster": "redis",
    "rediss-cluster": "redis",
    "postgresql": "postgres",
    "postgres": "postgres",
}


def require_driver(url: str) -> None:
    """Raise `MissingExtra` when the store a URL names needs an extra that is not installed."""
    scheme = url.split("://", 1)[0]
    if scheme in EXTRAS:
        require(EXTRAS[scheme], f"the {EXTRAS[scheme]} store ({scheme}://)")


async def open_store(
    url: str,
    *,
    retention_days: int = 90,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    sidecar: Sidecar = NO_SIDECAR,
) -> Store:
    """Open the store a URL names (see SCHEMES).

    `retention_days` sets the native expiry of raw event records where a backend has one
    (Redis, Dapr); `Store.purge` removes them explicitly everywhere. `timeout_s` is the
    default of each backend's own timeouts (connecting, a socket read, waiting for a lock or
    a pooled connection); a URL option naming one explicitly wins. `sidecar` is what the Dapr
    sidecar told the process (its port and API token), for `dapr://`.
    """
    scheme = url.split("://", 1)[0] if "://" in url else ""
    require_driver(url)
    if scheme == "memory":
        from mastery_engine.stores.memory import MemoryStore

        return MemoryStore()
    if scheme == "sqlite":
        from mastery_engine.stores.sqlite.store import SQLiteStore

        return await SQLiteStore.open(url, timeout_s)
    if scheme in ("redis", "rediss"):
        from mastery_engine.stores.redis.store import RedisStore

        return await RedisStore.open(url, retention_days, timeout_s)
    if scheme in ("redis-cluster", "rediss-cluster"):
        from mastery_engine.stores.redis.cluster import RedisClusterStore

        return await RedisClusterStore.open(url, retention_days, timeout_s)
    if scheme in ("postgresql", "postgres"):
        from mastery_engine.stores.postgres.store import PostgresStore

        return await PostgresStore.open(url, timeout_s)
    if scheme == "dapr":
        from mastery_engine.stores.dapr.store import DaprStore

        return await DaprStore.open(url, retention_days, timeout_s, sidecar)
    raise InvalidConfig(
        f"store URL {url!r} has an unknown scheme; allowed: {', '.join(SCHEMES)}",
        field="MASTERY_STORE_URL",
    )


__all__ = ["Store", "open_store", "require_driver"]
