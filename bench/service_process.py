"""The real service, `mastery-engine serve`, in a subprocess on a fresh SQLite file."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def answering(url: str, timeout: float, alive: Callable[[], bool] = lambda: True) -> bool:
    """Whether `url` answers 200 within `timeout` s (False as soon as `alive()` is not)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive():
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return True
        except OSError:
            time.sleep(0.1)
    return False


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process so far (NaN once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def peak_rss_mib(pid: int) -> float:
    """VmHWM of a live process, in MiB (NaN once it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return float("nan")
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
    return int(found.group(1)) / 1024 if found else float("nan")


class ServiceProcess:
    """Starts the service on `workdir/bench.db` or a given store URL (auth off); stops it."""

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        workers: int = 1,
        store_options: str = "",
        store_url: str | None = None,
    ) -> None:
        self.workdir = workdir
        self.workers = workers
        self.store_url = store_url or f"sqlite:///{workdir / 'bench.db'}" + (
            f"?{store_options}" if store_options else ""
        )
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "ServiceProcess":
        env = os.environ | {
            "MASTERY_STORE_URL": self.store_url,
            "MASTERY_AUTH": "off",
            "MASTERY_LOG_LEVEL": "WARNING",
            # Benchmarks measure capacity; the per-tenant ingestion limit would cap it at 20k/s.
            "MASTERY_INGEST_RATE_LIMIT": "off",
        }
        command = [str(Path(sys.executable).parent / "mastery-engine"), "serve"]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [*command, "--port", str(self.port), "--workers", str(self.workers)],
                env=env,
                stdout=log,
                stderr=log,
            )
        self._wait_healthy()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def _wait_healthy(self, timeout: float = 30.0) -> None:
        if answering(f"{self.url}/healthz", timeout, self._running):
            return
        self.stop()
        raise RuntimeError(f"service did not become healthy; log:\n{self.log_path.read_text()}")

    def _running(self) -> bool:
        return self.process is None or self.process.poll() is None

    @property
    def pid(self) -> int:
        """The server's process id."""
        assert self.process is not None
        return self.process.pid

    def pids(self) -> list[int]:
        """The server process and all its live descendants (worker processes)."""
        found, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            for task in Path(f"/proc/{pid}/task").glob("*/children"):
                todo.extend(int(child) for child in task.read_text().split())
        return found

    def cpu_seconds(self) -> float:
        """User + system CPU time the server processes have used so far."""
        return sum(cpu_seconds(pid) for pid in self.pids())

    def peak_rss_mb(self) -> float:
        """The largest peak resident memory (VmHWM) among the server processes, in MiB."""
        return max([0.0, *(peak_rss_mib(pid) for pid in self.pids())])

    def check_alive(self) -> None:
        """Raise, with the end of the server log, if the server has exited."""
        if self.process is not None and self.process.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-4000:]
            raise RuntimeError(f"the service exited with {self.process.returncode}:\n{tail}")

    def stop(self) -> None:
        """Ask for a graceful shutdown, then kill if it takes more than 30 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
