"""State stores, chosen by URL scheme; drivers are imported only when used."""

from mastery_engine.core.errors import InvalidConfig
from mastery_engine.stores.base import Store

SCHEMES = ("memory://", "sqlite:///path/to.db")


async def open_store(url: str) -> Store:
    """Open the store a URL names: `memory://` or `sqlite:///path`."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme == "memory":
        from mastery_engine.stores.memory import MemoryStore

        return MemoryStore()
    if scheme == "sqlite":
        from mastery_engine.stores.sqlite import SQLiteStore

        return await SQLiteStore.open(url)
    raise InvalidConfig(
        f"store URL {url!r} has an unknown scheme; allowed: {', '.join(SCHEMES)}",
        field="MASTERY_STORE_URL",
    )


__all__ = ["Store", "open_store"]
