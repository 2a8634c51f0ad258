"""Property-based fuzzing of every operation of the running server, from its own OpenAPI.

Schemathesis draws requests the document calls valid and requests it calls invalid, for each
operation and in stateful sequences, and sends them, with an admin token (and the Dapr app
token), to a real `mastery-engine serve` process. Every check runs: no 5xx; status codes,
content types, headers and bodies as documented; `Allow` on a 405 listing every method of the
path; valid requests accepted and invalid ones refused. The seed is fixed so a failure can be
replayed. `fuzz_hooks.py` holds the few rules the document states in words only.
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
APP_TOKEN = "fuzzing-dapr-app-token"
TOKEN = jwt.encode(
    {"sub": "fuzzer", "tenant": "fuzz", "roles": ["admin"], "exp": int(time.time()) + 7200},
    SECRET,
    algorithm="HS256",
)
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
HOOKS = Path(__file__).with_name("fuzz_hooks.py")
# 413 is how the service refuses a batch over 1,000 items (the document's `maxItems`);
# Schemathesis' default list of refusals leaves it out. The reads name the student the test
# seeds, so they reach the service's logic rather than a 404; DELETE and the class routes
# keep drawing ids, valid and invalid.
READS = "mastery|skills|recommendations|alerts|predictions|export"
CONFIG = rf"""
hooks = '{HOOKS}'

[checks.negative_data_rejection]
expected-statuses = [
  "400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"
]

[[operations]]
include-path-regex = '^/v1/students/\{{student_id\}}/({READS})'
include-method = "GET"
parameters = {{ student_id = "s-1" }}
"""


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_every_operation_answers_within_its_contract(tmp_path: Path) -> None:
    env = {
        "MASTERY_AUTH": "jwt",
        "MASTERY_JWT_SECRET": SECRET,
        "MASTERY_DAPR_APP_TOKEN": APP_TOKEN,
        "MASTERY_LOG_LEVEL": "ERROR",
    }
    (tmp_path / "schemathesis.toml").write_text(CONFIG)
    with serve(tmp_path / "fuzz.db", free_port(), **env) as server:
        seed = [
            event("f1", "quiz.graded", "2026-03-01T10:00:00Z", quiz_id="q", score=1),
            event("f2", "exercise.completed", "2026-03-02T10:00:00Z", exercise_id="e1"),
        ]
        answer = httpx.post(f"{server.url}/v1/events", json=seed, headers=HEADERS)
        assert answer.status_code == 200, answer.text
        command = [
            str(Path(sys.executable).parent / "st"),
            "--config-file",
            str(tmp_path / "schemathesis.toml"),
            "run",
            f"{server.url}/openapi.json",
            "--header",
            f"Authorization: Bearer {TOKEN}",
            "--header",
            f"dapr-api-token: {APP_TOKEN}",
            "--checks",
            "all",
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--max-examples",
            "60",
            "--seed",
            "7",
            "--no-color",
        ]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=840, check=False, cwd=tmp_path
        )
    report = done.stdout[-8000:] + done.stderr[-2000:]
    assert done.returncode == 0, report
    assert "No issues found" in done.stdout, report
    assert "Stateful" in done.stdout and "Scenarios:" in done.stdout, report  # it ran
