"""Property-based fuzzing of every operation of the running server, from its own OpenAPI.

Schemathesis generates valid and invalid requests for each operation and sends them, with an
admin token, to a real `mastery-engine serve` process: no answer may be a 5xx, and every
answer must match the status codes, content types and body schemas the OpenAPI document
declares. The seed is fixed so a failure can be replayed.
"""

import subprocess
import sys
import time
from pathlib import Path

import httpx
import jwt
import pytest

from tests.conftest import event
from tests.serving import free_port, serve

SECRET = "fuzzing-secret-" + "0123456789" * 4
TOKEN = jwt.encode(
    {"sub": "fuzzer", "tenant": "fuzz", "roles": ["admin"], "exp": int(time.time()) + 7200},
    SECRET,
    algorithm="HS256",
)
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
]


@pytest.mark.slow
def test_every_operation_answers_within_its_contract(tmp_path: Path) -> None:
    env = {"MASTERY_AUTH": "jwt", "MASTERY_JWT_SECRET": SECRET, "MASTERY_LOG_LEVEL": "ERROR"}
    with serve(tmp_path / "fuzz.db", free_port(), **env) as server:
        seed = [
            event("f1", "quiz.graded", "2026-03-01T10:00:00Z", student="s-1", quiz_id="q", score=1),
            event("f2", "exercise.completed", "2026-03-02T10:00:00Z", exercise_id="e1"),
        ]
        answer = httpx.post(f"{server.url}/v1/events", json=seed, headers=HEADERS)
        assert answer.status_code == 200, answer.text
        command = [
            str(Path(sys.executable).parent / "st"),
            "run",
            f"{server.url}/openapi.json",
            "--header",
            f"Authorization: Bearer {TOKEN}",
            "--checks",
            ",".join(CHECKS),
            "--max-examples",
            "60",
            "--seed",
            "7",
            "--no-color",
        ]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path
        )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "No issues found" in done.stdout or " passed" in done.stdout, done.stdout[-3000:]
