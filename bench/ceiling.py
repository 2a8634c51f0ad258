"""Our query throughput as a share of a trivial FastAPI endpoint's, measured in one run.

The ceiling is a one-route FastAPI app answering `{"ok": true}` under the same server stack
(uvicorn, uvloop, httptools, one worker). Against it, the service (SQLite unless
`--store-url` names another store, the demo class, authentication off) answering
`GET /v1/students/{id}/mastery` for the six demo students, and its own `/healthz` (the cost
of our middleware alone). Each is driven closed loop with
`wrk -t2 -c16` for the same duration; the server's peak RSS is read from /proc.
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import report
import wrk
from service_process import answering, free_port, peak_rss_mib

TRIVIAL_APP = """
from fastapi import FastAPI
app = FastAPI()
@app.get("/ping")
async def ping() -> dict[str, bool]:
    return {"ok": True}
"""
STUDENTS = ("ada", "grace", "linus", "guido", "margaret", "alan")
ROTATE = """
local students = {%s}
local n = 0
function request()
  n = n + 1
  return wrk.format("GET", "/v1/students/" .. students[(n %% #students) + 1] .. "/mastery")
end
"""


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument(
        "--store-url", help="serve from this store (default: a fresh SQLite file), e.g. redis://"
    )
    return parser.parse_args()


def measure(
    command: list[str], env: dict[str, str], url: str, script: Path, *, seconds: int, ready: str
) -> dict[str, Any]:
    """Start a server, drive it with wrk, stop it; the figures and its peak RSS."""
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        if not answering(ready, 30.0):
            raise SystemExit(f"{ready} did not answer in 30 s")
        figures = wrk.run(url, script, threads=2, connections=16, seconds=seconds)
        figures["peak_rss_mib"] = peak_rss_mib(process.pid)
        return figures
    finally:
        process.terminate()
        process.wait(30)


def main() -> None:
    """Measure the ceiling, our query and our /healthz; print the ratios."""
    args = parse_args()
    if not wrk.available():
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory(prefix="mastery-ceiling-") as tmp:
        work = Path(tmp)
        (work / "trivial.py").write_text(TRIVIAL_APP)
        plain = work / "plain.lua"
        plain.write_text("")
        rotate = work / "rotate.lua"
        rotate.write_text(ROTATE % ", ".join(f'"{s}"' for s in STUDENTS))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        uvicorn = [str(bin_dir / "uvicorn"), "trivial:app", "--port", str(port),
                   "--log-level", "warning", "--app-dir", tmp]  # fmt: skip
        ceiling = measure(
            uvicorn,
            dict(os.environ),
            f"{base}/ping",
            plain,
            seconds=args.seconds,
            ready=f"{base}/ping",
        )
        store = args.store_url or f"sqlite:///{work / 'demo.db'}"
        env = os.environ | {"MASTERY_STORE_URL": store,
                            "MASTERY_AUTH": "off", "MASTERY_DEMO": "1",
                            "MASTERY_LOG_LEVEL": "WARNING"}  # fmt: skip
        serve = [str(bin_dir / "mastery-engine"), "serve", "--port", str(port)]
        ready = f"{base}/readyz"
        query = measure(serve, env, base, rotate, seconds=args.seconds, ready=ready)
        health = measure(serve, env, f"{base}/healthz", plain, seconds=args.seconds, ready=ready)
    rows = [("trivial FastAPI /ping (ceiling)", ceiling), ("GET /v1/students/{id}/mastery",
            query), ("our /healthz (middleware only)", health)]  # fmt: skip
    top = ceiling["requests_per_s"]
    report.print_table(
        f"Closed loop, wrk -t2 -c16 -d{args.seconds}s, one server process"
        + (f", store {args.store_url}" if args.store_url else ""),
        ["endpoint", "requests/s", "ratio to ceiling", "p50 ms", "p99 ms", "non-2xx",
         "peak RSS MiB"],
        [[name, f["requests_per_s"], f["requests_per_s"] / top, f.get("p50_ms", float("nan")),
          f.get("p99_ms", float("nan")), f["non_2xx"], f["peak_rss_mib"]]
         for name, f in rows],
    )  # fmt: skip
    name = "ceiling" if args.store_url is None else f"ceiling_{args.store_url.split(':')[0]}"
    report.write_result(name, {"seconds": args.seconds, "ceiling": ceiling,
                                    "query": query, "healthz": health})  # fmt: skip


if __name__ == "__main__":
    main()
