"""Work after the ack: Bolt lazy listeners on the app's listener_executor.

Slack gives up on an ack after 3 seconds. Here `/okr status` is held inside its render (the
service call blocks on an event) while more commands arrive than the executor has threads:
each must still be acked at once, and each gets its answer once the work is let go. Work
that fails after the ack is told to the person who asked, and logged, never lost.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from bot.app import LAZY_THREADS
from bot.listeners import CRASHED, SLACK_FAILED, STORAGE_FAILED
from bot.services.objectives import ObjectiveService
from bot.services.trees import TreeService
from storage.db import make_engine
from tests.slack.conftest import (
    CEO,
    DEV,
    Ladder,
    serve_ladder,
    single_workspace_settings,
)
from tests.slack.conftest import (
    TestClock as Clock,
)
from tests.support.request_lines import RequestLines
from tests.support.slack_standin import SlackStandIn


class Gate:
    """Holds every `TreeService.status` call until opened; counts how many ran at once."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.running = self.peak = self.entered = 0
        self._cond = threading.Condition()

    def hold(self, call: Any) -> Any:
        with self._cond:
            self.entered += 1
            self.running += 1
            self.peak = max(self.peak, self.running)
            self._cond.notify_all()
        try:
            assert self.opened.wait(30), "the gate was never opened"
            return call()
        finally:
            with self._cond:
                self.running -= 1

    def wait_entered(self, count: int, timeout: float = 10.0) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: self.entered >= count, timeout), (
                f"{self.entered} of {count} status calls started"
            )


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    gate = Gate()
    status = TreeService.status

    def held(self: TreeService, **kwargs: Any) -> Any:
        return gate.hold(lambda: status(self, **kwargs))

    monkeypatch.setattr(TreeService, "status", held)
    yield gate
    gate.opened.set()  # a failed test must not leave work threads waiting


def test_acks_do_not_wait_for_work_that_is_still_running(ladder: Ladder, gate: Gate) -> None:
    # More commands than the executor has threads: had the work run in the request, an ack
    # would wait until a render ended.
    commands = LAZY_THREADS + 4
    for _ in range(commands):
        response = ladder.acme.slash_command("status all", user_id=CEO)
        assert response.status_code == 200 and response.text == "", response.text
    gate.wait_entered(LAZY_THREADS)
    assert ladder.standin.calls("response_url") == []  # all of them still held
    gate.opened.set()
    ladder.standin.wait_for("response_url", count=commands, timeout=30)
    posts = ladder.standin.responses
    assert len({p.url for p in posts}) == len(posts) == commands  # each answered, once
    assert all(p.response_type == "in_channel" and p.text for p in posts)
    assert gate.entered == commands
    assert gate.peak <= LAZY_THREADS  # slow work shares a bounded pool, acks do not


def _work_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "ladder_event", None) == "work"]


def test_the_request_line_comes_at_the_answer_and_a_work_line_when_the_work_ends(
    ladder: Ladder, gate: Gate, request_lines: RequestLines, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ladder.listeners")
    response = ladder.acme.slash_command("status all", user_id=CEO)
    assert response.status_code == 200
    [line] = request_lines.wait(1)  # written while the render is still held
    assert line.ladder_fields["sub"] == "status"  # type: ignore[attr-defined]
    assert line.ladder_fields["status"] == "ok"  # type: ignore[attr-defined]
    gate.wait_entered(1)
    assert _work_lines(caplog) == []
    gate.opened.set()
    ladder.wait_idle()
    [work] = _work_lines(caplog)
    assert work.ladder_fields["sub"] == "status"  # type: ignore[attr-defined]
    assert work.ladder_fields["status"] == "ok"  # type: ignore[attr-defined]
    assert work.ladder_fields["workspace"] == "T0ACME"  # type: ignore[attr-defined]


def test_a_crash_building_a_form_is_told_in_its_modal_and_logged(
    ladder: Ladder, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """`/okr new` opens "Loading…" at the ack; the form's build crashes after it: the modal
    says so (once: no ephemeral too), and the work line and the traceback are logged."""

    def broken(self: ObjectiveService, **kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(ObjectiveService, "new_objective_form", broken)
    caplog.set_level(logging.INFO)
    assert ladder.acme.slash_command("new Grow revenue", user_id=CEO).status_code == 200
    [opened] = ladder.standin.wait_for("views.open")
    [updated] = ladder.standin.wait_for("views.update")
    ladder.wait_idle()
    assert updated.args["view_id"] == opened.response["view"]["id"]
    texts = [b["text"]["text"] for b in updated.args["view"]["blocks"]]
    assert texts == [f"⚠️ {CRASHED}"]
    assert ladder.standin.responses == []
    [work] = _work_lines(caplog)
    assert work.ladder_fields["status"] == "error"  # type: ignore[attr-defined]
    assert work.ladder_fields["error"] == "RuntimeError"  # type: ignore[attr-defined]
    [crash] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert crash.exc_info is not None and "disk on fire" in str(crash.exc_info[1])


@pytest.mark.parametrize(
    ("service", "broken_call", "command"), [(TreeService, "status", "status all")]
)
def test_a_crash_after_the_ack_is_told_to_the_person_and_logged(
    ladder: Ladder,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    service: type,
    broken_call: str,
    command: str,
) -> None:
    def broken(self: object, **kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(service, broken_call, broken)
    caplog.set_level(logging.INFO)
    response = ladder.acme.slash_command(command, user_id=CEO)
    assert response.status_code == 200  # acked before the work failed
    [posted] = ladder.standin.wait_for("response_url")
    assert posted.ok
    [told] = ladder.standin.responses
    assert told.response_type == "ephemeral" and told.text == CRASHED.format(reason="RuntimeError")
    ladder.wait_idle()
    [work] = _work_lines(caplog)
    assert work.ladder_fields["status"] == "error"  # type: ignore[attr-defined]
    assert work.ladder_fields["error"] == "RuntimeError"  # type: ignore[attr-defined]
    [crash] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert crash.exc_info is not None and "disk on fire" in str(crash.exc_info[1])


def test_an_admin_setting_the_vision_hears_when_slack_cannot_say_who_they_are(
    ladder: Ladder,
) -> None:
    ladder.standin.fail_next("users.info", status=500, times=10)  # past the client's retries
    ladder.acme.slash_command("vision Make work visible", user_id=CEO)
    ladder.standin.wait_for("response_url")
    [told] = ladder.standin.responses
    assert told.response_type == "ephemeral"
    assert told.text == SLACK_FAILED.format(reason="internal_error")
    ladder.standin.clear_limits()
    ladder.acme.slash_command("vision", user_id=DEV)  # nothing was set
    ladder.standin.wait_for("response_url", count=2)
    assert "not set yet" in (ladder.standin.responses[-1].text or "")


def test_status_during_a_database_outage_says_so(
    standin: SlackStandIn, tmp_path: Path, sqlite_template: Path
) -> None:
    # A real outage: the SQLite file's folder disappears under a running app, so no
    # connection can be opened any more.
    folder = tmp_path / "db"
    folder.mkdir()
    shutil.copy(sqlite_template, folder / "ladder.db")
    engine = make_engine(f"sqlite:///{folder / 'ladder.db'}")
    clock = Clock(datetime(2026, 2, 16, 9, 0, tzinfo=UTC))
    with serve_ladder(single_workspace_settings(standin), standin, engine, clock) as ladder:
        shutil.rmtree(folder)
        engine.dispose()
        response = ladder.acme.slash_command("status all", user_id=CEO)
        assert response.status_code == 200
        standin.wait_for("response_url")
        [told] = standin.responses
        assert told.response_type == "ephemeral"
        assert told.text == STORAGE_FAILED.format(reason="Unavailable")
    engine.dispose()


def test_when_the_database_takes_no_writes_healthz_fails_and_commands_say_so(
    standin: SlackStandIn, tmp_path: Path, sqlite_template: Path
) -> None:
    # As with a full disk: reads answer, writes do not. `SELECT 1` alone would pass.
    shutil.copy(sqlite_template, tmp_path / "ladder.db")
    engine = make_engine(f"sqlite:///{tmp_path / 'ladder.db'}")
    clock = Clock(datetime(2026, 2, 16, 9, 0, tzinfo=UTC))
    with serve_ladder(single_workspace_settings(standin), standin, engine, clock) as ladder:
        health = ladder.url.removesuffix("/slack/events") + "/healthz"
        assert httpx.get(health, timeout=5).json() == {"ok": True}
        event.listen(engine, "connect", _read_only)
        engine.dispose()  # every connection from now on is read-only
        answer = httpx.get(health, timeout=5)
        assert answer.status_code == 503
        assert answer.json() == {"ok": False, "error": "OperationalError"}
        ladder.acme.slash_command("vision Make work visible", user_id=CEO)
        standin.wait_for("response_url")
        [told] = standin.responses
        assert told.response_type == "ephemeral"
        assert told.text == STORAGE_FAILED.format(reason="Unavailable")
    engine.dispose()


def _read_only(connection: Any, _record: Any) -> None:
    connection.execute("PRAGMA query_only=ON")
