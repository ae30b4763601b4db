"""Data sources and push tokens: KRs whose value comes from another system.

A pulled or pushed value becomes the KR's current value and the period's check-in, written
by "data source" (source "sync" or "push"). Such a check-in is not a person's answer: the
weekly prompt still asks the owner for confidence and notes (storage.checkins.checked_in
leaves automatic check-ins out), and a person's own answer in the period is never
overwritten by one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from bot.okr.limits import NOTE_MAX
from bot.okr.validate import clean_text, number_problem
from storage import checkins as checkin_store
from storage.db import get_row
from storage.errors import NotFound, Refused
from storage.models import (
    CheckIn,
    Cycle,
    DataSource,
    DataSourceHost,
    KeyResult,
    Objective,
    PushToken,
    Workspace,
)

DATA_SOURCE_AUTHOR = "data source"  # CheckIn.author_id of values no person typed
SYNC_SOURCE, PUSH_SOURCE = "sync", "push"
AUTOMATIC_SOURCES = checkin_store.AUTOMATIC_SOURCES
assert (SYNC_SOURCE, PUSH_SOURCE) == AUTOMATIC_SOURCES
REASON_MAX = 300
MIN_INTERVAL_MINUTES = 5


# -- sources --------------------------------------------------------------------------


def save_source(
    *,
    session: Session,
    workspace_id: str,
    key_result_id: int,
    kind: str,
    url: str,
    created_by: str,
    now: datetime,
    expression: str = "",
    column: str = "",
    row_key: str = "",
    multiplier: float = 1.0,
    credential: str | None = None,
    interval_minutes: int = 60,
) -> DataSource:
    """Connect the KR to a source, or change its source; the next pull is due at once and
    any failure episode of the old settings is forgotten."""
    if interval_minutes < MIN_INTERVAL_MINUTES:
        raise Refused(f"Pull at most every {MIN_INTERVAL_MINUTES} minutes.")
    get_row(session, KeyResult, key_result_id, workspace_id=workspace_id)
    source = get_source(session=session, workspace_id=workspace_id, key_result_id=key_result_id)
    if source is None:
        source = DataSource(
            workspace_id=workspace_id,
            key_result_id=key_result_id,
            kind=kind,
            url=url,
            created_by=created_by,
            created_at=now,
        )
    source.kind, source.url, source.expression = kind, url, expression
    source.column, source.row_key, source.multiplier = column, row_key, multiplier
    source.credential, source.interval_minutes = credential, interval_minutes
    source.created_by, source.updated_at, source.next_run_at = created_by, now, now
    source.failing_since = source.failure_reason = source.notified_at = None
    source.failures = 0
    session.add(source)
    session.flush()
    return source


def get_source(*, session: Session, workspace_id: str, key_result_id: int) -> DataSource | None:
    return session.exec(
        select(DataSource).where(
            DataSource.workspace_id == workspace_id, DataSource.key_result_id == key_result_id
        )
    ).first()


def get_source_by_id(*, session: Session, source_id: int) -> DataSource:
    source = session.get(DataSource, source_id)
    if source is None:
        raise NotFound(f"data source {source_id} not found")
    return source


def list_sources(
    *, session: Session, workspace_id: str, key_result_ids: Sequence[int] | None = None
) -> dict[int, DataSource]:
    """The workspace's sources by KR id (only the given KRs', when given), in one statement."""
    query = select(DataSource).where(DataSource.workspace_id == workspace_id)
    if key_result_ids is not None:
        query = query.where(col(DataSource.key_result_id).in_(key_result_ids))
    return {s.key_result_id: s for s in session.exec(query).all()}


def remove_source(*, session: Session, workspace_id: str, key_result_id: int) -> bool:
    result = session.exec(
        sa.delete(DataSource).where(
            col(DataSource.workspace_id) == workspace_id,
            col(DataSource.key_result_id) == key_result_id,
        )
    )
    return result.rowcount > 0


def claim_due_sources(
    *, session: Session, now: datetime, limit: int, workspace_id: str | None = None
) -> list[DataSource]:
    """Sources due by `now` in active workspaces, on KRs and objectives not archived, oldest
    due first; each one's next pull is moved to now + its interval before it is fetched, so
    a pull that dies is retried at its next slot instead of in a tight loop, and two
    schedulers (PostgreSQL: SKIP LOCKED) never pull one source twice."""
    query = (
        select(DataSource)
        .join(KeyResult, col(KeyResult.id) == col(DataSource.key_result_id))
        .join(Objective, col(Objective.id) == col(KeyResult.objective_id))
        .join(Workspace, col(Workspace.team_id) == col(DataSource.workspace_id))
        .where(
            col(DataSource.next_run_at) <= now,
            col(Workspace.active).is_(True),
            col(KeyResult.archived_at).is_(None),
            col(Objective.archived_at).is_(None),
        )
        .order_by(col(DataSource.next_run_at), col(DataSource.id))
        .limit(limit)
        .with_for_update(of=DataSource, skip_locked=True)
    )
    if workspace_id is not None:
        query = query.where(DataSource.workspace_id == workspace_id)
    due = list(session.exec(query).all())
    for source in due:
        source.next_run_at = now + timedelta(minutes=source.interval_minutes)
        source.last_run_at = now
        session.add(source)
    session.flush()
    return due


def record_pull_success(
    *, session: Session, source_id: int, value: float, now: datetime
) -> DataSource:
    """A good pull ends any failure episode."""
    source = get_source_by_id(session=session, source_id=source_id)
    source.last_ok_at, source.last_value, source.last_run_at = now, value, now
    source.failing_since = source.failure_reason = source.notified_at = None
    source.failures = 0
    session.add(source)
    session.flush()
    return source


def record_pull_failure(
    *, session: Session, source_id: int, reason: str, now: datetime
) -> DataSource:
    """The KR keeps its value; the source is marked failing with the reason. The caller
    tells the owner when `notified_at` is still None, then calls mark_notified."""
    source = get_source_by_id(session=session, source_id=source_id)
    if source.failing_since is None:
        source.failing_since = now
    source.failure_reason = reason[:REASON_MAX]
    source.failures += 1
    source.last_run_at = now
    session.add(source)
    session.flush()
    return source


def mark_notified(*, session: Session, source_id: int, now: datetime) -> None:
    session.exec(
        sa.update(DataSource)
        .where(col(DataSource.id) == source_id, col(DataSource.failing_since).is_not(None))
        .values(notified_at=now)
    )


# -- values -----------------------------------------------------------------------------


def record_automatic_value(
    *,
    session: Session,
    workspace_id: str,
    key_result_id: int,
    value: float,
    period_start: date,
    now: datetime,
    source: str,
    note: str = "",
) -> CheckIn | None:
    """Move the KR to a value no person typed, as the period's check-in by "data source".
    An unchanged value (and no note) records nothing: None. A person's check-in in the
    period stays theirs (author, value, confidence, notes); only the KR's value moves.
    Refused for a value the check-in modal would refuse, with nothing written."""
    note = clean_text(note)
    problem = number_problem(value, what="value") or (
        f"Keep the note under {NOTE_MAX} characters." if len(note) > NOTE_MAX else None
    )
    if problem:
        raise Refused(problem)
    checkin_store.lock_key_result(session, key_result_id, workspace_id=workspace_id, now=now)
    kr = checkin_store.reread_key_result(session, key_result_id, value=value)
    value = 0.0 if value == 0 else value  # no negative zero
    if kr.current_value == value and not note:
        return None
    check_in = checkin_store.period_check_in(session, key_result_id, period_start) or CheckIn(
        workspace_id=workspace_id,
        key_result_id=key_result_id,
        author_id=DATA_SOURCE_AUTHOR,
        previous_value=kr.current_value,
        confidence=kr.confidence,
        period_start=period_start,
    )
    if check_in.source in AUTOMATIC_SOURCES or check_in.id is None:
        check_in.author_id, check_in.value, check_in.source = DATA_SOURCE_AUTHOR, value, source
        check_in.note, check_in.created_at, check_in.dedupe_key = note, now, None
        session.add(check_in)
    kr.current_value = value
    kr.last_checkin_at = now
    session.add(kr)
    session.flush()
    return check_in


# -- the allow-list -----------------------------------------------------------------------


def allowed_hosts(*, session: Session, workspace_id: str) -> set[str]:
    return allowed_hosts_of(session=session, workspace_ids=[workspace_id])[workspace_id]


def allowed_hosts_of(*, session: Session, workspace_ids: Sequence[str]) -> dict[str, set[str]]:
    """Each workspace's allow-list, in one statement."""
    hosts: dict[str, set[str]] = {w: set() for w in workspace_ids}
    if not workspace_ids:
        return hosts
    rows = session.exec(
        select(DataSourceHost.workspace_id, DataSourceHost.host).where(
            col(DataSourceHost.workspace_id).in_(workspace_ids)
        )
    ).all()
    for workspace_id, host in rows:
        hosts[workspace_id].add(host)
    return hosts


def allow_host(
    *, session: Session, workspace_id: str, host: str, added_by: str, now: datetime
) -> bool:
    """False if the host was already allowed."""
    if session.get(DataSourceHost, (workspace_id, host)) is not None:
        return False
    session.add(
        DataSourceHost(workspace_id=workspace_id, host=host, added_by=added_by, created_at=now)
    )
    session.flush()
    return True


def disallow_host(*, session: Session, workspace_id: str, host: str) -> bool:
    result = session.exec(
        sa.delete(DataSourceHost).where(
            col(DataSourceHost.workspace_id) == workspace_id, col(DataSourceHost.host) == host
        )
    )
    return result.rowcount > 0


# -- push tokens ----------------------------------------------------------------------------


def create_push_token(
    *,
    session: Session,
    workspace_id: str,
    key_result_id: int,
    token_hash: str,
    hint: str,
    created_by: str,
    now: datetime,
) -> PushToken:
    """A new token for the KR; the KR's earlier tokens are revoked (one works at a time)."""
    revoke_push_tokens(
        session=session, workspace_id=workspace_id, key_result_id=key_result_id, now=now
    )
    token = PushToken(
        workspace_id=workspace_id,
        key_result_id=key_result_id,
        token_hash=token_hash,
        hint=hint,
        created_by=created_by,
        created_at=now,
    )
    session.add(token)
    session.flush()
    return token


def revoke_push_tokens(
    *, session: Session, workspace_id: str, key_result_id: int, now: datetime
) -> int:
    result = session.exec(
        sa.update(PushToken)
        .where(
            col(PushToken.workspace_id) == workspace_id,
            col(PushToken.key_result_id) == key_result_id,
            col(PushToken.revoked_at).is_(None),
        )
        .values(revoked_at=now)
    )
    return result.rowcount


def find_push_token(*, session: Session, token_hash: str) -> PushToken | None:
    """The live token with this hash, or None (unknown, revoked, or its workspace has
    uninstalled Ladder)."""
    return session.exec(
        select(PushToken)
        .join(Workspace, col(Workspace.team_id) == col(PushToken.workspace_id))
        .where(
            PushToken.token_hash == token_hash,
            col(PushToken.revoked_at).is_(None),
            col(Workspace.active).is_(True),
        )
    ).first()


def touch_push_token(*, session: Session, token_id: int, now: datetime) -> None:
    session.exec(sa.update(PushToken).where(col(PushToken.id) == token_id).values(last_used_at=now))


def key_result_workspace(*, session: Session, key_result_id: int) -> str:
    """The workspace a KR belongs to (the command line names KRs by id alone)."""
    workspace_id = session.exec(
        select(KeyResult.workspace_id).where(KeyResult.id == key_result_id)
    ).first()
    if workspace_id is None:
        raise NotFound(f"key result {key_result_id} not found")
    return workspace_id


def objective_key_results(
    *, session: Session, workspace_id: str, objective_id: int
) -> list[KeyResult]:
    """The objective's KRs that are not archived, in their order (the Connect data modal)."""
    return list(
        session.exec(
            select(KeyResult)
            .where(
                KeyResult.workspace_id == workspace_id,
                KeyResult.objective_id == objective_id,
                col(KeyResult.archived_at).is_(None),
            )
            .order_by(col(KeyResult.position), col(KeyResult.id))
        ).all()
    )


def connectable_key_results(
    *, session: Session, workspace_id: str, user_id: str | None, limit: int = 100
) -> list[tuple[KeyResult, Objective]]:
    """KRs of open cycles a person may connect: theirs and their objectives' (user_id), or
    all of them (None: an admin); in objective order, at most `limit`, in one statement."""
    query = (
        select(KeyResult, Objective)
        .join(Objective, col(Objective.id) == col(KeyResult.objective_id))
        .join(Cycle, col(Cycle.id) == col(Objective.cycle_id))
        .where(
            KeyResult.workspace_id == workspace_id,
            col(KeyResult.archived_at).is_(None),
            col(Objective.archived_at).is_(None),
            col(Cycle.closed_at).is_(None),
        )
        .order_by(col(Objective.id), col(KeyResult.position), col(KeyResult.id))
        .limit(limit)
    )
    if user_id is not None:
        query = query.where(
            sa.or_(col(KeyResult.owner_id) == user_id, col(Objective.owner_id) == user_id)
        )
    return [(kr, objective) for kr, objective in session.exec(query).all()]
