"""A fresh store for one benchmark run, removed afterwards: a SQLite file in a scratch
directory, a key prefix on a shared Redis, or a schema on a shared PostgreSQL database."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

STORES = ("sqlite", "redis", "postgresql")
REDIS = "redis://127.0.0.1:6379/0"
POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass(frozen=True, slots=True)
class Servers:
    """Where the shared Redis and PostgreSQL servers are (URLs without the store's options)."""

    redis: str = REDIS
    postgres: str = POSTGRES


def _with_option(base: str, option: str) -> str:
    return f"{base}{'&' if '?' in base else '?'}{option}"


def _ping_redis(url: str) -> None:
    import redis

    with redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3) as client:
        client.ping()


def _ping_postgres(url: str) -> None:
    import psycopg

    with psycopg.connect(url, connect_timeout=3) as db:
        db.execute("SELECT 1")


def require(stores: list[str], servers: Servers) -> None:
    """Exit with a clear message when a server of a requested store does not answer."""
    checks = {
        "redis": (servers.redis, _ping_redis),
        "postgresql": (servers.postgres, _ping_postgres),
    }
    for store in stores:
        if store not in checks:
            continue
        url, ping = checks[store]
        try:
            ping(url)
        except Exception as exc:  # whatever the failure, the server cannot be used
            raise SystemExit(
                f"{store} at {url} is unreachable ({type(exc).__name__}: {exc});"
                f" start it, point --{store}-url at it, or leave {store} out of --store"
            ) from None


def _drop_redis_keys(url: str, prefix: str) -> None:
    import redis

    with redis.Redis.from_url(url) as client:
        keys = list(client.scan_iter(match=f"{prefix}*", count=10_000))
        for start in range(0, len(keys), 10_000):
            client.unlink(*keys[start : start + 10_000])


def _drop_schema(url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        db.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def drop(store: str, scope: str, servers: Servers = Servers()) -> None:
    """Remove what a run stored under `scope` on a shared server (nothing for SQLite)."""
    if store == "redis":
        _drop_redis_keys(servers.redis, f"{scope}:")
    elif store == "postgresql":
        _drop_schema(servers.postgres, scope)


@contextmanager
def fresh_store(store: str, workdir: Path, servers: Servers) -> Iterator[str]:
    """The URL of an empty store of this kind; its prefix, schema or file is removed after."""
    scope = f"bench_ingest_{uuid.uuid4().hex[:10]}"
    if store == "sqlite":
        try:
            yield f"sqlite:///{workdir / scope}.db"
        finally:
            for path in workdir.glob(f"{scope}.db*"):
                path.unlink()
    elif store in ("redis", "postgresql"):
        option = f"prefix={scope}:" if store == "redis" else f"schema={scope}"
        try:
            yield _with_option(servers.redis if store == "redis" else servers.postgres, option)
        finally:
            drop(store, scope, servers)
    else:
        raise ValueError(f"unknown store {store!r}; known: {', '.join(STORES)}")
