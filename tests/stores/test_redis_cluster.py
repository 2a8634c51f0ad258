"""Redis Cluster specifics: the URL, scripts on every primary, batches over every node, and a
slot migrated to another node while batches are applied to it."""

import asyncio
import random
import time
from collections.abc import AsyncIterator, Iterator

import pytest
import redis
from redis.crc import key_slot

from mastery_engine.core.errors import InvalidConfig, StoreUnavailable
from mastery_engine.core.events import Event
from mastery_engine.stores import open_store
from mastery_engine.stores.redis.cluster import RedisClusterStore
from mastery_engine.stores.redis.options import cluster_of, options_of
from mastery_engine.stores.redis.scripts import SCRIPTS, sha_of
from tests.backends import REDIS_CLUSTER_URL, drop_redis_prefix, unique
from tests.conftest import NOW
from tests.serving import free_port
from tests.stores.test_redis import quiz, quiz_count

Node = tuple[str, int]
NODES = cluster_of(REDIS_CLUSTER_URL)[1]


@pytest.fixture
def prefix() -> Iterator[str]:
    name = unique("mt") + ":"
    try:
        yield name
    finally:
        drop_redis_prefix(name, "redis-cluster")


@pytest.fixture
async def cluster_store(prefix: str) -> AsyncIterator[RedisClusterStore]:
    opened = await open_store(f"{REDIS_CLUSTER_URL}?prefix={prefix}")
    assert isinstance(opened, RedisClusterStore)
    yield opened
    await opened.close()


def owner(slot: int) -> Node:
    """The primary that serves a slot, as the cluster says."""
    with redis.Redis(*NODES[0]) as node:
        for start, end, primary, *_ in node.execute_command("CLUSTER", "SLOTS"):
            if start <= slot <= end:
                return primary[0].decode(), int(primary[1])
    raise AssertionError(f"slot {slot} is not served")


def slot_of(student: str, tenant: str = "t") -> int:
    return key_slot(f"{{{tenant}:student:{student}}}".encode())


def test_cluster_urls_name_every_node_and_pass_credentials_and_options_on() -> None:
    url = "rediss-cluster://u:p%40ss@a:7001,b,[::1]:7003/0?socket_timeout=3&prefix=x"
    client_url, prefix, _ = options_of(url)
    assert prefix == "x"
    first, nodes, where = cluster_of(client_url)
    assert first == "rediss://u:p%40ss@a:7001?socket_timeout=3"
    assert nodes == [("a", 7001), ("b", 6379), ("::1", 7003)]
    assert where == "a:7001,b:6379,::1:7003"  # no credentials in error messages
    assert options_of("rediss-cluster://a:1/?ssl_cert_reqs=none")[0].endswith("ssl_cert_reqs=none")
    for path in ("", "/", "/0"):
        assert cluster_of(f"redis-cluster://a:1{path}")[1] == [("a", 1)]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("/1", r"only database 0: end the URL with / or /0 \(redis-cluster://host:port\[,"),
        ("/db", "only database 0: .* not '/db'"),
        ("/?ssl_cert_reqs=none", "allowed with redis-cluster://: prefix, cache_students, socket_"),
        ("/?db=2", r"unknown Redis URL options \['db'\]"),
        ("/?socket_timeout=soon", "Redis Cluster store URL is invalid: Invalid value for 'socket_"),
        (",127.0.0.1:x/", "Redis Cluster node '127.0.0.1:x' has an invalid port"),
        (",,127.0.0.1:7102/", "nodes are host:port separated by commas .*, not ''"),
    ],
)
async def test_bad_cluster_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(InvalidConfig, match=message):
        await open_store(f"redis-cluster://127.0.0.1:7101{url}")


async def test_an_unreachable_cluster_is_unavailable_at_open() -> None:
    port = free_port()
    with pytest.raises(StoreUnavailable, match=f"Redis store cluster 127.0.0.1:{port} is unavail"):
        await open_store(f"redis-cluster://127.0.0.1:{port}/")


async def test_a_batch_over_students_on_every_node_applies_once_and_reads_back(
    prefix: str,
) -> None:
    host, port = NODES[-1]  # one node is enough to find the others
    store = await open_store(f"redis-cluster://{host}:{port}/?prefix={prefix}")
    try:
        students = [f"s-{i}" for i in range(60)]
        assert {owner(slot_of(s)) for s in students} == set(NODES)
        batch = [quiz(f"{s}-{j}", student=s) for s in students for j in range(2)]
        random.Random(5).shuffle(batch)
        assert await store.apply("t", batch, NOW) == [True] * len(batch)
        assert await store.apply("t", batch, NOW) == [False] * len(batch)
        assert [quiz_count(a) for a in await store.read_many("t", students, NOW)] == [2] * 60
        assert await store.students("t") == sorted(students)
        assert len(await store.events_of("t", "s-7")) == 2
        assert await store.purge(NOW + 1) == len(batch)  # every node's records
        assert await store.events_of("t", "s-7") == []
        for student in students:
            assert await store.delete_student("t", student) > 0
        assert await store.students("t") == []
        assert await store.read_many("t", students[:3], NOW) == [None] * 3
    finally:
        await store.close()


async def test_scripts_are_on_every_primary_and_a_node_that_lost_them_misreports_nothing(
    cluster_store: RedisClusterStore,
) -> None:
    shas = [sha_of(text) for text in SCRIPTS.values()]
    for node in NODES:
        with redis.Redis(*node) as client:
            assert all(client.script_exists(*shas))
    with redis.Redis(*owner(slot_of("s-0"))) as client:
        client.script_flush()  # as a restarted node, or one added by a resharding
    students = [f"s-{i}" for i in range(30)]
    batch = [quiz(f"{s}-a", student=s) for s in students]
    # The students on the other nodes were applied on the first try: they are no duplicates.
    assert await cluster_store.apply("t", batch, NOW) == [True] * len(batch)
    assert [quiz_count(a) for a in await cluster_store.read_many("t", students, NOW)] == [1] * 30


def migrate(slot: int, source: Node, target: Node, pause_s: float) -> None:
    """Move a slot's keys one at a time, as a resharding does, then hand the slot over."""
    with redis.Redis(*source) as src, redis.Redis(*target) as dst:
        source_id = src.execute_command("CLUSTER", "MYID").decode()
        target_id = dst.execute_command("CLUSTER", "MYID").decode()
        dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
        src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
        while keys := src.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 1):
            src.execute_command("MIGRATE", *target, "", 0, 5000, "KEYS", *keys)
            time.sleep(pause_s)
        for node in sorted(NODES, key=lambda n: n != target):  # the target first
            with redis.Redis(*node) as client:
                client.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)


def redirections(node: Node) -> int:
    """How many TRYAGAIN and ASK errors a node has answered."""
    with redis.Redis(*node) as client:
        stats = client.info("errorstats")
    return sum(
        stats.get(f"errorstat_{name}", {"count": 0})["count"] for name in ("TRYAGAIN", "ASK")
    )


async def apply_as_a_consumer(store: RedisClusterStore, batches: list[list[Event]]) -> None:
    """Apply each batch, sending it again after a 503 (a move outlasting redis-py's retries)."""
    for batch in batches:
        await asyncio.sleep(0.003)  # spread over the move
        while True:
            try:
                await store.apply("t", batch, NOW)
                break
            except StoreUnavailable:
                await asyncio.sleep(0.01)


async def test_a_slot_migrated_under_load_loses_and_doubles_nothing(
    cluster_store: RedisClusterStore,
) -> None:
    student, other = unique("s"), unique("s")
    slot = slot_of(student)
    source = owner(slot)
    target = next(n for n in NODES if n != source)
    await cluster_store.apply("t", [quiz("first", student=student)], NOW)
    events = [quiz(f"e{i}", student=student) for i in range(400)]
    others = [quiz(f"o{i}", student=other) for i in range(100)]
    # Two producers: one in order, one re-delivering the same events shuffled.
    plans = [events[:], events[:]]
    random.Random(2).shuffle(plans[1])
    batches = [
        [[*plan[i : i + 4], others[i // 4]] for i in range(0, len(plan), 4)] for plan in plans
    ]
    before = redirections(source) + redirections(target)
    try:
        moving = asyncio.to_thread(migrate, slot, source, target, 0.05)
        await asyncio.gather(moving, *(apply_as_a_consumer(cluster_store, b) for b in batches))
        assert owner(slot) == target
        assert redirections(source) + redirections(target) > before  # batches met the move
        got = await cluster_store.read("t", student, NOW)
        assert quiz_count(got) == 1 + len(events)  # nothing lost, nothing counted twice
        assert quiz_count(await cluster_store.read("t", other, NOW)) == 100
        again = await cluster_store.apply("t", [*events, *others], NOW)
        assert again == [False] * (len(events) + len(others))
        assert len(await cluster_store.events_of("t", student)) == 1 + len(events)
    finally:
        if owner(slot) == source:  # a move cut short: finish it
            await asyncio.to_thread(migrate, slot, source, target, 0)
        await asyncio.to_thread(migrate, slot, target, source, 0)  # as it was
