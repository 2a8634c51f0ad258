"""`mastery-engine consume` processes for the crash and consumer-group tests."""

import os
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BIN = Path(sys.executable).parent / "mastery-engine"


@dataclass
class Member:
    """A consumer process and the file its log goes to."""

    process: "subprocess.Popen[bytes]"
    log: Path

    def text(self) -> str:
        """Everything it logged so far."""
        return self.log.read_text(errors="replace")

    def wait_for(self, fragment: str, count: int = 1, timeout_s: float = 60.0) -> None:
        """Wait until its log holds `fragment` `count` times."""
        deadline = time.monotonic() + timeout_s
        while self.text().count(fragment) < count:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"no {fragment!r} x{count} in the log:\n{self.text()[-3000:]}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no clean-up, no leaving the group, no commit."""
        self.process.kill()
        self.process.wait()

    def finish(self, timeout_s: float = 120.0) -> str:
        """Wait for a burst-mode run to end by itself; its log."""
        code = self.process.wait(timeout=timeout_s)
        assert code == 0, f"consume exited with {code}:\n{self.text()[-3000:]}"
        return self.text()


def start_member(env: dict[str, str], log: Path, idle_s: float = 4.0) -> Member:
    """Start `mastery-engine consume --until-idle` with these MASTERY_* variables."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [str(BIN), "consume", "--until-idle", str(idle_s)],
            env={**os.environ, "MASTERY_LOG_LEVEL": "INFO", **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Member(process, log)


def stored_events(db: Path) -> int:
    """Distinct events applied to a SQLite store so far (0 before the schema exists)."""
    if not db.exists():
        return 0
    with sqlite3.connect(db, timeout=10) as connection:
        try:
            return int(connection.execute("SELECT count(*) FROM events").fetchone()[0])
        except sqlite3.OperationalError:
            return 0
