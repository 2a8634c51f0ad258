"""The Redis store on a Redis Cluster: the same keys, scripts and code, and no transaction.

Every script runs in one slot (a student's keys share the student's hash tag, tenant-wide keys
the tenant's), so each stays atomic on the node that holds it. What a standalone server runs
in one MULTI/EXEC spans slots here, so it goes as stages, each one plain pipeline (split per
node by redis-py, which follows MOVED and ASK and retries TRYAGAIN) sent once the one before
has answered: a batch's scripts, then the students index; on erasure, the index entry, then
the keys. Whatever interleaves, a student with stored aggregates stays listed (purge and scans
walk the index). A batch that failed half way is sent again by its producer and applies
nothing twice: de-duplication sits in each student's script.

redis-py's asyncio cluster client (8.x) runs a transaction, even within one slot, by computing
slots in a thread with an event loop of its own; this store never asks it for one.
"""

from functools import partial
from typing import Any, cast

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.client import Pipeline, PubSub
from redis.asyncio.cluster import ClusterNode, ClusterPipeline, RedisCluster
from redis.exceptions import RedisClusterException

from mastery_engine.core.errors import InvalidConfig
from mastery_engine.stores.redis.announcements import subscribed
from mastery_engine.stores.redis.options import cluster_of
from mastery_engine.stores.redis.store import RedisStore
from mastery_engine.stores.redis.tenant import Build, quick_retry


class ScriptPipeline(ClusterPipeline):
    """A cluster pipeline that also takes EVALSHA."""

    # redis-py refuses it in cluster pipelines, from a time it could not tell a script's slot;
    # it now reads the declared keys, as it does for EVALSHA outside a pipeline, and each of
    # this store's scripts declares its keys, all in one slot.
    def evalsha(self, sha: str, numkeys: int, *keys_and_args: Any) -> ClusterPipeline:
        """Queue a script call, routed to the node of its keys' slot: found from the first
        key alone (this store's scripts keep all their keys in one slot), where redis-py would
        hash every key, twice. A redirected call is sent again as redis-py routes it."""
        if not numkeys:
            return self.execute_command("EVALSHA", sha, numkeys, *keys_and_args)
        node = self.cluster_client.get_node_from_key(keys_and_args[0])
        return self.execute_command("EVALSHA", sha, numkeys, *keys_and_args, target_nodes=node)


class RedisClusterStore(RedisStore):
    """The Redis store on the nodes of a `redis-cluster://` or `rediss-cluster://` URL."""

    sharded = True

    @staticmethod
    def connect(url: str, timeout_s: float) -> tuple[RedisCluster, str]:
        """A cluster client that knows every node the URL names, and where they are."""
        first, nodes, where = cluster_of(url)
        try:
            client = RedisCluster.from_url(
                first,  # its credentials, TLS and socket options apply to every node
                startup_nodes=[ClusterNode(host, port) for host, port in nodes[1:]],
                socket_connect_timeout=timeout_s,
                socket_timeout=timeout_s,
                retry=quick_retry(),
            )
        except (TypeError, ValueError, RedisClusterException) as exc:
            raise InvalidConfig(f"Redis Cluster store URL is invalid: {exc}") from exc
        return client, f"cluster {where}"

    def _open_pipeline(self, transaction: bool) -> ScriptPipeline:
        # As RedisCluster.pipeline builds its own (the type hints call the class abstract).
        client = cast("RedisCluster", self._client)
        return ScriptPipeline(client, transaction)  # type: ignore[abstract]

    async def _subscribe(self) -> PubSub:
        """A connection to the node of the announcements' slot, subscribed to that shard
        channel once the node has confirmed it."""
        client = cast("RedisCluster", self._client)
        node = client.get_node_from_key(self._channel)
        if node is None:
            raise RedisClusterException(f"no node serves the slot of {self._channel!r}")
        pool = ConnectionPool(connection_class=node.connection_class, **node.connection_kwargs)
        pubsub = Redis.from_pool(pool).pubsub()
        return await subscribed(pubsub, pubsub.ssubscribe(self._channel), self.timeout_s)

    def _announce(self, pipe: Pipeline, message: str) -> None:
        """Queue the announcement on the shard channel (routed to its slot's node)."""
        pipe.execute_command("SPUBLISH", self._channel, message)

    async def _fence(self) -> Any:
        """The round trip after an announcement goes to the node of the channel's slot."""
        client = cast("RedisCluster", self._client)
        return await client.ping(target_nodes=client.get_node_from_key(self._channel))

    async def _pipeline(self, *stages: Build, atomic: bool) -> list[Any]:
        """Each stage in a plain pipeline of its own, in order (`atomic` cannot span slots)."""
        replies: list[Any] = []
        for stage in stages:
            replies += await self._run(partial(self._send, stage, transaction=False))
        return replies
