"""A private PostgreSQL server for tests that freeze or stop the store's process."""

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg


def _bin() -> Path:
    """The newest PostgreSQL server binaries of Debian's packages."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if not found:
        raise AssertionError("PostgreSQL server binaries are missing (/usr/lib/postgresql/*/bin)")
    return found[-1]


def _as_postgres() -> list[str]:
    # The server refuses to run as root.
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


@dataclass
class PostgresServer:
    """A running private server: its URL, and the processes to freeze."""

    url: str
    data: Path

    def pids(self) -> list[int]:
        """The postmaster and every backend process it has forked."""
        main = int((self.data / "postmaster.pid").read_text().split()[0])
        children = subprocess.run(
            ["pgrep", "-P", str(main)], capture_output=True, text=True, check=False
        ).stdout.split()
        return [main, *(int(pid) for pid in children)]

    def signal_all(self, sig: signal.Signals) -> None:
        """Send `sig` to the whole server (SIGSTOP freezes it, SIGCONT wakes it)."""
        for pid in self.pids():
            os.kill(pid, sig)


@contextmanager
def postgres_server(port: int) -> Iterator[PostgresServer]:
    """Start a throw-away server on 127.0.0.1:`port` with a database `test`; remove it after."""
    root = Path(tempfile.mkdtemp(prefix="mastery-pg-"))
    data = root / "data"
    data.mkdir()
    shutil.chown(root, "postgres") if os.geteuid() == 0 else None
    shutil.chown(data, "postgres") if os.geteuid() == 0 else None
    run, binaries = _as_postgres(), _bin()
    subprocess.run(
        [*run, str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
    )
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=on"
    command = [*run, str(binaries / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w"]
    subprocess.run([*command, "-o", options, "start"], check=True, capture_output=True)
    try:
        base = f"postgresql://postgres@127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(f"{base}/postgres", autocommit=True) as db:
                    db.execute("CREATE DATABASE test")
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield PostgresServer(f"{base}/test", data)
    finally:
        for pid in PostgresServer("", data).pids() if (data / "postmaster.pid").exists() else []:
            os.kill(pid, signal.SIGCONT)  # a frozen server cannot stop
        subprocess.run([*command, "-m", "immediate", "stop"], check=False, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
