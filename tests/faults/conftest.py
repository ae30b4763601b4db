"""Fault-suite fixtures: the running app from tests/slack, plus what the fault tests share.

`standin` and `ladder` are the end-to-end fixtures of tests/slack/conftest.py (real signed
HTTP to the app, the app's WebClient talking to the Slack stand-in), re-exported here.
`shared_ladder` is the same app kept for a whole module (per database backend), for tables
of hundreds of cases where starting an app per case would cost more than the case.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from slack_bolt.listener.listener_completion_handler import DefaultListenerCompletionHandler
from slack_bolt.listener.listener_start_handler import DefaultListenerStartHandler
from slack_sdk.http_retry import builtin_handlers
from slack_sdk.http_retry import handler as retry_handler
from sqlalchemy import Engine

from storage.db import make_engine
from tests.conftest import _truncate_all
from tests.faults.helpers import ListenerRuns, running_ladder
from tests.slack.conftest import ACME, CEO, DEV, EVE, OTHER, STRANGER, Ladder
from tests.slack.conftest import ladder as ladder  # the fixtures, for this directory
from tests.slack.conftest import standin as standin
from tests.support.slack_standin import SlackStandIn

# Loggers of code under test; an ERROR from any of them means a handler blew up.
APP_LOGGERS = ("ladder", "bot", "storage", "slack_bolt", "slack_sdk")


@pytest.fixture
def retry_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The WebClient's retry handlers record their waits instead of sleeping them."""
    waits: list[float] = []
    monkeypatch.setattr(builtin_handlers, "time", SimpleNamespace(sleep=waits.append))
    monkeypatch.setattr(retry_handler, "time", SimpleNamespace(sleep=waits.append))
    return waits


@pytest.fixture
def listener_runs(monkeypatch: pytest.MonkeyPatch) -> ListenerRuns:
    runs = ListenerRuns()
    started, finished = DefaultListenerStartHandler.handle, DefaultListenerCompletionHandler.handle

    def start(self: DefaultListenerStartHandler, request: Any, response: Any) -> None:
        runs._count("started")
        started(self, request=request, response=response)

    def finish(self: DefaultListenerCompletionHandler, request: Any, response: Any) -> None:
        try:
            finished(self, request=request, response=response)
        finally:
            runs._count("finished")

    monkeypatch.setattr(DefaultListenerStartHandler, "handle", start)
    monkeypatch.setattr(DefaultListenerCompletionHandler, "handle", finish)
    return runs


@pytest.fixture
def app_errors(caplog: pytest.LogCaptureFixture) -> Callable[[], list[logging.LogRecord]]:
    """ERROR records the app logged so far in this test (Bolt logs a crashed listener so)."""
    caplog.set_level(logging.INFO)

    def errors() -> list[logging.LogRecord]:
        return [
            r
            for r in caplog.records
            if r.levelno >= logging.ERROR and r.name.startswith(APP_LOGGERS)
        ]

    return errors


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def module_ladder(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Ladder]:
    """One app, stand-in and database for the module: tests compare before/after themselves."""
    engine: Engine
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("faults") / "ladder.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        engine = make_engine(f"sqlite:///{path}")
    else:
        engine = request.getfixturevalue("postgres_schema_engine")
        _truncate_all(engine)
    with SlackStandIn() as slack:
        slack.add_workspace(ACME, bot_token="xoxb-acme-test", team_name="Acme Tech")
        slack.add_workspace(OTHER, bot_token="xoxb-other-test", team_name="Other Co")
        slack.add_user(ACME, CEO, name="ceo", is_admin=True, is_owner=True)
        slack.add_user(ACME, DEV, name="dev", tz="Europe/Berlin")
        slack.add_user(ACME, EVE, name="eve", tz="Asia/Tokyo")
        slack.add_user(OTHER, STRANGER, name="stranger")
        with running_ladder(slack, engine) as running:
            yield running
    if request.param == "sqlite":
        engine.dispose()


@pytest.fixture
def shared_ladder(module_ladder: Ladder) -> Iterator[Ladder]:
    """The module's app; what the app sent that Slack would refuse fails this very test."""
    seen = len(module_ladder.standin.violations)
    yield module_ladder
    assert module_ladder.standin.violations[seen:] == [], "the app sent what Slack would refuse"
