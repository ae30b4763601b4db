"""Check-ins: recording a new value and confidence for a key result."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from bot.okr.kinds import KRKind
from bot.okr.limits import NOTE_MAX
from bot.okr.validate import clean_text, confidence_problem, number_problem
from storage.errors import NotFound, Refused
from storage.models import CheckIn, KeyResult

# storage.sources writes these; named here so this module does not import it.
AUTOMATIC_SOURCES = ("sync", "push")


def record_check_in(
    *,
    session: Session,
    workspace_id: str,
    key_result_id: int,
    author_id: str,
    value: float | None,
    period_start: date,
    now: datetime,
    confidence: int | None = None,
    note: str = "",
    blocker: str = "",
    source: str = "modal",
    dedupe_key: str | None = None,
) -> tuple[CheckIn, bool]:
    """Store a check-in and move the KR to it, in the caller's transaction.

    Returns (row, recorded). With a `dedupe_key` already used for this KR the existing row is
    returned unchanged and nothing else is written: retries and double clicks are harmless.
    A KR keeps one check-in per period; a later answer in the same period replaces it.
    `value=None` keeps the current value (a confidence-only or "no change" answer).
    """
    note, blocker = clean_text(note), clean_text(blocker)
    problem = (
        number_problem(value, what="value")
        or confidence_problem(confidence)
        or (
            f"Keep notes under {NOTE_MAX} characters."
            if max(len(note), len(blocker)) > NOTE_MAX
            else None
        )
    )
    if problem:
        raise Refused(problem)

    lock_key_result(session, key_result_id, workspace_id=workspace_id, now=now)
    if dedupe_key is not None:
        existing = session.exec(
            select(CheckIn).where(
                CheckIn.key_result_id == key_result_id, CheckIn.dedupe_key == dedupe_key
            )
        ).first()
        if existing is not None:
            return existing, False

    kr = reread_key_result(session, key_result_id, value=value)
    # One check-in per KR and period: answering again (a second modal, a later change of
    # mind) updates it, and its previous_value stays the value before the period.
    check_in = period_check_in(session, key_result_id, period_start) or CheckIn(
        workspace_id=workspace_id,
        key_result_id=key_result_id,
        previous_value=kr.current_value,
        period_start=period_start,
        author_id=author_id,
    )
    check_in.author_id = author_id
    check_in.value = kr.current_value if value is None else value
    check_in.confidence = kr.confidence if confidence is None else confidence
    check_in.note, check_in.blocker = note, blocker
    check_in.source, check_in.dedupe_key, check_in.created_at = source, dedupe_key, now
    session.add(check_in)
    if value is not None:
        kr.current_value = 0.0 if value == 0 else value  # no negative zero
    if confidence is not None:
        kr.confidence = confidence
    kr.last_checkin_at = now
    session.add(kr)
    session.flush()
    return check_in, True


def lock_key_result(
    session: Session, key_result_id: int, *, workspace_id: str, now: datetime
) -> None:
    """Touch the KR row first: this takes its write lock on PostgreSQL and SQLite alike, so
    concurrent writes on one KR serialize and the KR ends on the last recorded value."""
    locked = session.exec(
        sa.update(KeyResult)
        .where(col(KeyResult.id) == key_result_id, col(KeyResult.workspace_id) == workspace_id)
        .values(updated_at=now)
    )
    if locked.rowcount == 0:
        raise NotFound(f"key result {key_result_id} not found")


def reread_key_result(session: Session, key_result_id: int, *, value: float | None) -> KeyResult:
    """The locked KR as it is now; Refused for a value its kind does not take."""
    kr = session.exec(
        select(KeyResult)
        .where(KeyResult.id == key_result_id)
        .execution_options(populate_existing=True)
    ).one()
    if value is not None and KRKind(kr.kind) is KRKind.MILESTONE and value not in (0, 1):
        raise Refused("A milestone is either done (1) or not done (0).")
    return kr


def period_check_in(session: Session, key_result_id: int, period_start: date) -> CheckIn | None:
    """The KR's one check-in of the period, if any."""
    return session.exec(
        select(CheckIn).where(
            CheckIn.key_result_id == key_result_id, CheckIn.period_start == period_start
        )
    ).first()


def list_check_ins(
    *, session: Session, workspace_id: str, key_result_ids: Sequence[int]
) -> list[CheckIn]:
    """Check-ins of the given KRs, oldest first, in one statement."""
    query = select(CheckIn).where(
        CheckIn.workspace_id == workspace_id, col(CheckIn.key_result_id).in_(key_result_ids)
    )
    return list(session.exec(query.order_by(col(CheckIn.created_at), col(CheckIn.id))).all())


def checked_in(
    *, session: Session, workspace_id: str, key_result_ids: Sequence[int], periods: Sequence[date]
) -> set[tuple[int, date]]:
    """Which (KR, period) pairs have a check-in, in one statement. Values a data source
    recorded do not count: the owner is still asked for confidence and notes."""
    if not key_result_ids or not periods:
        return set()
    rows = session.exec(
        select(col(CheckIn.key_result_id), col(CheckIn.period_start)).where(
            CheckIn.workspace_id == workspace_id,
            col(CheckIn.key_result_id).in_(key_result_ids),
            col(CheckIn.period_start).in_(periods),
            col(CheckIn.source).not_in(AUTOMATIC_SOURCES),
        )
    ).all()
    return {(kr_id, period) for kr_id, period in rows}
