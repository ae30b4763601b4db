"""People: timezone and presence of Slack users, cached from users.info / users.list."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, col, select

from storage.db import INSERT_BATCH, dialect_module, insert_ignoring_conflicts
from storage.models import Person, table_of


@dataclass(frozen=True)
class SlackProfile:
    """The few users.info fields Ladder keeps."""

    user_id: str
    tz: str | None
    deleted: bool = False
    is_bot: bool = False


def get_people(
    *, session: Session, workspace_id: str, user_ids: Iterable[str]
) -> dict[str, Person]:
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    rows = session.exec(
        select(Person).where(Person.workspace_id == workspace_id, col(Person.user_id).in_(ids))
    ).all()
    return {p.user_id: p for p in rows}


def save_profiles(
    *, session: Session, workspace_id: str, profiles: Sequence[SlackProfile], now: datetime
) -> None:
    """Insert or refresh people (away dates are the person's own and are kept).

    One upsert executed for every profile (executemany, no ORM objects): 50,000 profiles
    from users.list are one statement compiled once, not 50,000 loaded and saved rows."""
    if not profiles:
        return
    insert = dialect_module(session.get_bind().dialect.name).insert(table_of(Person))
    statement = insert.on_conflict_do_update(
        index_elements=["workspace_id", "user_id"],
        set_={
            "tz": insert.excluded.tz,
            "deleted": insert.excluded.deleted,
            "is_bot": insert.excluded.is_bot,
            "refreshed_at": insert.excluded.refreshed_at,
        },
    )
    latest = {p.user_id: p for p in profiles}  # one row per person: the last profile given
    rows = [
        {
            "workspace_id": workspace_id,
            "user_id": p.user_id,
            "tz": p.tz,
            "deleted": p.deleted,
            "is_bot": p.is_bot,
            "away_until": None,
            "refreshed_at": now,
        }
        for p in latest.values()
    ]
    for start in range(0, len(rows), INSERT_BATCH):
        session.execute(statement, rows[start : start + INSERT_BATCH])


def set_away(*, session: Session, workspace_id: str, user_id: str, until: date | None) -> Person:
    insert_ignoring_conflicts(
        session, Person, [Person(workspace_id=workspace_id, user_id=user_id).model_dump()]
    )
    person = session.get_one(Person, (workspace_id, user_id))
    person.away_until = until
    session.add(person)
    session.flush()
    return person
