"""A workspace's send pace, shared by every process that posts to it (bot/jobs/pacing.py).

One row per workspace holds its next free slot. Reserving is one atomic UPDATE … RETURNING:
the row lock (PostgreSQL) or the write lock (SQLite) orders concurrent senders, so each
slot goes to exactly one of them however many processes send.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session

from storage.db import insert_ignoring_conflicts
from storage.models import SendPace, table_of

_pace = table_of(SendPace)


def reserve_slot(
    *, session: Session, workspace_id: str, not_before: float, gap: float, count: int = 1
) -> float:
    """Take the workspace's next free slot at or after `not_before` (seconds since the
    epoch), and the `count - 1` after it, `gap` seconds apart; returns the first slot taken.

    Idle time is not banked: after a pause the slot is `not_before`, not a burst of the
    slots nobody used."""
    statement = (
        sa.update(_pace)
        .where(_pace.c.workspace_id == workspace_id)
        .values(
            next_slot=sa.case((_pace.c.next_slot < not_before, not_before), else_=_pace.c.next_slot)
            + gap * count
        )
        .returning(_pace.c.next_slot)
    )
    taken = session.execute(statement).scalar_one_or_none()
    if taken is None:  # the workspace's first post: add its row, then reserve as usual
        insert_ignoring_conflicts(
            session, SendPace, [{"workspace_id": workspace_id, "next_slot": 0.0}]
        )
        taken = session.execute(statement).scalar_one()
    return float(taken) - gap * count
