"""A read after a write acknowledged to another process sees the write, on every shared
backend, however the reading process keeps its snapshots current (a version lookup, SQLite's
`PRAGMA data_version`, the Redis store's announcements)."""

import pytest

from tests.backends import SHARED_BACKENDS
from tests.conftest import NOW
from tests.stores.test_freshness_redis import quiz, quizzes_of, two_processes

STUDENTS = [f"s{i}" for i in range(4)]


@pytest.mark.parametrize("backend", SHARED_BACKENDS)
async def test_a_read_after_a_write_acknowledged_elsewhere_sees_it(backend_url: str) -> None:
    async with two_processes(backend_url) as (writer, reader):
        for i, student in enumerate(STUDENTS * 5):
            before = await reader.read("t", student, NOW)
            assert await reader.read("t", student, NOW) == before  # cached, known current
            await writer.apply("t", [quiz(i, student)], NOW)
            after = await reader.read("t", student, NOW)
            assert after is not None
            assert quizzes_of(after) == (quizzes_of(before) if before else 0) + 1
        await writer.delete_student("t", STUDENTS[0])
        assert await reader.read("t", STUDENTS[0], NOW) is None
