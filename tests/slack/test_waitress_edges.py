"""The edges of waitress as bot/server.py runs it (`make_waitress`, in this process): a form's
database budget counts from when waitress had read the request, queue time included; and
the requests waitress refuses itself (the app never sees them) are logged like the app's."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, event

from bot.app import build_app
from bot.blocks.dialogs import ALIGN_PARENT_ACTION
from bot.server import ANSWER_BUDGET_S, BODY_LIMIT, make_waitress, make_wsgi_app
from storage.db import time_left
from tests.slack.conftest import ACME, CEO, SECRET, single_workspace_settings
from tests.slack.conftest import TestClock as Clock
from tests.support.executor import TrackedExecutor
from tests.support.request_lines import RequestLines
from tests.support.slack_sender import SlackSender
from tests.support.slack_standin import SlackStandIn

HOLD_S = 0.5  # how long the one request thread stays busy after the next request is queued


@contextmanager
def _waitress(wsgi: Callable[..., Iterable[bytes]], *, threads: int) -> Iterator[Any]:
    listener = socket.create_server(("127.0.0.1", 0))
    server = make_waitress(wsgi, listener, threads=threads)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.task_dispatcher.shutdown(timeout=5)
        server.close()
        thread.join(timeout=5)


def test_a_forms_budget_counts_the_time_it_waited_for_a_thread(
    standin: SlackStandIn, engine: Engine
) -> None:
    """One request thread, held by another request: the options request (its database work
    runs before its answer, under the budget) is read and queued; when it runs, HOLD_S
    later, less than ANSWER_BUDGET_S - HOLD_S is left of its budget."""
    lazy = TrackedExecutor()
    clock = Clock(datetime(2026, 2, 16, 9, 0, tzinfo=UTC))
    app = build_app(single_workspace_settings(standin), engine, clock=clock, listener_executor=lazy)
    ladder = make_wsgi_app(app, engine, signing_secret=SECRET)
    entered, release = threading.Event(), threading.Event()

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/hold":  # occupies the only request thread
            entered.set()
            assert release.wait(10)
            start_response("200 OK", [("Content-Length", "0")])
            return [b""]
        return ladder(environ, start_response)

    left: list[float | None] = []

    def first_statement(*_args: Any) -> None:
        if not left and threading.current_thread().name.startswith("waitress"):
            left.append(time_left())

    event.listen(engine, "before_cursor_execute", first_statement)
    try:
        with _waitress(wsgi, threads=1) as server:
            url = f"http://127.0.0.1:{server.effective_port}"
            holder = threading.Thread(target=_get, args=(f"{url}/hold",))
            holder.start()
            assert entered.wait(10)
            with SlackSender(f"{url}/slack/events", SECRET, standin, team_id=ACME) as acme:
                answers: list[int] = []
                asking = threading.Thread(target=lambda: answers.append(_suggest(acme).status_code))
                asking.start()
                queued = _wait_until(lambda: len(server.task_dispatcher.queue) == 1)
                release.wait(HOLD_S)  # the time it waits in the queue
                release.set()
                asking.join(10)
                holder.join(10)
            assert answers == [200]
    finally:
        event.remove(engine, "before_cursor_execute", first_statement)
        lazy.shutdown(wait=True)
    [seconds] = left
    assert seconds is not None
    # read before `queued`, run after HOLD_S more: at most the budget less HOLD_S is left
    # (counted from when the thread took it, it would be almost the whole budget)
    assert seconds < ANSWER_BUDGET_S - HOLD_S, (seconds, queued)


def test_bodies_waitress_refuses_itself_are_logged_as_refusals() -> None:
    """A declared body over BODY_LIMIT is answered 413 by waitress, unread, without the app:
    one `event=refused` line says so, as the app's own refusals do."""
    seen: list[str] = []

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        seen.append(environ["PATH_INFO"])
        start_response("200 OK", [("Content-Length", "0")])
        return [b""]

    lines = RequestLines("refused")
    logger = logging.getLogger("ladder.server")
    logger.addHandler(lines)
    try:
        with _waitress(wsgi, threads=1) as server:
            with socket.create_connection(("127.0.0.1", server.effective_port), 3) as sock:
                sock.sendall(
                    b"POST /slack/events HTTP/1.1\r\nHost: x\r\n"
                    + f"Content-Length: {BODY_LIMIT + 1}\r\n\r\n".encode()
                )
                assert sock.recv(64).startswith(b"HTTP/1.1 413")
            [record] = lines.wait(1)
    finally:
        logger.removeHandler(lines)
    assert seen == []  # the app never saw it
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    for part in ("event=refused", "status=413", "reason=body_too_large", "by=waitress"):
        assert part in message, message
    assert f"length={BODY_LIMIT + 1}" in message


def _get(url: str) -> None:
    import httpx

    assert httpx.get(url, timeout=10).status_code == 200


def _suggest(acme: SlackSender) -> Any:
    view = {
        "id": "V0ALIGN",
        "type": "modal",
        "callback_id": "align_modal",
        "private_metadata": "{}",
        "blocks": [
            {
                "type": "input",
                "block_id": "parent",
                "label": {"type": "plain_text", "text": "Parent"},
                "element": {"type": "external_select", "action_id": ALIGN_PARENT_ACTION},
            }
        ],
    }
    return acme.block_suggestion(
        user_id=CEO, action_id=ALIGN_PARENT_ACTION, block_id="parent", value="x", view=view
    )


def _wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> float:
    """Until `condition` holds (checked every ms); the time.monotonic() it did."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("timed out")
        threading.Event().wait(0.001)
    return time.monotonic()
