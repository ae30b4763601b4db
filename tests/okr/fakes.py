from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot.okr.kinds import KRKind


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


@dataclass
class Obj:
    id: int
    parent_id: int | None = None
    cycle_id: int = 1
    weight: float = 1.0
