"""End-to-end fixtures: the real Ladder app on a loopback port, Slack played by the stand-in.

Requests reach the app the way Slack sends them (v0-signed HTTP), and the app's WebClient
talks to the stand-in through SLACK_API_URL, exactly as it would talk to slack.com.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from sqlalchemy import Engine

from bot.app import build_app
from bot.config import Settings, load_settings
from bot.server import ANSWER_BUDGET_S, make_wsgi_app
from tests.support.executor import TrackedExecutor
from tests.support.request_lines import RequestLines
from tests.support.slack_sender import SlackSender
from tests.support.slack_standin import SlackStandIn

SECRET = "0123456789abcdef0123456789abcdef"  # 32 hex characters, like Slack's
ACME, OTHER = "T0ACME", "T0OTHER"
ACME_TOKEN, OTHER_TOKEN = "xoxb-acme-test", "xoxb-other-test"
CEO, DEV, EVE = "U0CEO", "U0DEV", "U0EVE"  # Acme's admin, a developer, and another member
STRANGER = "U0STRANGER"  # a member of the other workspace


class TestClock:
    """The app's clock: tests move it instead of sleeping."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


@dataclass
class Ladder:
    """The running app, its database, the stand-in, and a sender per workspace."""

    url: str
    settings: Settings
    engine: Engine
    clock: TestClock
    standin: SlackStandIn
    acme: SlackSender
    other: SlackSender
    lazy: TrackedExecutor  # Bolt's listener_executor: the work after each ack

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Until the work after every ack answered so far has ended."""
        assert self.lazy.wait_idle(timeout), f"{self.lazy.pending} lazy listener(s) still going"


@pytest.fixture
def standin() -> Iterator[SlackStandIn]:
    with SlackStandIn() as standin:
        standin.add_workspace(ACME, bot_token=ACME_TOKEN, team_name="Acme Tech")
        standin.add_workspace(OTHER, bot_token=OTHER_TOKEN, team_name="Other Co")
        standin.add_user(ACME, CEO, name="ceo", is_admin=True, is_owner=True)
        standin.add_user(ACME, DEV, name="dev", tz="Europe/Berlin")
        standin.add_user(ACME, EVE, name="eve", tz="Asia/Tokyo")
        standin.add_user(OTHER, STRANGER, name="stranger")
        yield standin
        assert standin.violations == [], "the app sent what Slack would refuse"


TEST_ANSWER_BUDGET_S = 60.0


@contextmanager
def serve_ladder(
    settings: Settings,
    standin: SlackStandIn,
    engine: Engine,
    clock: TestClock,
    *,
    answer_budget_s: float = TEST_ANSWER_BUDGET_S,
) -> Iterator[Ladder]:
    """The app built from `settings`, served on a loopback port, with a sender per workspace."""
    lazy = TrackedExecutor()
    app = build_app(settings, engine, clock=clock, listener_executor=lazy)
    server = make_server(
        "127.0.0.1",
        0,
        # Slack's deadline is not what most tests are about (those marked `slack_deadline`,
        # tests/slack/test_waitress_edges.py and tests/storage/test_db.py are): on a busy
        # machine a form's 2 s would run out and turn their answers into timeouts.
        make_wsgi_app(
            app,
            engine,
            signing_secret=SECRET,
            answer_budget_s=answer_budget_s,
        ),
        _ThreadingWSGIServer,
        _QuietHandler,
    )
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/slack/events"
    try:
        with (
            SlackSender(url, SECRET, standin, team_id=ACME) as acme,
            SlackSender(url, SECRET, standin, team_id=OTHER) as other,
        ):
            yield Ladder(url, settings, engine, clock, standin, acme, other, lazy)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        lazy.shutdown(wait=True)


def single_workspace_settings(standin: SlackStandIn) -> Settings:
    return load_settings(
        {
            "SLACK_BOT_TOKEN": ACME_TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": standin.api_url,
            "LADDER_SCHEDULER": "off",
        }
    )


@pytest.fixture
def ladder(
    request: pytest.FixtureRequest, standin: SlackStandIn, engine: Engine
) -> Iterator[Ladder]:
    """The app; a test marked `slack_deadline` gets the real 2 s answer budget."""
    clock = TestClock(datetime(2026, 2, 16, 9, 0, tzinfo=UTC))
    budget = (
        ANSWER_BUDGET_S
        if request.node.get_closest_marker("slack_deadline")
        else TEST_ANSWER_BUDGET_S
    )
    settings = single_workspace_settings(standin)
    with serve_ladder(settings, standin, engine, clock, answer_budget_s=budget) as ladder:
        yield ladder


@pytest.fixture
def request_lines() -> Iterator[RequestLines]:
    """The `ladder.requests` lines the app writes during the test (INFO included)."""
    handler = RequestLines()
    logger = logging.getLogger("ladder.requests")
    level = logger.level
    logger.setLevel(logging.INFO)  # a request that went well is logged at INFO
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)
