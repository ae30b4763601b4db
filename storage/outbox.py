"""The outbox: messages Ladder owes people, planned once, claimed by one sender, sent once.

States: planned -> sending -> sent -> answered, or skipped / failed. The unique key
(workspace, recipient, period, kind) makes planning idempotent; claiming moves rows to
`sending` inside a transaction (row locks on PostgreSQL, the write lock on SQLite), so two
senders never take the same row. A row left in `sending` by a crashed sender is handed out
again after `reclaim_after`, flagged so the sender first checks whether Slack has it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, or_, select

from storage.db import insert_ignoring_conflicts
from storage.models import OutboxMessage, OutboxState, Workspace, table_of


@dataclass(frozen=True)
class PlannedMessage:
    recipient: str
    period_start: date
    kind: str
    due_at: datetime


@dataclass(frozen=True)
class Planned:
    """Where an outbox row stands, without the whole row."""

    recipient: str
    period_start: date
    kind: str
    state: str
    sent_at: datetime | None


@dataclass(frozen=True)
class Claim:
    message: OutboxMessage
    maybe_sent: bool  # a previous sender claimed it and vanished: look before resending


def plan_messages(*, session: Session, workspace_id: str, planned: Sequence[PlannedMessage]) -> int:
    """Add what is not planned yet; returns how many rows are new."""
    return insert_ignoring_conflicts(
        session,
        OutboxMessage,
        [  # plain rows (no model per row): a first plan can be 50,000 of them
            {
                "workspace_id": workspace_id,
                "recipient": p.recipient,
                "period_start": p.period_start,
                "kind": p.kind,
                "state": OutboxState.PLANNED,
                "due_at": p.due_at,
                "attempts": 0,
            }
            for p in planned
        ],
    )


def claim_due(
    *,
    session: Session,
    now: datetime,
    limit: int,
    reclaim_after: timedelta,
    workspace_id: str | None = None,
    exclude_ids: Collection[int] = (),
) -> list[Claim]:
    """Take up to `limit` due rows for sending (commit before sending: the claim is the lock).

    Rows of an inactive workspace (its token was revoked) wait untouched until it is back.
    exclude_ids: rows the caller is still sending (a sender claiming its next rows while the
    last ones are on the wire), never reclaimed from under it however short reclaim_after is.
    """
    stale = now - reclaim_after
    active = select(Workspace.team_id).where(col(Workspace.active).is_(True))
    query = select(OutboxMessage).where(
        col(OutboxMessage.workspace_id).in_(active),
        or_(
            sa.and_(
                col(OutboxMessage.state) == OutboxState.PLANNED,
                col(OutboxMessage.due_at) <= now,
            ),
            sa.and_(
                col(OutboxMessage.state) == OutboxState.SENDING,
                col(OutboxMessage.claimed_at) <= stale,
            ),
        ),
    )
    if workspace_id is not None:
        query = query.where(OutboxMessage.workspace_id == workspace_id)
    if exclude_ids:
        query = query.where(col(OutboxMessage.id).not_in(sorted(exclude_ids)))
    query = query.order_by(col(OutboxMessage.due_at), col(OutboxMessage.id)).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    claims = []
    for message in session.exec(query).all():
        claims.append(Claim(message, maybe_sent=message.state == OutboxState.SENDING))
        message.state, message.claimed_at = OutboxState.SENDING, now
        message.attempts += 1
        session.add(message)
    session.flush()
    return claims


def release(*, session: Session, message_id: int, due_at: datetime) -> None:
    """Give a claimed row back (e.g. it may not go out at this hour)."""
    session.execute(
        sa.update(OutboxMessage)
        .where(
            col(OutboxMessage.id) == message_id,
            col(OutboxMessage.state) == OutboxState.SENDING,
        )
        .values(state=OutboxState.PLANNED, due_at=due_at, claimed_at=None)
    )


def mark_sent(
    *, session: Session, message_id: int, channel_id: str, ts: str, now: datetime
) -> None:
    session.execute(
        sa.update(OutboxMessage)
        .where(col(OutboxMessage.id) == message_id)
        .values(state=OutboxState.SENT, channel_id=channel_id, ts=ts, sent_at=now, error=None)
    )


def mark_finished(*, session: Session, message_id: int, state: str, error: str | None) -> None:
    """A row that will not be sent: skipped (nothing to say) or failed (Slack refused)."""
    session.execute(
        sa.update(OutboxMessage)
        .where(col(OutboxMessage.id) == message_id)
        .values(state=state, error=(error or "")[:200] or None)
    )


def mark_answered(
    *, session: Session, workspace_id: str, user_id: str, period_start: date, now: datetime
) -> list[OutboxMessage]:
    """The person answered: their prompt is answered and pending reminders are dropped.

    Returns the messages that were delivered (to replace them in Slack).
    """
    rows = session.exec(
        select(OutboxMessage).where(
            OutboxMessage.workspace_id == workspace_id,
            OutboxMessage.recipient == user_id,
            OutboxMessage.period_start == period_start,
            col(OutboxMessage.kind) != "digest",
            # A request for a cycle's reflections is not answered by a check-in.
            col(OutboxMessage.kind).not_like("reflect:%"),
        )
    ).all()
    delivered = []
    for row in rows:
        if row.state in (OutboxState.SENT, OutboxState.ANSWERED):
            delivered.append(row)
            row.state, row.answered_at = OutboxState.ANSWERED, row.answered_at or now
        elif row.state == OutboxState.PLANNED:
            row.state = OutboxState.SKIPPED
        session.add(row)
    session.flush()
    return delivered


def list_messages(
    *,
    session: Session,
    workspace_id: str,
    period_start: date | None = None,
    kinds: Sequence[str] | None = None,
    states: Sequence[str] | None = None,
) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(OutboxMessage.workspace_id == workspace_id)
    if period_start is not None:
        query = query.where(OutboxMessage.period_start == period_start)
    if kinds is not None:
        query = query.where(col(OutboxMessage.kind).in_(kinds))
    if states is not None:
        query = query.where(col(OutboxMessage.state).in_(states))
    return list(session.exec(query.order_by(col(OutboxMessage.id))).all())


def list_planned(
    *, session: Session, workspace_id: str, periods: Sequence[date], kinds: Sequence[str]
) -> list[Planned]:
    """Rows of these kinds already in the outbox for these periods, in one statement that
    reads five columns instead of whole rows (planning asks this for everyone each run)."""
    if not periods or not kinds:
        return []
    outbox = table_of(OutboxMessage)  # Core: no ORM rows
    rows = session.execute(
        sa.select(
            outbox.c.recipient,
            outbox.c.period_start,
            outbox.c.kind,
            outbox.c.state,
            outbox.c.sent_at,
        ).where(
            outbox.c.workspace_id == workspace_id,
            outbox.c.period_start.in_(periods),
            outbox.c.kind.in_(kinds),
        )
    ).all()
    return [Planned(*row) for row in rows]
