"""Closed-loop maximum throughput with `wrk`, each request for a random student."""

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

SCRIPT = """
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end
function init(args)
  math.randomseed(%(seed)d + id)
end
local skills = {%(skills)s}
function request()
  local student = string.format("s-%%05d", math.random(0, %(last)d))
  local skill = skills[math.random(1, #skills)]
  return wrk.format("GET", string.format("%(template)s", student, skill))
end
"""
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def available() -> bool:
    """Whether `wrk` is on the PATH."""
    return shutil.which("wrk") is not None


def lua_script(
    path: Path, template: str, students: int, skills: tuple[str, ...], seed: int
) -> Path:
    """Write a wrk script requesting `template % (student, skill)` for random ones."""
    quoted = ", ".join(f'"{s}"' for s in skills)
    lua_template = template.replace("{student}", "%s").replace("{skill}", "%s")
    values = {"seed": seed, "skills": quoted, "last": students - 1, "template": lua_template}
    path.write_text(SCRIPT % values)
    return path


def to_ms(text: str) -> float:
    """`812.00us`, `3.41ms` or `1.02s` in milliseconds."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if match is None:
        raise ValueError(f"unexpected wrk duration {text!r}")
    return float(match.group(1)) * UNITS_MS[match.group(2)]


def parse(output: str) -> dict[str, Any]:
    """Throughput, latency percentiles and errors from `wrk --latency` output."""
    figures: dict[str, Any] = {}
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    figures["requests_per_s"] = float(rate.group(1)) if rate else float("nan")
    total = re.search(r"(\d+) requests in ([\d.]+\w+)", output)
    figures["requests"] = int(total.group(1)) if total else 0
    for p, value in re.findall(r"^\s+(\d+)%\s+(\S+)$", output, re.MULTILINE):
        figures[f"p{p}_ms"] = to_ms(value)
    stats = re.search(r"Latency\s+(\S+)\s+(\S+)\s+(\S+)", output)
    if stats:
        figures["mean_ms"], figures["max_ms"] = to_ms(stats.group(1)), to_ms(stats.group(3))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    figures["non_2xx"] = int(non_2xx.group(1)) if non_2xx else 0
    sockets = re.search(r"Socket errors: (.*)", output)
    figures["socket_errors"] = sockets.group(1).strip() if sockets else "none"
    return figures


def run(url: str, script: Path, threads: int, connections: int, seconds: int) -> dict[str, Any]:
    """Run wrk against `url` and return its parsed figures and the command line."""
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    command += ["-s", str(script), url]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return {"command": " ".join(command), **parse(done.stdout)}
