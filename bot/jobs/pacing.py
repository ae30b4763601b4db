"""Spacing out posts so Slack never has to say 429.

chat.postMessage allows about one message per second per channel (short bursts aside) and has
an unpublished workspace-wide ceiling. Relying on 429 + Retry-After alone would work, but each
429 costs whole seconds of a sender thread; reserving slots up front keeps every thread busy
right up to the ceiling instead.

Reservations (not token buckets) keep it fair under concurrency: each caller takes the next
free slot for its workspace and its channel, then sleeps until that slot. The workspace's
slots live in a `SlotBook`: in memory for one process, or in the database
(`DatabaseSlots`) so that every process sending to a workspace shares its one pace (three
`checkins send` processes at 20/s each once got 89 × 429 against a 20/s ceiling). Channel
slots stay in the process: a claimed message belongs to one sender, and one person's DM
rarely gets two messages in a run. The clock and the sleep are injected, so tests check the
spacing without waiting.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Protocol

from sqlalchemy import Engine

from storage.db import session_scope
from storage.pacing import reserve_slot

DEFAULT_WORKSPACE_RATE = 10.0  # messages/s per workspace: well inside Slack's ceiling
DEFAULT_CHANNEL_RATE = 1.0  # messages/s per channel: Slack's documented pace


class SlotBook(Protocol):
    def reserve(self, workspace_id: str, *, not_before: float, gap: float) -> float:
        """Take the workspace's next free slot at or after `not_before`; the next one is
        `gap` later. Returns the slot taken."""
        ...


class MemorySlots:
    """One process's workspace slots."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next: dict[str, float] = {}

    def reserve(self, workspace_id: str, *, not_before: float, gap: float) -> float:
        with self._lock:
            slot = max(not_before, self._next.get(workspace_id, not_before))
            self._next[workspace_id] = slot + gap
            return slot


class DatabaseSlots:
    """Workspace slots in the database (storage.pacing), shared by every process that sends.

    Slots are wall-clock times (processes share no monotonic clock): the Pacer using it must
    run on `time.time`, and senders on several hosts need synchronised clocks (NTP) for the
    pace to hold between them. A process takes its slots a few at a time (`block_seconds` of the
    pace in one short write transaction) and hands them to its threads; a slot whose time
    has passed unused is skipped, never spent late, so the processes' slots never overlap."""

    def __init__(self, engine: Engine, *, block_seconds: float = 0.2) -> None:
        self.engine = engine
        self.block_seconds = block_seconds
        self._lock = threading.Lock()
        # workspace -> (first slot, gap, slots in the block, index of the next one). Slots
        # are counted, not added up: at epoch magnitudes a float sum drifts by whole ulps
        # (2e-7 s), enough to hand out one slot too many that another process also holds.
        self._blocks: dict[str, tuple[float, float, int, int]] = {}

    def reserve(self, workspace_id: str, *, not_before: float, gap: float) -> float:
        with self._lock:  # one thread refills a block at a time; the others then use it
            first, block_gap, count, index = self._blocks.get(workspace_id, (0.0, gap, 0, 0))
            if block_gap == gap and index < count:
                # Skip what passed unused (a slot is never spent late).
                index = max(index, math.ceil((not_before - first) / gap - 1e-6))
            if block_gap != gap or index >= count:
                count = max(1, round(self.block_seconds / gap))
                with session_scope(self.engine) as session:
                    first = reserve_slot(
                        session=session,
                        workspace_id=workspace_id,
                        not_before=not_before,
                        gap=gap,
                        count=count,
                    )
                index = 0
            self._blocks[workspace_id] = (first, gap, count, index + 1)
            return first + index * gap


class Pacer:
    def __init__(
        self,
        *,
        per_workspace: float | None = DEFAULT_WORKSPACE_RATE,
        per_channel: float | None = DEFAULT_CHANNEL_RATE,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        slots: SlotBook | None = None,
    ) -> None:
        for name, rate in (("per_workspace", per_workspace), ("per_channel", per_channel)):
            if rate is not None and rate <= 0:
                raise ValueError(f"{name} must be positive or None (no limit), not {rate}")
        self.per_workspace = per_workspace
        self._workspace_gap = 1.0 / per_workspace if per_workspace else 0.0
        self._channel_gap = 1.0 / per_channel if per_channel else 0.0
        self._clock = clock
        self._sleep = sleep
        self._slots = slots or MemorySlots()
        self._lock = threading.Lock()
        self._next: dict[tuple[str, str], float] = {}  # (workspace, channel) -> earliest slot
        self._reservations = 0

    @classmethod
    def shared(
        cls,
        engine: Engine,
        *,
        per_workspace: float | None = DEFAULT_WORKSPACE_RATE,
        per_channel: float | None = DEFAULT_CHANNEL_RATE,
    ) -> Pacer:
        """A pacer whose workspace pace is shared through the database with every other
        process sending to the same workspaces."""
        return cls(
            per_workspace=per_workspace,
            per_channel=per_channel,
            clock=time.time,
            slots=DatabaseSlots(engine),
        )

    def wait(self, workspace_id: str, channel: str) -> float:
        """Block until this workspace and channel may post again; returns seconds waited."""
        channel_key = (workspace_id, channel)
        with self._lock:
            now = self._clock()
            slot = max(now, self._next.get(channel_key, now))
            if self._channel_gap:  # held now, moved to the real slot below
                self._next[channel_key] = slot + self._channel_gap
            self._reservations += 1
            if self._reservations % 1024 == 0:  # forget channels whose slot has passed
                self._next = {k: t for k, t in self._next.items() if t > now}
        if self._workspace_gap:
            slot = self._slots.reserve(workspace_id, not_before=slot, gap=self._workspace_gap)
            if self._channel_gap:
                with self._lock:
                    self._next[channel_key] = max(
                        self._next.get(channel_key, 0.0), slot + self._channel_gap
                    )
        delay = slot - self._clock()
        if delay > 0:
            self._sleep(delay)
        return max(delay, 0.0)
