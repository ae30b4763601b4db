"""Bolt's listener_executor for tests: it knows when no work after an ack is left."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, ClassVar

from bot.app import LAZY_THREADS


class TrackedExecutor(ThreadPoolExecutor):
    """A ThreadPoolExecutor that counts what was submitted and has not finished.

    Bolt submits an acked listener's lazy work before it answers Slack
    (process_before_response=True), so once a test has its HTTP answer, `wait_idle` waits
    for everything that answer set going."""

    live: ClassVar[weakref.WeakSet[TrackedExecutor]] = weakref.WeakSet()

    def __init__(self, max_workers: int = LAZY_THREADS) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix="ladder-lazy")
        self._pending = 0
        self._cond = threading.Condition()
        TrackedExecutor.live.add(self)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self._cond:
            self._pending += 1
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _future: Future[Any]) -> None:
        with self._cond:
            self._pending -= 1
            self._cond.notify_all()

    @property
    def pending(self) -> int:
        with self._cond:
            return self._pending

    def wait_idle(self, timeout: float = 10.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout)

    @classmethod
    def wait_all_idle(cls, timeout: float = 10.0) -> None:
        busy = [e.pending for e in list(cls.live) if not e.wait_idle(timeout)]
        assert not busy, f"work after acks still going after {timeout}s: {busy}"
