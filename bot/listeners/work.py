"""Thread pools for listeners and for what they do after Slack has its ack.

Four pools are built from this class (bot/app.py):
- listeners: commands, buttons and events run here once the request thread has acked them
  (prompt_ack.py): opening a modal, a short reply.
- answers: forms and options run here, the request thread answering Slack at their ack; on
  a pool of their own so that no queue of clicks waiting on Slack pushes them past 3 s.
- work, one thread: what loads whole trees or many rows (status, mine, the Home tab, cycle
  closes, exports). A listener acks, does what must happen in the request (open a modal
  while its trigger_id is fresh, validate a form) and hands the render here, so no listener
  thread is held by it and acks never queue behind renders. Renders are CPU-bound under one
  interpreter lock: more threads would finish nothing sooner and would only make each ack
  wait behind more of them for the lock.
- replies: a render's Slack call (Deps.render_then_send), so the next render does not wait
  for Slack, and slow sends (a check-in fan-out, its planning included), so they never hold
  a listener thread.

Each request's log line (middleware.py) is written when everything it handed off has ended,
so its `duration_ms` still covers the whole handling.
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
    def __init__(self, threads: int, *, name: str = "ladder-work") -> None:
        self.threads, self.name = threads, name
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name)
        self._idle = threading.Condition()
        self._pending = 0

    def submit(self, work: Callable[[], None], *, context: Any, what: str) -> None:
        """Run `work` on the pool; a Slack failure is a warning, anything else an error
        logged with its traceback. Neither reaches Slack: failures before an ack are handed
        back to the request thread by prompt_ack.answer_at_ack, not raised here."""
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

        try:
            self._executor.submit(run)
        except RuntimeError:  # shut down: nothing will run, nothing may stay held
            release()
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()
            raise

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
