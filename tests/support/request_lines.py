"""The app's log lines of one event, as a test sees them: `event=request` (logger
`ladder.requests`, one per answered request) or `event=work` (logger `ladder.listeners`, one
per piece of work after an ack)."""

from __future__ import annotations

import logging
import threading


class RequestLines(logging.Handler):
    """Collects `event=<event>` records; `wait(n)` blocks until n have arrived."""

    def __init__(self, event: str = "request") -> None:
        super().__init__(logging.DEBUG)
        self.event = event
        self.records: list[logging.LogRecord] = []
        self._cond = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "ladder_event", None) == self.event:
            with self._cond:
                self.records.append(record)
                self._cond.notify_all()

    def wait(self, count: int, timeout: float = 10.0) -> list[logging.LogRecord]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.records) >= count, timeout), (
                f"{len(self.records)} request lines, wanted {count}"
            )
            return list(self.records)
