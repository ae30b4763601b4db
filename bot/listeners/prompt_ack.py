"""Slack gets its answer the moment a listener acks, not at the next 10 ms tick.

Bolt's HTTP runner, by default (process_before_response=False), runs a listener in its
thread pool while the request thread checks for the ack every 10 ms
(slack_bolt/listener/thread_runner.py): every answer waits for the next tick, which is most
of what a bare Bolt app's ack costs. Ladder runs Bolt with process_before_response=True, so
Bolt runs the listener in the request thread and answers when it returns, and wraps every
listener with `answer_at_ack`: the request thread hands the listener to a pool and returns
as soon as the listener's ack() has run. What the listener does after its ack (views.open,
a DM, handing a render to the work pool) goes on in that pool, as it did in Bolt's.

The listener's own work after its ack waits until the ack is on the wire (`send_acks_first`
in the WSGI app): the request thread needs the interpreter lock a few more times to send
it, and would otherwise wait for it behind that work, a millisecond at a time.

A failure keeps Bolt's meaning. Raised before the ack, it is raised again in the request
thread, so Bolt's error handler logs it and answers Slack 500. Raised after the ack (Slack
has its 200), the pool logs it and marks the request's log line as an error (work.py).
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from slack_bolt import BoltResponse

from bot.listeners.work import WorkPool

# Slack's limit for an ack; Bolt's runner waits as long before giving up on one.
ACK_TIMEOUT_S = 3.0

# How long work after an ack waits for the ack to be sent; sending takes well under 1 ms.
SEND_WAIT_S = 0.5

Listener = TypeVar("Listener", bound=Callable[..., Any])
WSGIApp = Callable[..., Iterable[bytes]]

_this_request = threading.local()  # the request thread's "ack sent" event, while it runs


def send_acks_first(wsgi: WSGIApp) -> WSGIApp:
    """Wrap the Slack WSGI app: listeners answered at their ack (below) hold their work
    after the ack until the server has written the answer (PEP 3333: it calls close())."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        sent = _this_request.sent = threading.Event()
        try:
            return _SetOnClose(wsgi(environ, start_response), sent)
        except BaseException:
            sent.set()
            raise
        finally:
            _this_request.sent = None

    return app


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
            self.sent.set()


def answer_at_ack(pool: WorkPool, listener: Listener) -> Listener:
    """`listener`, run on `pool`; Bolt (process_before_response=True) answers Slack once it
    has acked. The listener must take `ack` and `context`, and ack on every path."""
    parameters = inspect.signature(listener).parameters
    missing = sorted({"ack", "context"} - parameters.keys())
    if missing:
        raise TypeError(f"listener {listener.__name__} must take {', '.join(missing)}")

    @functools.wraps(listener)  # Bolt reads the listener's parameter names through it
    def run(**kwargs: Any) -> BoltResponse | None:
        ack = kwargs["ack"]
        answered = threading.Event()  # set by the ack, or when the listener ends without one
        failed_before_ack: list[Exception] = []
        sent: threading.Event | None = getattr(_this_request, "sent", None)

        def signalling_ack(*args: Any, **ack_kwargs: Any) -> Any:
            try:
                return ack(*args, **ack_kwargs)
            finally:
                answered.set()
                if sent is not None:  # None outside the WSGI app (Socket Mode, tests)
                    sent.wait(SEND_WAIT_S)

        def work() -> None:
            try:
                listener(**{**kwargs, "ack": signalling_ack})
            except Exception as error:
                if ack.response is not None:
                    raise  # after the ack: the pool logs it
                failed_before_ack.append(error)
            finally:
                answered.set()

        pool.submit(work, context=kwargs["context"], what=f"listener {listener.__name__}")
        answered.wait(ACK_TIMEOUT_S)
        if failed_before_ack:
            raise failed_before_ack[0]
        if ack.response is None:
            # Ended (a Slack failure it logged itself) or still going after 3 s, without an
            # ack: an error for Slack, not Bolt's default empty 200, which would close a modal
            # as if it had been saved.
            return BoltResponse(status=500, body="")
        return None

    return run  # type: ignore[return-value]
