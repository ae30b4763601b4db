from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from bot.okr.kinds import KRKind

CHECKED_IN = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class KR:
    """A plain key result for the pure core; storage rows have the same attributes."""

    kind: KRKind
    start_value: float | None
    target_value: float | None
    current_value: float | None
    id: int = 0
    objective_id: int = 0
    weight: float = 1.0
    confidence: int | None = None
    due_date: date | None = None
    created_at: datetime | None = None  # None: as old as its cycle
    # Checked in (so judged by pace) unless a test says it has not started.
    last_checkin_at: datetime | None = CHECKED_IN


@dataclass
class Obj:
    id: int
    parent_id: int | None = None
    cycle_id: int = 1
    weight: float = 1.0
    created_at: datetime | None = None
