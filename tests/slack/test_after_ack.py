"""Slow work runs after the ack on Ladder's work pool, never in the listeners' threads.

Slack gives up on an ack after 3 seconds. Here `/okr status` is held inside its render (the
service call blocks on an event) while more commands arrive than the listener and work pools
have threads together: each must still be acked at once, and each gets its answer once the
work is let go. Renders run one at a time; their Slack calls go out from the listener pool.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from slack_bolt import Respond

from bot.app import LISTENER_THREADS, WORK_THREADS
from bot.services.okrs import OKRService
from tests.slack.conftest import CEO, Ladder
from tests.support.request_lines import RequestLines


class Gate:
    """Holds every `OKRService.status` call until opened; counts how many ran at once."""

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
    status = OKRService.status

    def held(self: OKRService, **kwargs: Any) -> Any:
        return gate.hold(lambda: status(self, **kwargs))

    monkeypatch.setattr(OKRService, "status", held)
    yield gate
    gate.opened.set()  # a failed test must not leave work threads waiting


def test_acks_do_not_wait_for_work_that_is_still_running(ladder: Ladder, gate: Gate) -> None:
    # More commands than the listener pool's threads and the work pool's together: with the
    # work in the listener threads, the 18th ack would wait until a render ended.
    commands = LISTENER_THREADS + WORK_THREADS + 4
    for _ in range(commands):
        response = ladder.acme.slash_command("status all", user_id=CEO)
        assert response.status_code == 200 and response.text == "", response.text
    gate.wait_entered(WORK_THREADS)
    assert ladder.standin.calls("response_url") == []  # all of them still held
    gate.opened.set()
    ladder.standin.wait_for("response_url", count=commands, timeout=30)
    posts = ladder.standin.responses
    assert len({p.url for p in posts}) == len(posts) == commands  # each answered, once
    assert all(p.response_type == "in_channel" and p.text for p in posts)
    assert gate.entered == commands
    assert gate.peak <= WORK_THREADS  # slow work shares a bounded pool, acks do not


def test_the_request_line_is_written_when_the_handed_off_work_ends(
    ladder: Ladder, gate: Gate, request_lines: RequestLines
) -> None:
    response = ladder.acme.slash_command("status all", user_id=CEO)
    assert response.status_code == 200
    gate.wait_entered(1)
    assert request_lines.records == []  # the work is still going: no line yet
    gate.opened.set()
    ladder.standin.wait_for("response_url")
    [line] = request_lines.wait(1)
    assert line.ladder_fields["sub"] == "status"  # type: ignore[attr-defined]
    assert line.ladder_fields["status"] == "ok"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("broken_call", "command", "logged_as"),
    [
        ("status", "status all", "/okr status"),  # a render on the work pool
        ("new_objective_form", "new Grow revenue", "listener okr"),  # a listener, acked
    ],
)
def test_a_crash_after_the_ack_is_logged_and_marks_the_request(
    ladder: Ladder,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    request_lines: RequestLines,
    broken_call: str,
    command: str,
    logged_as: str,
) -> None:
    def broken(self: OKRService, **kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(OKRService, broken_call, broken)
    caplog.set_level(logging.INFO)
    response = ladder.acme.slash_command(command, user_id=CEO)
    assert response.status_code == 200  # acked before the work failed
    [line] = request_lines.wait(1)
    assert line.ladder_fields["status"] == "error"  # type: ignore[attr-defined]
    assert line.ladder_fields["error"] == "RuntimeError"  # type: ignore[attr-defined]
    [crash] = [r for r in caplog.records if r.name == "ladder.work"]
    assert crash.levelno == logging.ERROR and crash.exc_info is not None
    assert logged_as in crash.getMessage() and "T0ACME" in crash.getMessage()


def test_a_slow_reply_does_not_hold_up_the_next_render(
    ladder: Ladder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first reply's round trip to Slack is held; the second status must still be
    # rendered and answered (one render thread: it would wait if replies were sent from it).
    first_held, release = threading.Event(), threading.Event()
    calls = 0
    respond = Respond.__call__

    def slow_first(self: Respond, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            first_held.set()
            assert release.wait(30), "never released"
        return respond(self, *args, **kwargs)

    monkeypatch.setattr(Respond, "__call__", slow_first)
    try:
        ladder.acme.slash_command("status all", user_id=CEO)
        first_url = ladder.acme.last_response_url
        assert first_held.wait(10)
        ladder.acme.slash_command("status all", user_id=CEO)
        second_url = ladder.acme.last_response_url
        ladder.standin.wait_for("response_url")
        [answered] = ladder.standin.responses
        assert answered.url == second_url != first_url
    finally:
        release.set()
    ladder.standin.wait_for("response_url", count=2)
