"""A fresh store URL per backend and test, on the real servers, removed afterwards.

Redis, a Redis Cluster and PostgreSQL must be listening (`make test` starts them when they are
not): a test that cannot reach them fails, it is never skipped. Each test gets its own Redis key
prefix and its own PostgreSQL schema, so the servers may hold anything else. Dapr runs against an
emulated sidecar (tests/dapr_sidecar.py) shared by the session, with a key prefix per test.
"""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REDIS_URL = os.environ.get("MASTERY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# The ports scripts/test-services.sh starts the cluster on (space- or comma-separated).
CLUSTER_PORTS = os.environ.get("MASTERY_TEST_REDIS_CLUSTER_PORTS", "7101 7102 7103")
REDIS_CLUSTER_URL = os.environ.get(
    "MASTERY_TEST_REDIS_CLUSTER_URL",
    "redis-cluster://"
    + ",".join(f"127.0.0.1:{p}" for p in CLUSTER_PORTS.replace(",", " ").split())
    + "/",
)
POSTGRES_URL = os.environ.get(
    "MASTERY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
BACKENDS = ["memory", "sqlite", "redis", "redis-cluster", "postgres", "dapr"]
# Several processes can use one store (the emulated Dapr sidecar is reached over HTTP).
SHARED_BACKENDS = ["sqlite", "redis", "redis-cluster", "postgres", "dapr"]
REDIS_URLS = {"redis": REDIS_URL, "redis-cluster": REDIS_CLUSTER_URL}


def unique(name: str) -> str:
    """A name no other test run uses."""
    return f"{name}_{uuid.uuid4().hex[:12]}"


@contextmanager
def redis_client(backend: str = "redis") -> Iterator[Any]:
    """A blocking client of the test Redis, or of the test cluster (`redis-cluster`)."""
    import redis
    from redis.cluster import ClusterNode, RedisCluster

    if backend == "redis":
        with redis.Redis.from_url(REDIS_URL) as client:
            yield client
        return
    from mastery_engine.stores.redis.options import cluster_of

    _, nodes, _ = cluster_of(REDIS_CLUSTER_URL)
    with RedisCluster(startup_nodes=[ClusterNode(host, port) for host, port in nodes]) as cluster:
        yield cluster


def redis_keys(prefix: str, backend: str = "redis") -> list[bytes]:
    """Every key under a prefix on the test Redis (on a cluster, from every primary)."""
    with redis_client(backend) as client:
        return sorted(client.scan_iter(match=f"{prefix}*", count=1000))


def drop_redis_prefix(prefix: str, backend: str = "redis") -> None:
    """Delete every key under a prefix (one by one: a cluster's keys sit in many slots)."""
    with redis_client(backend) as client:
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            client.delete(key)


def postgres_rows(schema: str) -> dict[str, int]:
    """Row count of every table in a schema of the test database."""
    import psycopg

    with psycopg.connect(POSTGRES_URL, autocommit=True) as db:
        tables = db.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (schema,),
        ).fetchall()
        return {
            t: db.execute(f'SELECT count(*) FROM "{schema}"."{t}"').fetchone()[0]  # type: ignore[index]
            for (t,) in tables
        }


def drop_postgres_schema(schema: str) -> None:
    """Drop a schema and everything in it."""
    import psycopg

    with psycopg.connect(POSTGRES_URL, autocommit=True) as db:
        db.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@contextmanager
def fresh_store_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty store of this backend; its data is removed on exit."""
    if backend == "memory":
        yield "memory://"
    elif backend == "sqlite":
        yield f"sqlite:///{tmp_path}/mastery.db"
    elif backend in REDIS_URLS:
        prefix = unique("mt") + ":"
        try:
            yield f"{REDIS_URLS[backend]}?prefix={prefix}"
        finally:
            drop_redis_prefix(prefix, backend)
    elif backend == "postgres":
        schema = unique("mt")
        try:
            yield f"{POSTGRES_URL}?schema={schema}"
        finally:
            drop_postgres_schema(schema)
    elif backend == "dapr":
        from tests.dapr_sidecar import shared_sidecar

        sidecar, prefix = shared_sidecar(), unique("mt") + ":"
        try:
            yield f"dapr://statestore?port={sidecar.port}&prefix={prefix}"
        finally:
            sidecar.drop_prefix(prefix)
    else:
        raise ValueError(f"unknown backend {backend!r}")
