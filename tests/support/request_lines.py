"""The app's request log lines (`event=request`, logger `ladder.requests`), as a test sees them."""

from __future__ import annotations

import logging
import threading


class RequestLines(logging.Handler):
    """Collects `event=request` records; `wait(n)` blocks until n have arrived."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._cond = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "ladder_event", None) == "request":
            with self._cond:
                self.records.append(record)
                self._cond.notify_all()

    def wait(self, count: int, timeout: float = 10.0) -> list[logging.LogRecord]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.records) >= count, timeout), (
                f"{len(self.records)} request lines, wanted {count}"
            )
            return list(self.records)
