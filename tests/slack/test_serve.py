"""The production entry point, as a platform runs it: `python -m bot serve` in its own process,
serving through waitress, its Web API client pointed at the Slack stand-in."""

from __future__ import annotations

import os
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.slack.conftest import ACME, ACME_TOKEN, DEV, SECRET
from tests.support.production_server import (
    SERVING_LINE,
    ProductionServer,
    production_server,
    server_env,
)
from tests.support.slack_sender import SlackSender
from tests.support.slack_standin import SlackStandIn


@pytest.fixture
def server(standin: SlackStandIn, tmp_path: Path) -> Iterator[ProductionServer]:
    with production_server(
        standin.api_url, tmp_path, signing_secret=SECRET, bot_token=ACME_TOKEN
    ) as server:
        yield server


def test_production_server_serves_signed_requests_and_stops_cleanly(
    server: ProductionServer, standin: SlackStandIn, tmp_path: Path
) -> None:
    base = server.base
    health = server.wait_serving()
    assert health.json() == {"ok": True}
    assert httpx.get(f"{base}/elsewhere", timeout=5).status_code == 404
    assert (tmp_path / "ladder.db").exists()  # migrated on start

    with SlackSender(server.events_url, SECRET, standin, team_id=ACME) as acme:
        answer = acme.slash_command("help", user_id=DEV)
        assert answer.status_code == 200, answer.text
        # waitress names itself by the `ident` bot/server.py gives it
        assert answer.headers.get("server") == "ladder", answer.headers
        [posted] = standin.wait_for("response_url")
        assert posted.ok, posted.response
        [help_post] = standin.responses
        assert help_post.url == acme.last_response_url
        assert help_post.response_type in (None, "ephemeral")
        assert help_post.text is not None and "/okr status" in help_post.text
        # The production server checks signatures as well.
        assert acme.slash_command("help", user_id=DEV, sign=False).status_code == 401
    assert len(standin.responses) == 1

    assert server.stop() == 0, server.log_text()
    output = server.log_text()
    # served by waitress in each of the default two processes, not a development server
    assert output.count(SERVING_LINE) == 2, output
    assert "gunicorn" not in output.lower()
    assert "Traceback" not in output, output


def test_a_missing_signing_secret_stops_start_up_with_one_line(tmp_path: Path) -> None:
    env = server_env(
        tmp_path, SLACK_BOT_TOKEN=ACME_TOKEN, SLACK_SIGNING_SECRET="", SLACK_APP_TOKEN=""
    )
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


def test_workers_stop_when_the_parent_is_killed(server: ProductionServer) -> None:
    """A platform (or the out-of-memory killer) may SIGKILL the parent; its forked web
    processes must not live on holding the port."""
    server.wait_serving()
    workers = [pid for pid in server.pids() if pid != server.proc.pid]
    assert len(workers) == 2, workers  # the default WEB_CONCURRENCY
    server.proc.kill()
    server.proc.wait(timeout=10)
    for pid in workers:
        try:
            exited = os.pidfd_open(pid)  # readable once the process has ended
        except ProcessLookupError:
            continue
        try:
            readable, _, _ = select.select([exited], [], [], 10)
        finally:
            os.close(exited)
        assert readable, f"worker {pid} outlived its parent"
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{server.base}/healthz", timeout=2)
