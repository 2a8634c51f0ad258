"""The processes of a school day: `serve` replicas and `consume` members on a Redis Cluster.

Each one is the real command line in its own process, with authentication on (HS256 tokens
minted by `mastery-engine token`), as a deployment runs them. Also: peak memory of any
process, the consumers' counters from their Prometheus endpoint, and the cluster's memory.
"""

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from service_process import answering, cpu_seconds, free_port, peak_rss_mib

BIN = str(Path(sys.executable).parent / "mastery-engine")
TIMING = {"MASTERY_KAFKA_SESSION_TIMEOUT_MS": "6000", "MASTERY_KAFKA_HEARTBEAT_INTERVAL_MS": "1000"}
COUNTER = re.compile(r'^mastery_kafka_messages_total\{outcome="(\w+)"\} ([\d.e+]+)$', re.M)
LAG = re.compile(
    r"^mastery_kafka_consumer_lag\{partition=\"(\d+)\",topic=\"[^\"]+\"\} ([\d.e+]+)$", re.M
)


def day_topics(broker: Any, stem: str, partitions: int) -> tuple[str, str, str]:
    """A fresh topic, its dead-letter and out topics, created on the broker."""
    topic = f"{stem}-{uuid.uuid4().hex[:8]}"
    topics = (topic, f"{topic}.dlq", f"{topic}.out")
    broker.create_topics(*topics, partitions=partitions)
    return topics


def machine_cpu_seconds() -> float:
    """CPU time every process of the machine has used since boot (all but idle and iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = sum(fields[:8]) - fields[3] - fields[4]
    return busy / os.sysconf("SC_CLK_TCK")


@dataclass
class Processes:
    """The service's processes of one run, and their logs."""

    store_url: str
    workdir: Path
    secret: str
    running: list[tuple[str, subprocess.Popen[bytes], Path]] = field(default_factory=list)
    ports: dict[str, int] = field(default_factory=dict)

    def env(self, **extra: str) -> dict[str, str]:
        """The environment every process of the service shares."""
        return os.environ | {
            "MASTERY_STORE_URL": self.store_url,
            "MASTERY_AUTH": "jwt",
            "MASTERY_JWT_SECRET": self.secret,
            "MASTERY_LOG_LEVEL": "WARNING",
            **extra,
        }

    def token(self, tenant: str, role: str) -> str:
        """A token minted by the command line, valid for a day."""
        command = [BIN, "token", "--tenant", tenant, "--sub", f"bench-{role}", "--role", role]
        done = subprocess.run(
            [*command, "--hours", "23"], env=self.env(), capture_output=True, check=True
        )
        return done.stdout.decode().strip()

    def start(self, name: str, command: list[str], **extra: str) -> subprocess.Popen[bytes]:
        """Start one process, output to `workdir/name.log`."""
        log = self.workdir / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(command, env=self.env(**extra), stdout=out, stderr=out)
        self.running.append((name, process, log))
        return process

    def serve(self, name: str) -> str:
        """A `serve` replica; its base URL once it answers."""
        port = free_port()
        self.start(name, [BIN, "serve", "--port", str(port)])
        url = f"http://127.0.0.1:{port}"
        self.ports[name] = port
        self._wait(name, f"{url}/readyz")
        return url

    def consume(self, name: str, bootstrap: str, topics: tuple[str, str, str], group: str) -> None:
        """A `consume` member of `group`, its metrics on a port of its own."""
        port = free_port()
        topic, dlq, out = topics
        kafka = {"MASTERY_KAFKA_BOOTSTRAP": bootstrap, "MASTERY_KAFKA_TOPIC": topic}
        kafka |= {"MASTERY_KAFKA_DLQ_TOPIC": dlq, "MASTERY_KAFKA_OUT_TOPIC": out}
        kafka |= {"MASTERY_KAFKA_GROUP": group, "MASTERY_METRICS_PORT": str(port), **TIMING}
        self.start(name, [BIN, "consume"], **kafka)
        self.ports[name] = port
        self._wait(name, f"http://127.0.0.1:{port}/metrics")

    def counters(self, name: str) -> dict[str, Any]:
        """A consumer's messages by outcome and its assigned partitions' lag."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ports[name]}/metrics") as answer:
            text = answer.read().decode()
        found: dict[str, Any] = {k: int(float(v)) for k, v in COUNTER.findall(text)}
        found["lag"] = {int(p): int(float(v)) for p, v in LAG.findall(text)}
        retries = re.search(r"^mastery_kafka_store_retries_total ([\d.e+]+)$", text, re.M)
        found["store_retries"] = int(float(retries.group(1))) if retries else 0
        return found

    def peaks(self) -> dict[str, float]:
        """Peak RSS of every process still running."""
        return {name: peak_rss_mib(p.pid) for name, p, _ in self.running}

    def cpu(self) -> dict[str, float]:
        """CPU seconds of every process still running."""
        return {name: cpu_seconds(p.pid) for name, p, _ in self.running}

    def consume_all(
        self, names: list[str], bootstrap: str, topics: tuple[str, str, str], partitions: int
    ) -> None:
        """Start `names` as one consumer group; return once every partition is assigned and
        each of them holds some."""
        group = f"group-{topics[0]}"
        for name in names:
            self.consume(name, bootstrap, topics, group=group)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            held = [set(self.counters(n)["lag"]) for n in names]
            if all(held) and set().union(*held) == set(range(partitions)):
                return
            time.sleep(0.5)
        raise RuntimeError(f"partitions not all assigned within 60 s: {held}")

    def settled(self, names: list[str]) -> tuple[int, list[dict[str, Any]]]:
        """Messages the consumers have settled (accepted, duplicate or dead-lettered), and
        each one's counters."""
        counts = [self.counters(n) for n in names]
        outcomes = ("accepted", "duplicate", "dead_letter")
        return sum(c.get(o, 0) for c in counts for o in outcomes), counts

    def _alive(self) -> bool:
        self.check()  # raises, with the log, for a process that exited
        return True

    def check(self) -> None:
        """Raise, with its log, if any process has exited."""
        for name, process, log in self.running:
            if process.poll() is not None:
                tail = log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{tail}")

    def stop(self, prefix: str = "") -> dict[str, str]:
        """SIGTERM the processes named `prefix...` at once, wait; the last line each logged."""
        chosen = [r for r in self.running if r[0].startswith(prefix)]
        for _, process, _ in chosen:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        last = {}
        for name, process, log in chosen:
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            lines = log.read_text(errors="replace").strip().splitlines()
            last[name] = lines[-1] if lines else ""
        self.running = [r for r in self.running if not r[0].startswith(prefix)]
        return last

    def _wait(self, name: str, url: str, timeout: float = 60.0) -> None:
        if not answering(url, timeout, self._alive):
            raise RuntimeError(f"{name} did not answer {url} within {timeout:g} s")


def masters(nodes: list[tuple[str, int]]) -> list[redis.Redis]:
    """A plain client per master of the cluster (found from its first node)."""
    host, port = nodes[0]
    with redis.Redis(host=host, port=port) as probe:
        shards: dict[str, dict[str, Any]] = probe.execute_command("CLUSTER NODES")
    found = sorted(a.split("@")[0] for a, info in shards.items() if "master" in info["flags"])
    return [redis.Redis(host=a.rsplit(":", 1)[0], port=int(a.rsplit(":", 1)[1])) for a in found]


def used_memory(clients: list[redis.Redis]) -> dict[str, int]:
    """`used_memory` of each master, in bytes."""
    return {
        f"{c.connection_pool.connection_kwargs['port']}": int(c.info("memory")["used_memory"])
        for c in clients
    }


def server_pids(clients: list[redis.Redis]) -> dict[str, int]:
    """Process id of each master."""
    return {
        f"redis-{c.connection_pool.connection_kwargs['port']}": int(c.info("server")["process_id"])
        for c in clients
    }


def drop_prefix(clients: list[redis.Redis], prefix: str) -> int:
    """Unlink every key under `prefix` on every master; how many."""
    removed = 0
    for client in clients:
        batch: list[bytes] = []
        for key in client.scan_iter(match=f"{prefix}*", count=5000):
            batch.append(key)
            if len(batch) >= 5000:
                removed, batch = removed + _unlink(client, batch), []
        removed += _unlink(client, batch)
    return removed


def _unlink(client: redis.Redis, keys: list[bytes]) -> int:
    """One UNLINK per key, pipelined: the keys lie in many slots (no multi-key command)."""
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.unlink(key)
    return sum(pipe.execute())
