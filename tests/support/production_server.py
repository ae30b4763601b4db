"""The production entry point as a platform runs it: `python -m bot serve` in its own process
(HTTP through waitress, WEB_CONCURRENCY processes), its Web API client pointed at the Slack
stand-in, its stdout and stderr captured to a file.

Usage::

    with production_server(standin.api_url, tmp_path, WEB_CONCURRENCY="1") as server:
        server.wait_serving()
        httpx.get(f"{server.base}/healthz")

The server binds every interface on a free port (bot/server.py binds 0.0.0.0); the tests
only ever connect to 127.0.0.1. On leaving the block a still-running server is killed, with
the processes it forked.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
START_SECONDS = 30.0
SECRET = "0123456789abcdef0123456789abcdef"  # tests/slack/conftest.py's signing secret
ACME_TOKEN = "xoxb-acme-test"  # the stand-in's bot token for Acme (tests/slack/conftest.py)
SERVING_LINE = "waitress serving in process"  # bot/server.py logs it once per web process


class ServerFailed(AssertionError):
    """The server did not come up, or died: the message carries its log."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(directory: Path | None, **settings: str) -> dict[str, str]:
    """The process environment: ours minus any Ladder/Slack settings (a developer's .env must
    not leak in), plus `settings`. DATABASE_URL defaults to a SQLite file in `directory`
    (none with `directory` None); `settings` override it."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("SLACK_", "LADDER_", "DATABASE_URL", "PORT", "LOG_LEVEL", "WEB_CONCURRENCY")
        )
    }
    return {
        **base,
        "PYTHONPATH": str(REPO),
        "PYTHONUNBUFFERED": "1",
        **({} if directory is None else {"DATABASE_URL": f"sqlite:///{directory / 'ladder.db'}"}),
        "LADDER_SCHEDULER": "off",
        **settings,
    }


@dataclass
class ProductionServer:
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    processes: int  # WEB_CONCURRENCY: the web processes it serves with

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def events_url(self) -> str:
        return f"{self.base}/slack/events"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _check_running(self, poll: float) -> None:
        """Raise if the server has exited; `poll` seconds is how long to wait for that."""
        try:
            self.proc.wait(timeout=poll)
        except subprocess.TimeoutExpired:
            return
        raise ServerFailed(f"the server exited with {self.proc.returncode}:\n{self.log_text()}")

    def wait_healthy(self, timeout: float = START_SECONDS) -> httpx.Response:
        """The first 200 from /healthz (the database is migrated and writable by then)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                answer = httpx.get(f"{self.base}/healthz", timeout=1.0)
                if answer.status_code == 200:
                    return answer
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise ServerFailed(f"no healthy answer within {timeout}s:\n{self.log_text()}")
            self._check_running(0.1)  # the poll interval doubles as a check it did not die

    def wait_serving(self, timeout: float = START_SECONDS) -> httpx.Response:
        """Healthy, and every web process has started waitress: with two processes the first
        one's 200 does not yet mean the second one is accepting connections."""
        answer = self.wait_healthy(timeout)
        deadline = time.monotonic() + timeout
        while self.log_text().count(SERVING_LINE) < self.processes:
            if time.monotonic() > deadline:
                raise ServerFailed(
                    f"{self.processes} web process(es) not serving within {timeout}s:\n"
                    f"{self.log_text()}"
                )
            self._check_running(0.05)
        return answer

    def pids(self) -> list[int]:
        """The server's process and every process below it (its web workers)."""
        found: list[int] = []
        todo = [self.proc.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            for children in Path(f"/proc/{pid}/task").glob("*/children"):
                try:
                    todo.extend(int(child) for child in children.read_text().split())
                except OSError:  # the thread or process ended meanwhile
                    continue
        return found

    def rss_bytes(self) -> int:
        """The sum of VmRSS over `pids()` (a process that ended meanwhile counts 0)."""
        total = 0
        for pid in self.pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024  # "VmRSS:   12345 kB"
        return total

    def socket_count(self) -> int:
        """Open sockets across `pids()`: the listening one per process, plus connections."""
        total = 0
        for pid in self.pids():
            try:
                fds = list(Path(f"/proc/{pid}/fd").iterdir())
            except OSError:
                continue
            for fd in fds:
                try:
                    if os.readlink(fd).startswith("socket:"):
                        total += 1
                except OSError:
                    continue
        return total

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, as a platform stops it; its exit code."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)


@contextmanager
def production_server(
    api_url: str,
    directory: Path,
    *,
    signing_secret: str = SECRET,
    bot_token: str = ACME_TOKEN,
    command: Sequence[str] = (sys.executable, "-m", "bot", "serve"),
    **settings: str,
) -> Iterator[ProductionServer]:
    """`python -m bot serve` in HTTP mode on a free port, its database and log in
    `directory`; `settings` are further environment variables (WEB_CONCURRENCY=...).
    `command` runs something else in its place (to try the tests on another server)."""
    port = free_port()
    env = server_env(
        directory,
        SLACK_BOT_TOKEN=bot_token,
        SLACK_SIGNING_SECRET=signing_secret,
        SLACK_API_URL=api_url,
        PORT=str(port),
        **settings,
    )
    processes = int(env.get("WEB_CONCURRENCY") or 2)
    log_path = directory / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            list(command),
            cwd=directory,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = ProductionServer(port, proc, log_path, processes)
    try:
        yield server
    finally:
        if proc.poll() is None:
            # Its web workers first: a killed parent would leave them running. Until the
            # parent reaps them their pids stay theirs, so no other process is hit.
            for pid in reversed(server.pids()[1:]):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            proc.kill()
            proc.wait(timeout=10)
