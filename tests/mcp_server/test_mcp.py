"""The MCP tools through a real MCP client: over stdio, and over streamable HTTP with tokens."""

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client

from mastery_engine.api.routes.mcp import McpEndpoint
from mastery_engine.core.curriculum import DEFAULT_CURRICULUM
from mastery_engine.core.formula import FormulaConfig
from mastery_engine.core.prediction import DEFAULT_MODEL
from mastery_engine.service.analytics import Summaries
from mastery_engine.service.engine import Engine
from mastery_engine.service.guidance import Guidance
from mastery_engine.service.mastery import MasteryService
from mastery_engine.stores.memory import MemoryStore
from tests.serving import free_port, serve

BIN = str(Path(sys.executable).parent / "mastery-engine")
SECRET = "mcp-test-secret-" + "0123456789" * 4
TOOLS = {
    "get_mastery",
    "explain_skill",
    "recommend_next",
    "get_alerts",
    "class_overview",
    "record_event",
}
EVENT = {
    "id": "mcp-1",
    "type": "quiz.graded",
    "student_id": "ada",
    "skill_id": "functions",
    "occurred_at": "2026-01-05T10:00:00Z",
    "data": {"quiz_id": "q", "score": 0.75},
}


def token(sub: str, *roles: str, tenant: str = "default") -> str:
    claims = {"sub": sub, "tenant": tenant, "roles": list(roles), "exp": int(time.time()) + 3600}
    return jwt.encode(claims, SECRET, algorithm="HS256")


def text(result: Any) -> str:
    return "\n".join(part.text for part in result.content if getattr(part, "text", None))


async def exercise(session: ClientSession) -> dict[str, str]:
    """Call every tool once; their answers by name."""
    await session.initialize()
    listed = {tool.name for tool in (await session.list_tools()).tools}
    assert listed == TOOLS
    calls = {
        "record_event": {"event": EVENT},
        "get_mastery": {"student_id": "ada"},
        "explain_skill": {"student_id": "ada", "skill_id": "functions"},
        "recommend_next": {"student_id": "ada", "limit": 3},
        "get_alerts": {"student_id": "ada"},
        "class_overview": {"class_id": "7b"},
    }
    answers = {}
    for name, arguments in calls.items():
        result = await session.call_tool(name, arguments)
        assert not result.is_error, (name, text(result))
        answers[name] = text(result)
    return answers


def check(answers: dict[str, str]) -> None:
    assert answers["record_event"] in ("mcp-1: accepted", "mcp-1: duplicate")
    assert answers["get_mastery"].startswith("ada on ")
    assert "functions" in answers["get_mastery"] and "basics" in answers["get_mastery"]
    assert "- quiz:" in answers["explain_skill"]
    assert answers["recommend_next"].startswith("ada")
    assert answers["get_alerts"].startswith("ada")
    assert answers["class_overview"].splitlines()[1].startswith("ada: ")
    assert all(len(answer) < 2000 for answer in answers.values())


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A SQLite store with the demo class and a class '7b' of three demo students."""
    db, port = tmp_path / "mcp.db", free_port()
    with serve(db, port, MASTERY_DEMO="1") as server:
        roster = {"students": ["ada", "grace", "linus"]}
        assert httpx.put(f"{server.url}/v1/classes/7b", json=roster).status_code == 200
    return db


def test_every_tool_over_stdio(store: Path) -> None:
    env = {**os.environ, "MASTERY_STORE_URL": f"sqlite:///{store}", "MASTERY_MCP_TENANT": "default"}
    params = StdioServerParameters(command=BIN, args=["mcp"], env=env)

    async def run() -> dict[str, str]:
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            return await exercise(session)

    check(asyncio.run(run()))


# Arguments the HTTP API refuses with a 422, and what the tool's error must say.
BAD_ARGUMENTS = [
    ("recommend_next", {"student_id": "ada", "limit": -5}, "greater than or equal to 1"),
    ("recommend_next", {"student_id": "ada", "limit": 51}, "less than or equal to 50"),
    ("get_mastery", {"student_id": "ada", "as_of": "2026-13-01"}, "as_of is not a valid date"),
    ("get_mastery", {"student_id": "ada", "as_of": "2026-03-01T10:00"}, "no UTC offset"),
    ("get_alerts", {"student_id": "ada\n"}, "student_id must be"),
    ("explain_skill", {"student_id": "ada", "skill_id": "a/b"}, "skill_id must not contain"),
    ("class_overview", {"class_id": ""}, "class_id must be a non-empty string"),
]


def test_tools_refuse_what_the_api_refuses_saying_what_is_allowed(store: Path) -> None:
    env = {**os.environ, "MASTERY_STORE_URL": f"sqlite:///{store}", "MASTERY_MCP_TENANT": "default"}
    params = StdioServerParameters(command=BIN, args=["mcp"], env=env)

    async def run() -> list[tuple[bool, str]]:
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            tools = {tool.name: tool for tool in (await session.list_tools()).tools}
            limit = tools["recommend_next"].input_schema["properties"]["limit"]
            assert (limit["minimum"], limit["maximum"]) == (1, 50)
            answers = []
            for name, arguments, _ in BAD_ARGUMENTS:
                result = await session.call_tool(name, arguments)
                answers.append((result.is_error, text(result)))
            return answers

    for (name, arguments, said), (is_error, answer) in zip(
        BAD_ARGUMENTS, asyncio.run(run()), strict=True
    ):
        assert is_error, (name, arguments, answer)
        assert said in answer, (name, arguments, answer)


@asynccontextmanager
async def http_session(url: str, bearer: str) -> AsyncIterator[ClientSession]:
    client = create_mcp_http_client(headers={"Authorization": f"Bearer {bearer}"})
    async with (
        client,
        streamable_http_client(f"{url}/mcp", http_client=client) as streams,
        ClientSession(streams[0], streams[1]) as session,
    ):
        yield session


def test_every_tool_over_http_with_the_api_s_authentication(store: Path) -> None:
    port = free_port()
    env = {"MASTERY_AUTH": "jwt", "MASTERY_JWT_SECRET": SECRET}
    with serve(store, port, **env) as server:

        async def run() -> tuple[dict[str, str], str, str]:
            async with http_session(server.url, token("tutor", "service")) as session:
                answers = await exercise(session)
            async with http_session(server.url, token("grace", "student")) as session:
                await session.initialize()
                own = await session.call_tool("get_mastery", {"student_id": "grace"})
                other = await session.call_tool("get_mastery", {"student_id": "ada"})
                assert not own.is_error and other.is_error
            return answers, text(own), text(other)

        answers, own, other = asyncio.run(run())
        anonymous = httpx.post(f"{server.url}/mcp", json={"jsonrpc": "2.0", "id": 1})
        elsewhere = token("tutor", "service", tenant="other")

        async def outsider() -> str:
            async with http_session(server.url, elsewhere) as session:
                await session.initialize()
                return text(await session.call_tool("get_mastery", {"student_id": "ada"}))

        foreign = asyncio.run(outsider())

    check(answers)
    assert own.startswith("grace on ")
    assert "only for themself" in other
    assert anonymous.status_code == 401 and "WWW-Authenticate" in anonymous.headers
    assert "has no events in this tenant" in foreign


# In a fresh interpreter: the app serves without the MCP SDK until /mcp is first called.
LAZY_SDK = """
import sys
from fastapi.testclient import TestClient
from mastery_engine.api import create_app
from mastery_engine.settings import Settings

client_info = {"name": "t", "version": "1"}
hello = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": client_info}}
with TestClient(create_app(Settings(store_url="memory://", auth="off"))) as client:
    assert client.get("/v1/students/ada/mastery").status_code == 404
    before = "mcp" in sys.modules
    answer = client.post("/mcp", json=hello, headers={"accept": "application/json"})
    print(before, answer.status_code, answer.json()["result"]["serverInfo"]["name"])
"""


def test_the_sdk_is_imported_by_the_first_mcp_call_only() -> None:
    done = subprocess.run(
        [sys.executable, "-c", LAZY_SDK], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == ["False", "200", "mastery-engine"]


def engine() -> Engine:
    service = MasteryService(MemoryStore(), DEFAULT_CURRICULUM, FormulaConfig())
    return Engine.of(service, Guidance(service, DEFAULT_MODEL), Summaries(service, 60))


async def test_concurrent_first_calls_share_one_transport() -> None:
    endpoint = McpEndpoint(engine(), auth_on=True)
    first, second = await asyncio.gather(endpoint.app(), endpoint.app())
    assert first is second and first is await endpoint.app()
    await endpoint.close()


async def test_closing_an_endpoint_never_called_does_nothing() -> None:
    await McpEndpoint(engine(), auth_on=True).close()
