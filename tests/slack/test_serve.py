"""The production entry point, as a platform runs it: `python -m bot serve` in its own process,
serving through gunicorn, its Web API client pointed at the Slack stand-in."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.slack.conftest import ACME, ACME_TOKEN, DEV, SECRET
from tests.support.slack_sender import SlackSender
from tests.support.slack_standin import SlackStandIn

REPO = Path(__file__).resolve().parents[2]
START_SECONDS = 30.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """The process environment: ours minus any Ladder/Slack settings, plus `settings`."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "LADDER_", "DATABASE_URL", "PORT", "LOG_LEVEL"))
    }
    return {
        **base,
        "PYTHONPATH": str(REPO),
        "PYTHONUNBUFFERED": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'ladder.db'}",
        "LADDER_SCHEDULER": "off",
        **settings,
    }


@pytest.fixture
def server(standin: SlackStandIn, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = _free_port()
    env = _env(
        tmp_path,
        SLACK_BOT_TOKEN=ACME_TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=standin.api_url,
        PORT=str(port),
    )
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve"],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield f"http://127.0.0.1:{port}", proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def _wait_healthy(base: str, proc: subprocess.Popen[bytes], log: Path) -> httpx.Response:
    deadline = time.monotonic() + START_SECONDS
    while True:
        try:
            answer = httpx.get(f"{base}/healthz", timeout=1.0)
            if answer.status_code == 200:
                return answer
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"no healthy answer within {START_SECONDS}s:\n{log.read_text()}")
        try:  # the poll interval doubles as a check that the server did not die
            proc.wait(timeout=0.1)
        except subprocess.TimeoutExpired:
            continue
        pytest.fail(f"the server exited with {proc.returncode}:\n{log.read_text()}")


def test_production_server_serves_signed_requests_and_stops_cleanly(
    server: tuple[str, subprocess.Popen[bytes]], standin: SlackStandIn, tmp_path: Path
) -> None:
    base, proc = server
    log = tmp_path / "server.log"
    health = _wait_healthy(base, proc, log)
    assert health.json() == {"ok": True}
    assert httpx.get(f"{base}/elsewhere", timeout=5).status_code == 404
    assert (tmp_path / "ladder.db").exists()  # migrated on start

    with SlackSender(f"{base}/slack/events", SECRET, standin, team_id=ACME) as acme:
        answer = acme.slash_command("help", user_id=DEV)
        assert answer.status_code == 200, answer.text
        [posted] = standin.wait_for("response_url")
        assert posted.ok, posted.response
        [help_post] = standin.responses
        assert help_post.url == acme.last_response_url
        assert help_post.response_type in (None, "ephemeral")
        assert help_post.text is not None and "/okr status" in help_post.text
        # The production server checks signatures as well.
        assert acme.slash_command("help", user_id=DEV, sign=False).status_code == 401
    assert len(standin.responses) == 1

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0, log.read_text()
    output = log.read_text()
    assert "gunicorn" in output.lower()  # served by gunicorn, not a development server
    assert "Traceback" not in output, output


def test_a_missing_signing_secret_stops_start_up_with_one_line(tmp_path: Path) -> None:
    env = _env(tmp_path, SLACK_BOT_TOKEN=ACME_TOKEN, SLACK_SIGNING_SECRET="", SLACK_APP_TOKEN="")
    done = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("ladder: SLACK_SIGNING_SECRET is not set"), lines[0]
    assert done.stdout == ""
    assert (tmp_path / "ladder.db").exists()  # the database is ready for when the secret is
