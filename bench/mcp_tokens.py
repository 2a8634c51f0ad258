"""How much context an agent saves: MCP tool answers vs the raw events they summarise.

For each demo student (`make run`'s class: 4 weeks of events), the bytes of the student's
raw events as JSON (what an agent would otherwise read) against the bytes of the answers
of `get_mastery`, `explain_skill` (their weakest started skill), `recommend_next` and
`get_alerts`, called through the real MCP server. Tokens are estimated as bytes / 4.
"""

import asyncio
import json
from typing import Any

import report
from mastery_engine.core.access import Principal, Role
from mastery_engine.core.formula import Level
from mastery_engine.mcp.server import acting_as, build_server
from mastery_engine.service.demo import PROFILES, demo_events
from mastery_engine.settings import Settings
from mastery_engine.wiring import open_engine

TENANT = "demo"


def answer_text(result: Any) -> str:
    """The text parts of a tool result."""
    return "\n".join(part.text for part in result.content if getattr(part, "text", None))


async def measure() -> list[dict[str, Any]]:
    """Per demo student: raw bytes, answer bytes, reduction."""
    settings = Settings(store_url="memory://", auth="off")
    async with open_engine(settings) as engine:
        service = engine.service
        events = demo_events(service.clock(), service.curriculum)
        await service.ingest(TENANT, events)
        server = build_server(engine)
        rows = []
        with acting_as(Principal("bench", TENANT, frozenset({Role.SERVICE}))):
            for student in PROFILES:
                mine = [e for e in events if e["student_id"] == student]
                raw = len(json.dumps(mine, separators=(",", ":")).encode())
                started = [
                    s
                    for s in (await service.mastery(TENANT, student, None)).skills
                    if s.level is not Level.MASTERED and s.components.completion > 0
                ]
                weakest = min(started, key=lambda s: s.mastery).skill_id
                calls = {
                    "get_mastery": {"student_id": student},
                    "explain_skill": {"student_id": student, "skill_id": weakest},
                    "recommend_next": {"student_id": student, "limit": 3},
                    "get_alerts": {"student_id": student},
                }
                sizes = {}
                for name, arguments in calls.items():
                    result = await server.call_tool(name, arguments)
                    sizes[name] = len(answer_text(result).encode())
                answers = sum(sizes.values())
                rows.append({"student": student, "events": len(mine), "raw_bytes": raw,
                             "answer_bytes": answers, "per_tool": sizes,
                             "reduction": 1 - answers / raw})  # fmt: skip
    return rows


def main() -> None:
    """Measure, print, save."""
    rows = asyncio.run(measure())
    report.print_table(
        "MCP answers (4 tools) vs raw events, per demo student (tokens ~ bytes / 4)",
        ["student", "events", "raw bytes", "~raw tokens", "answer bytes", "~answer tokens",
         "fewer"],
        [[r["student"], r["events"], r["raw_bytes"], r["raw_bytes"] // 4, r["answer_bytes"],
          r["answer_bytes"] // 4, f"{100 * r['reduction']:.1f} %"] for r in rows],
    )  # fmt: skip
    total_raw = sum(r["raw_bytes"] for r in rows)
    total_answers = sum(r["answer_bytes"] for r in rows)
    print(f"\nall students: {100 * (1 - total_answers / total_raw):.1f} % fewer bytes")
    report.write_result("mcp_tokens", {"students": rows})


if __name__ == "__main__":
    main()
