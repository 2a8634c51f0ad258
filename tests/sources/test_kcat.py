"""A third-party client (kcat, on librdkafka) produces events that the consumer accepts."""

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mastery_engine.sources.kafka.worker import consume
from tests.sources.streams import Topics, make_events, tenant_of


def _install_kcat() -> str:
    """kcat from Debian's packages, installed on first use (after refreshing the lists)."""
    if shutil.which("kcat") is None:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-q", "kcat"]
        if (
            subprocess.run(
                install, env=env, capture_output=True, timeout=300, check=False
            ).returncode
            != 0
        ):
            subprocess.run(
                ["apt-get", "update", "-q"], env=env, capture_output=True, timeout=300, check=False
            )
            subprocess.run(install, env=env, capture_output=True, timeout=300, check=False)
    found = shutil.which("kcat")
    if found is None:
        pytest.fail("kcat is not installed and `apt-get install -y kcat` did not install it")
    return found


@pytest.fixture(scope="session")
def kcat(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str]]:
    """kcat and an environment that loads the librdkafka of the confluent-kafka wheel (2.x)."""
    import confluent_kafka

    libs = Path(confluent_kafka.__file__).parent.parent / "confluent_kafka.libs"
    wheel_lib = next(libs.glob("librdkafka*.so*"), None)
    if wheel_lib is None:
        pytest.fail(f"no librdkafka in {libs}")
    linked = tmp_path_factory.mktemp("librdkafka")
    (linked / "librdkafka.so.1").symlink_to(wheel_lib)  # the name kcat links against
    env = {**os.environ, "LD_LIBRARY_PATH": str(linked)}
    binary = _install_kcat()
    version = subprocess.run([binary, "-V"], env=env, capture_output=True, text=True, check=True)
    assert "librdkafka 2." in version.stdout, version.stdout
    return binary, env


def test_events_produced_by_kcat_are_accepted(
    kcat: tuple[str, dict[str, str]], topics: Topics, tmp_path: Path
) -> None:
    binary, env = kcat
    events = make_events(200, seed=41, prefix="kcat")
    for tenant in ("school-a", "school-b"):
        lines = [
            f"{e['student_id']}\t{json.dumps(e)}"
            for e in events
            if tenant_of(e["student_id"]) == tenant
        ]
        subprocess.run(
            [
                binary,
                "-P",
                "-b",
                topics.broker.bootstrap,
                "-t",
                topics.topic,
                "-K",
                "\t",
                "-H",
                f"tenant={tenant}",
            ],
            input="\n".join(lines) + "\n",
            env=env,
            text=True,
            check=True,
            timeout=60,
        )

    stats = asyncio.run(consume(topics.settings(f"sqlite:///{tmp_path}/k.db"), until_idle_s=2.0))

    assert (stats.messages, stats.accepted, stats.dead_letters) == (200, 200, 0)
