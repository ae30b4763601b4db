"""The production entry point, as a platform runs it: `python -m bot serve` in its own process,
serving through waitress, its Web API client pointed at the Slack stand-in."""

from __future__ import annotations

import os
import select
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import fresh_postgres_schema
from tests.slack.conftest import ACME, ACME_TOKEN, DEV, SECRET
from tests.support.production_server import (
    REPO,
    SERVING_LINE,
    ProductionServer,
    free_port,
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


@pytest.mark.postgres
def test_two_web_processes_share_one_postgresql_database(
    standin: SlackStandIn, tmp_path: Path
) -> None:
    """WEB_CONCURRENCY=2 against PostgreSQL: both processes migrate-check, serve and write
    the same database; concurrent commands that write are all answered and all stored."""
    people = [f"U0P{n:02d}" for n in range(16)]
    for user in people:
        standin.add_user(ACME, user, name=user.lower())
    with fresh_postgres_schema("ladder_web") as engine:
        with engine.connect() as connection:
            search_path = connection.exec_driver_sql("SHOW search_path").scalar()
        url = engine.url.set(query={"options": f"-csearch_path={search_path}"})
        with production_server(
            standin.api_url,
            tmp_path,
            WEB_CONCURRENCY="2",
            DATABASE_URL=url.render_as_string(hide_password=False),
        ) as server:
            server.wait_serving()
            assert httpx.get(f"{server.base}/healthz", timeout=5).json() == {"ok": True}

            def away(user: str) -> int:
                with SlackSender(server.events_url, SECRET, standin, team_id=ACME) as sender:
                    return sender.slash_command("away until 2027-01-31", user_id=user).status_code

            with ThreadPoolExecutor(8) as pool:
                assert list(pool.map(away, people)) == [200] * len(people)
            standin.wait_for("response_url", count=len(people), timeout=30)
            assert all("Enjoy!" in (post.text or "") for post in standin.responses)
            assert server.stop() == 0, server.log_text()
        with engine.connect() as connection:
            stored = connection.exec_driver_sql(
                "SELECT user_id FROM person WHERE away_until IS NOT NULL"
            ).scalars()
            assert sorted(stored) == people
    assert "Traceback" not in server.log_text()


def test_a_env_made_from_the_example_as_the_readme_says_serves_slack(
    standin: SlackStandIn, tmp_path: Path
) -> None:
    """README, Connect to Slack: `cp .env.example .env`, fill in the bot token and the signing
    secret, run the bot. Its empty OAuth lines must not switch on Bolt's OAuth flow (which
    answers every command "please reinstall"). SLACK_API_URL points at the stand-in, as no
    Slack is reachable here; PORT is a free one."""
    port = free_port()
    filled = {
        "SLACK_BOT_TOKEN": ACME_TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": standin.api_url,
        "PORT": str(port),
    }
    lines = []
    for line in (REPO / ".env.example").read_text().splitlines():
        name = line.partition("=")[0]
        lines.append(f"{name}={filled.pop(name)}" if name in filled else line)
    assert filled == {}, f".env.example has no line for {sorted(filled)}"
    (tmp_path / ".env").write_text("\n".join(lines) + "\n")
    # Nothing of Ladder's or Slack's in the environment: all of it comes from .env.
    env = {
        k: v
        for k, v in server_env(tmp_path).items()
        if not k.startswith(("SLACK_", "LADDER_", "DATABASE_URL", "PORT"))
    }
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot"], cwd=tmp_path, env=env, stdout=log, stderr=log
        )
    server = ProductionServer(port, proc, log_path, 2)
    try:
        server.wait_serving()
        with SlackSender(server.events_url, SECRET, standin, team_id=ACME) as acme:
            assert acme.slash_command("help", user_id=DEV).status_code == 200
            standin.wait_for("response_url")
        [answer] = standin.responses
        assert answer.text is not None and "/okr status" in answer.text, answer.text
        assert server.stop() == 0, server.log_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert (tmp_path / "data" / "ladder.db").exists()  # the default SQLite file, where it ran
    assert "Traceback" not in server.log_text()


def test_a_start_at_head_migrates_nothing_and_asks_slack_once(
    standin: SlackStandIn, tmp_path: Path
) -> None:
    """The first start creates the schema; the next finds it at head and leaves Alembic
    alone. Each start asks Slack who the token is once (auth.test), web processes included."""
    for start, migrates in ((1, True), (2, False)):
        standin.reset()
        with production_server(
            standin.api_url,
            tmp_path,
            signing_secret=SECRET,
            bot_token=ACME_TOKEN,
            LOG_LEVEL="DEBUG",
        ) as server:
            server.wait_serving()
            assert server.stop() == 0, server.log_text()
            output = server.log_text()
        assert ("upgrading the database schema" in output) is migrates, (start, output)
        assert "Running upgrade" not in output or migrates, output  # Alembic's own line
        assert len(standin.calls("auth.test")) == 1, (start, standin.calls("auth.test"))
        (tmp_path / "server.log").unlink()
