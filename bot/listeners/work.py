"""Where a listener's slow part runs once Slack has its ack.

Bolt runs every listener, `ack()` included, in one thread pool and answers Slack 404 if an
ack has not come within 3 seconds. A listener that acks and then renders a tree of thousands
of objectives holds its Bolt thread for the whole render, so a burst of `/okr status all`
filled that pool and the next command's ack waited behind it. Listeners therefore ack, do
what must happen in the request (open a modal while its trigger_id is fresh, validate a
form), and hand the rest to this pool: a few threads of its own, so Bolt's threads stay free
for acks however much work is queued. Tree renders are CPU-bound; more threads than this
would only share the interpreter lock with the acks, not finish sooner.

The request's log line (middleware.py) is written when the handed-off work ends, so its
`duration_ms` still covers the whole handling.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bot.listeners.middleware import SLACK_FAILURES, hold_request_log, note_failure, slack_failure
from bot.logs import log_event

log = logging.getLogger("ladder.work")


class WorkPool:
    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="ladder-work")
        self._idle = threading.Condition()
        self._pending = 0

    def submit(self, work: Callable[[], None], *, context: Any, what: str) -> None:
        """Run `work` on the pool; a Slack failure is a warning, anything else an error
        logged with its traceback. Neither reaches Slack: the request was acked already."""
        release = hold_request_log(context)
        with self._idle:
            self._pending += 1

        def run() -> None:
            try:
                work()
            except SLACK_FAILURES as error:
                note_failure(context, slack_failure(error))
                log_event(
                    log,
                    "slack_call_failed",
                    level=logging.WARNING,
                    work=what,
                    workspace=_get(context, "team_id"),
                    user=_get(context, "user_id"),
                    error=slack_failure(error),
                )
            except Exception as error:
                note_failure(context, type(error).__name__)
                log.exception(
                    "work failed: %s workspace=%s user=%s",
                    what,
                    _get(context, "team_id"),
                    _get(context, "user_id"),
                )
            finally:
                release()
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

        self._executor.submit(run)

    @property
    def pending(self) -> int:
        """Handed-off work not finished yet (queued or running)."""
        with self._idle:
            return self._pending

    def wait_idle(self, timeout: float) -> bool:
        """True once nothing handed off is queued or running (tests, graceful shutdown)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True)


def _get(context: Any, key: str) -> Any:
    return context.get(key) if context is not None else None
