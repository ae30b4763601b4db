"""Slack gets its answer the moment a listener acks, not at the next 10 ms tick.

Bolt's HTTP runner, by default (process_before_response=False), runs a listener in its
thread pool while the request thread checks for the ack every 10 ms
(slack_bolt/listener/thread_runner.py): every answer waits for the next tick, which is most
of what a bare Bolt app's ack costs. Ladder runs Bolt with process_before_response=True, so
Bolt runs the listener in the request thread and answers Slack when it returns, and
registers every listener through one of two wrappers:

- `ack_at_once`, for listeners whose ack carries nothing (commands, buttons, events): the
  request thread acks and hands the listener to a pool, Slack's answer does not wait for it.
- `answer_at_ack`, for listeners whose ack is their answer (form errors, options): the
  request thread hands the listener to a pool and returns as soon as it has acked; what it
  does after its ack (updating the prompt a check-in answered) goes on in the pool.

Either way the listener's work after the ack waits until the ack is on the wire
(`send_acks_first` in the WSGI app), and until no other request is being answered (for at
most 100 ms): a thread answering Slack needs the interpreter lock a few dozen times, and
would otherwise wait for it behind that work, a millisecond at a time. A burst of commands
is thus acked first and worked on after.

A failure keeps Bolt's meaning. Raised before the ack, it is raised again in the request
thread, so Bolt's error handler logs it and answers Slack 500. Raised after the ack (Slack
has its 200), the pool logs it and marks the request's log line as an error (work.py). A
listener that has not acked within 2.5 s of the request's arrival (Slack waits 3 s from
sending it) gets Slack a 500 and a warning in the log; if it had not even started by then,
it does not run at all (Slack has given up on it, and a form must not be saved after Slack
was told it failed).
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from slack_bolt import BoltResponse

from bot.listeners.middleware import note_failure
from bot.listeners.work import WorkPool
from bot.logs import log_event

log = logging.getLogger("ladder.listeners")

# How long after a request arrived its listener may take to ack: Slack's 3 s, less what the
# request spent on its way here.
ACK_TIMEOUT_S = 2.5
# How long work after an ack waits for the ack to be sent; sending takes well under 1 ms.
SEND_WAIT_S = 0.5
# How long work after an ack waits for other requests' answers (after_answers).
QUIET_WAIT_S = 0.1

Listener = TypeVar("Listener", bound=Callable[..., Any])
WSGIApp = Callable[..., Iterable[bytes]]

_this_request = threading.local()  # the request thread's arrival time and "answer written" event


class _Answering:
    """How many requests are being answered (entered the WSGI app, answer not yet written)."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = threading.Condition()

    def enter(self) -> None:
        with self.changed:
            self.count += 1

    def leave(self) -> None:
        with self.changed:
            self.count -= 1
            if self.count == 0:
                self.changed.notify_all()

    def wait_until_none(self, timeout: float) -> None:
        with self.changed:
            self.changed.wait_for(lambda: self.count == 0, timeout)


_answering = _Answering()


def after_answers() -> None:
    """Wait (at most QUIET_WAIT_S) until no request is being answered: work after an ack
    (a listener's, a render) starts then, so that a burst of commands is acked before any
    of them is worked on. Under steady load it starts after at most that long."""
    _answering.wait_until_none(QUIET_WAIT_S)


def send_acks_first(wsgi: WSGIApp) -> WSGIApp:
    """Wrap the Slack WSGI app: listeners hold their work after the ack until the server
    has written the answer (PEP 3333: it calls close() then, also when the write failed),
    and until no other request is being answered (`after_answers`)."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        _this_request.arrived = time.monotonic()
        sent = _this_request.sent = threading.Event()
        _answering.enter()
        try:
            return _SetOnClose(wsgi(environ, start_response), sent)
        except BaseException:
            _written(sent)
            raise
        finally:
            _this_request.sent = _this_request.arrived = None

    return app


def _written(sent: threading.Event) -> None:
    if not sent.is_set():  # once per request
        sent.set()
        _answering.leave()


class _SetOnClose:
    def __init__(self, body: Iterable[bytes], sent: threading.Event) -> None:
        self.body, self.sent = body, sent

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.body)

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            _written(self.sent)


def _wait_until_sent() -> Callable[[], None]:
    """In the request thread: what waits, from another thread, until this request's answer
    is written and no other is being answered (nothing waits outside the WSGI app: Socket
    Mode, tests calling Bolt)."""
    sent: threading.Event | None = getattr(_this_request, "sent", None)

    def wait() -> None:
        if sent is not None:
            sent.wait(SEND_WAIT_S)
            after_answers()

    return wait


def _time_left() -> float:
    """In the request thread: how long its listener may still take to ack."""
    arrived: float | None = getattr(_this_request, "arrived", None)
    if arrived is None:  # outside the WSGI app: counted from here
        return ACK_TIMEOUT_S
    return max(0.0, arrived + ACK_TIMEOUT_S - time.monotonic())


def _require(listener: Callable[..., Any], names: set[str]) -> None:
    missing = sorted(names - inspect.signature(listener).parameters.keys())
    if missing:
        raise TypeError(f"listener {listener.__name__} must take {', '.join(missing)}")


def ack_at_once(pool: WorkPool, listener: Listener) -> Listener:
    """`listener` on `pool`, acked (an empty 200) by the request thread before it runs. For
    listeners whose ack carries nothing; the listener takes `context`, not `ack`."""
    _require(listener, {"context"})
    if "ack" in inspect.signature(listener).parameters:
        raise TypeError(f"listener {listener.__name__} is acked for: it must not take ack")

    @functools.wraps(listener)  # Bolt reads the listener's parameter names through it
    def run(**kwargs: Any) -> None:
        context = kwargs["context"]
        context.ack()  # Bolt's Ack for this request, the one it answers Slack with
        wait_until_sent = _wait_until_sent()

        def work() -> None:
            wait_until_sent()
            listener(**kwargs)

        pool.submit(work, context=context, what=f"listener {listener.__name__}")

    return run  # type: ignore[return-value]


class _Run:
    """One answer_at_ack run, shared by the request thread and the pool's."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.answered = threading.Event()  # acked, failed before its ack, or ended without
        self.error: Exception | None = None  # raised before the ack: for the request thread
        self.gave_up = False  # the request thread stopped waiting: Slack has its answer


def answer_at_ack(pool: WorkPool, listener: Listener) -> Listener:
    """`listener` on `pool`; Bolt (process_before_response=True) answers Slack once it has
    acked. The listener takes `ack` and `context`, and acks on every path."""
    _require(listener, {"ack", "context"})
    name = listener.__name__

    @functools.wraps(listener)  # Bolt reads the listener's parameter names through it
    def run(**kwargs: Any) -> BoltResponse | None:
        ack, context = kwargs["ack"], kwargs["context"]
        state = _Run()
        wait_until_sent = _wait_until_sent()

        def signalling_ack(*args: Any, **ack_kwargs: Any) -> Any:
            answer = ack(*args, **ack_kwargs)  # raising (bad arguments) is a failure
            state.answered.set()
            wait_until_sent()
            return answer

        def work() -> None:
            with state.lock:
                if state.gave_up:
                    _log_unanswered(name, context, "started after its time to ack: not run")
                    return
            try:
                listener(**{**kwargs, "ack": signalling_ack})
            except Exception as error:
                with state.lock:
                    if ack.response is None and not state.gave_up:
                        state.error = error  # raised in the request thread, for Bolt
                        return
                raise  # after the ack, or after Slack's 3 s: the pool logs it
            finally:
                state.answered.set()

        time_left = _time_left()
        pool.submit(work, context=context, what=f"listener {name}")
        state.answered.wait(time_left)
        with state.lock:
            error, state.error = state.error, None  # no cycle through this frame
            if error is not None:
                raise error
            if ack.response is not None:
                return None
            state.gave_up = True
            ended = state.answered.is_set()
        if ended:  # a failure it handled itself is already noted on the request's line
            _log_unanswered(name, context, "ended without an ack", note=False)
        else:
            _log_unanswered(name, context, "no ack in time")
        # Ended without an ack (e.g. a Slack failure it logged itself) or still going: an
        # error for Slack, not Bolt's default empty 200, which would close a form as if saved.
        return BoltResponse(status=500, body="")

    return run  # type: ignore[return-value]


def _log_unanswered(listener: str, context: Any, what: str, *, note: bool = True) -> None:
    if note:
        note_failure(context, "no_ack")
    log_event(
        log,
        "listener_unanswered",
        level=logging.WARNING,
        listener=listener,
        workspace=context.get("team_id"),
        user=context.get("user_id"),
        problem=what,
    )
