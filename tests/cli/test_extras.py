"""A feature whose optional extra is missing says so in one line naming the extra.

The commands run in a fresh interpreter in which the extras' packages cannot be imported
(a finder placed first on `sys.meta_path` reports them absent, as a `make run` environment
without the extras does).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent / "mastery-engine"
HIDDEN = ["redis", "psycopg", "psycopg_pool", "confluent_kafka", "numpy", "scipy"]
SITE = f"""
import importlib.abc, sys

class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {HIDDEN!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, Absent())
"""
CASES = [
    (["serve"], {"MASTERY_STORE_URL": "redis://127.0.0.1:6379/0"}, "mastery-engine[redis]"),
    (["serve"], {"MASTERY_STORE_URL": "postgresql://x@127.0.0.1/test"}, "mastery-engine[postgres]"),
    (["migrate"], {"MASTERY_STORE_URL": "rediss://127.0.0.1:6379/0"}, "mastery-engine[redis]"),
    (["consume"], {}, "mastery-engine[kafka]"),
    (["dlq", "replay"], {}, "mastery-engine[kafka]"),
    (["fit", "{events}", "--out", "{model}"], {}, "mastery-engine[fit]"),
]


@pytest.mark.parametrize(("args", "env", "extra"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_a_missing_extra_is_one_line_naming_it(
    tmp_path: Path, args: list[str], env: dict[str, str], extra: str
) -> None:
    (tmp_path / "sitecustomize.py").write_text(SITE)
    events = tmp_path / "events.jsonl"
    events.write_text("{}\n")
    command = [str(BIN), *(a.format(events=events, model=tmp_path / "m.json") for a in args)]
    environment = {**os.environ, "PYTHONPATH": str(tmp_path), "MASTERY_AUTH": "off", **env}
    done = subprocess.run(
        command, env=environment, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"pip install '{extra}'" in lines[0]
    assert "Traceback" not in done.stderr + done.stdout


def test_with_the_extras_installed_consume_gets_past_the_check() -> None:
    environment = {**os.environ, "MASTERY_KAFKA_BOOTSTRAP": ""}
    done = subprocess.run(
        [str(BIN), "consume"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "extra" not in done.stderr and "MASTERY_KAFKA_BOOTSTRAP" in done.stderr
