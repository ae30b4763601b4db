"""Slack gets its answer at the listener's ack; what the listener does next waits for it.

Ladder runs Bolt with process_before_response=True and every listener through
`ack_at_once` (acked by the request thread, then run on the listener pool) or
`answer_at_ack` (run on the pool, the request thread returning once it acked)
(bot/listeners/prompt_ack.py). Failures keep Bolt's meaning: before the ack Slack gets
500, after it the pool logs the crash and the request's line says error.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from slack_bolt import Ack, BoltResponse

from bot.listeners import prompt_ack
from bot.listeners.prompt_ack import ACK_TIMEOUT_S, ack_at_once, answer_at_ack, send_acks_first
from bot.listeners.work import WorkPool
from bot.services.okrs import OKRService
from storage.models import Objective
from tests.slack.conftest import CEO, Ladder
from tests.slack.flows import fill, open_new_objective
from tests.support.request_lines import RequestLines


@pytest.fixture
def pool() -> Iterator[WorkPool]:
    pool = WorkPool(2, name="test-listener")
    yield pool
    pool.shutdown()


def test_slack_has_the_ack_while_the_listener_is_still_working(
    ladder: Ladder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `/okr new` acks, then builds its form and opens the modal: the form is held here.
    entered, release = threading.Event(), threading.Event()
    form = OKRService.new_objective_form

    def held(self: OKRService, **kwargs: Any) -> Any:
        entered.set()
        assert release.wait(30), "never released"
        return form(self, **kwargs)

    monkeypatch.setattr(OKRService, "new_objective_form", held)
    try:
        response = ladder.acme.slash_command("new Grow revenue", user_id=CEO)
        assert response.status_code == 200 and response.text == ""
        assert entered.wait(10)  # the listener is past its ack, Slack has its answer
        assert ladder.standin.calls("views.open") == []
    finally:
        release.set()
    [opened] = ladder.standin.wait_for("views.open")
    assert opened.args["trigger_id"] == ladder.acme.last_trigger_id


def test_a_crash_before_the_ack_answers_500_and_stores_nothing(
    ladder: Ladder,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    request_lines: RequestLines,
) -> None:
    view = open_new_objective(ladder, "Grow revenue")

    def broken(self: OKRService, **kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")

    # An objective is saved before its form's ack (errors are shown in the form).
    monkeypatch.setattr(OKRService, "save_objective", broken)
    caplog.set_level(logging.INFO)
    request_lines.wait(1)  # `/okr new`'s line
    answer = ladder.acme.view_submission(view, user_id=CEO, values=fill(view, title="Grow"))
    assert answer.status_code == 500  # Slack keeps the form open and says it failed
    line = request_lines.wait(2)[1]
    assert line.ladder_fields["status"] == "error"  # type: ignore[attr-defined]
    assert line.ladder_fields["error"] == "RuntimeError"  # type: ignore[attr-defined]
    assert [r for r in caplog.records if r.name == "ladder.bolt" and r.exc_info]
    assert ladder.standin.view(view["id"]) is not None  # the form is still open
    with ladder.engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(Objective)).scalar() == 0


class FakeAck:
    """Bolt's Ack as the wrapper sees it: calling it sets `response`."""

    def __init__(self) -> None:
        self.response: BoltResponse | None = None

    def __call__(self, **kwargs: Any) -> BoltResponse:
        if kwargs.get("response_action") == "bogus":
            raise ValueError("bogus response_action")
        self.response = BoltResponse(status=200, body="")
        return self.response


class FakeContext(dict):
    """Bolt's context as ack_at_once sees it: it carries the request's Ack."""

    def __init__(self) -> None:
        super().__init__(team_id="T0ACME", user_id=CEO)
        self.ack = FakeAck()


def test_work_after_the_ack_waits_until_the_answer_is_written(pool: WorkPool) -> None:
    order: list[str] = []
    finished = threading.Event()

    def listener(ack: Ack, context: dict) -> None:
        ack()
        order.append("after ack")
        finished.set()

    run = answer_at_ack(pool, listener)
    ack = FakeAck()

    class Body(list[bytes]):
        def close(self) -> None:
            order.append("written")

    def bolt(environ: dict, start_response: Any) -> Body:
        # Bolt, with process_before_response=True, calls the listener in this thread.
        assert run(ack=ack, context={}) is None
        order.append("answered")
        return Body([b""])

    body = send_acks_first(bolt)({}, lambda *a: None)
    assert ack.response is not None
    list(body)
    body.close()  # what a WSGI server does once the answer is on the wire
    assert finished.wait(10)
    assert order == ["answered", "written", "after ack"]


def test_a_listener_acked_at_once_runs_after_the_answer_is_written(pool: WorkPool) -> None:
    order: list[str] = []
    finished = threading.Event()

    def listener(context: dict) -> None:
        order.append("listener")
        finished.set()

    run = ack_at_once(pool, listener)
    context = FakeContext()

    class Body(list[bytes]):
        def close(self) -> None:
            order.append("written")

    def bolt(environ: dict, start_response: Any) -> Body:
        run(context=context)
        assert context.ack.response is not None  # acked before the listener ran
        order.append("answered")
        return Body([b""])

    body = send_acks_first(bolt)({}, lambda *a: None)
    body.close()
    assert finished.wait(10)
    assert order == ["answered", "written", "listener"]


def test_work_after_an_ack_waits_for_other_requests_answers(
    pool: WorkPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A burst: request A is still being answered when B's listener could start. B's work
    # waits until A's answer is written too (here at most 10 s instead of 100 ms).
    order: list[str] = []
    at_the_gate, finished = threading.Event(), threading.Event()
    wait_until_none = prompt_ack._answering.wait_until_none

    def spied(timeout: float) -> None:
        at_the_gate.set()
        wait_until_none(10.0)

    monkeypatch.setattr(prompt_ack._answering, "wait_until_none", spied)

    def listener(context: dict) -> None:
        order.append("B worked on")
        finished.set()

    run = ack_at_once(pool, listener)

    class Body(list[bytes]):
        def __init__(self, name: str) -> None:
            super().__init__([b""])
            self.name = name

        def close(self) -> None:
            order.append(f"{self.name} written")

    def a(environ: dict, start_response: Any) -> Body:
        return Body("A")

    def b(environ: dict, start_response: Any) -> Body:
        run(context=FakeContext())
        return Body("B")

    body_a = send_acks_first(a)({}, lambda *args: None)
    body_b = send_acks_first(b)({}, lambda *args: None)
    body_b.close()
    assert at_the_gate.wait(10)  # B's answer is written; its work waits for A's
    assert order == ["B written"]
    body_a.close()
    assert finished.wait(10)
    assert order == ["B written", "A written", "B worked on"]


def test_an_ack_that_raises_is_a_failure_before_the_ack(pool: WorkPool) -> None:
    def listener(ack: Ack, context: dict) -> None:
        ack(response_action="bogus")

    with pytest.raises(ValueError, match="bogus"):
        answer_at_ack(pool, listener)(ack=FakeAck(), context=FakeContext())


def test_a_listener_that_cannot_start_within_slacks_3_s_does_not_run(
    pool: WorkPool, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Both pool threads are busy: the listener waits in the queue past the ack deadline.
    monkeypatch.setattr(prompt_ack, "ACK_TIMEOUT_S", 0.05)
    busy, ran = threading.Event(), threading.Event()
    for _ in range(pool.threads):
        pool.submit(lambda: busy.wait(30) and None, context=None, what="busy")

    def listener(ack: Ack, context: dict) -> None:
        ran.set()  # e.g. saving a form Slack was already told had failed
        ack()

    caplog.set_level(logging.WARNING, logger="ladder.listeners")
    answer = answer_at_ack(pool, listener)(ack=FakeAck(), context=FakeContext())
    assert isinstance(answer, BoltResponse) and answer.status == 500
    busy.set()
    assert pool.wait_idle(10)
    assert not ran.is_set()
    problems = [r.getMessage() for r in caplog.records if r.name == "ladder.listeners"]
    assert any("no ack in time" in m for m in problems), problems
    assert any("not run" in m for m in problems), problems


def test_the_time_to_ack_counts_from_the_requests_arrival(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Time in the server's queue or a slow authorization counts against Slack's 3 s.
    readings = iter([100.0, 101.0, 102.6])
    monkeypatch.setattr(prompt_ack, "time", SimpleNamespace(monotonic=lambda: next(readings)))
    left: list[float] = []

    def bolt(environ: dict, start_response: Any) -> list[bytes]:
        left.append(prompt_ack._time_left())  # 1 s after arrival
        left.append(prompt_ack._time_left())  # 2.6 s after arrival
        return [b""]

    send_acks_first(bolt)({}, lambda *a: None).close()  # type: ignore[attr-defined]
    assert left == [pytest.approx(ACK_TIMEOUT_S - 1.0), 0.0]


def test_a_listener_that_ends_without_an_ack_gets_slack_an_error(
    pool: WorkPool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="ladder.listeners")

    # E.g. a Slack call failing before the ack, logged by the listener itself: an empty 200
    # would close a modal as if it had been saved.
    def listener(ack: Ack, context: dict) -> None:
        return None

    answer = answer_at_ack(pool, listener)(ack=FakeAck(), context=FakeContext())
    assert isinstance(answer, BoltResponse) and answer.status == 500
    problems = [r.getMessage() for r in caplog.records if r.name == "ladder.listeners"]
    assert any("ended without an ack" in m for m in problems), problems


def test_a_listener_must_take_what_its_wrapper_needs(pool: WorkPool) -> None:
    def listener(body: dict) -> None:
        return None

    def acks_itself(ack: Ack, context: dict) -> None:
        return None

    with pytest.raises(TypeError, match="ack, context"):
        answer_at_ack(pool, listener)
    with pytest.raises(TypeError, match="context"):
        ack_at_once(pool, listener)
    with pytest.raises(TypeError, match="must not take ack"):
        ack_at_once(pool, acks_itself)
