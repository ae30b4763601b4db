"""Spacing out posts so Slack never has to say 429.

chat.postMessage allows about one message per second per channel (short bursts aside) and has
an unpublished workspace-wide ceiling. Relying on 429 + Retry-After alone would work, but each
429 costs whole seconds of a sender thread; reserving slots up front keeps every thread busy
right up to the ceiling instead.

Reservations (not token buckets) keep it fair under concurrency: each caller takes the next
free slot for its workspace and its channel under a lock, then sleeps outside the lock until
that slot. The clock and the sleep are injected, so tests check the spacing without waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

DEFAULT_WORKSPACE_RATE = 10.0  # messages/s per workspace: well inside Slack's ceiling
DEFAULT_CHANNEL_RATE = 1.0  # messages/s per channel: Slack's documented pace


class Pacer:
    def __init__(
        self,
        *,
        per_workspace: float | None = DEFAULT_WORKSPACE_RATE,
        per_channel: float | None = DEFAULT_CHANNEL_RATE,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        for name, rate in (("per_workspace", per_workspace), ("per_channel", per_channel)):
            if rate is not None and rate <= 0:
                raise ValueError(f"{name} must be positive or None (no limit), not {rate}")
        self._workspace_gap = 1.0 / per_workspace if per_workspace else 0.0
        self._channel_gap = 1.0 / per_channel if per_channel else 0.0
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next: dict[tuple[str, ...], float] = {}  # key -> earliest free slot
        self._reservations = 0

    def wait(self, workspace_id: str, channel: str) -> float:
        """Block until this workspace and channel may post again; returns seconds waited."""
        channel_key = (workspace_id, channel)
        with self._lock:
            now = self._clock()
            slot = max(now, self._next.get((workspace_id,), now), self._next.get(channel_key, now))
            if self._workspace_gap:
                self._next[(workspace_id,)] = slot + self._workspace_gap
            if self._channel_gap:
                self._next[channel_key] = slot + self._channel_gap
            self._reservations += 1
            if self._reservations % 1024 == 0:  # forget channels whose slot has passed
                self._next = {k: t for k, t in self._next.items() if t > now}
        delay = slot - now
        if delay > 0:
            self._sleep(delay)
        return delay
