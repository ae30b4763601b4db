"""People: timezone and presence of Slack users, cached from users.info / users.list."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, col, select

from storage.db import insert_ignoring_conflicts
from storage.models import Person


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
    """Insert or refresh people (away dates are the person's own and are kept)."""
    insert_ignoring_conflicts(
        session,
        Person,
        [Person(workspace_id=workspace_id, user_id=p.user_id).model_dump() for p in profiles],
    )
    known = get_people(
        session=session, workspace_id=workspace_id, user_ids=[p.user_id for p in profiles]
    )
    for profile in profiles:
        person = known[profile.user_id]
        person.tz, person.deleted, person.is_bot = profile.tz, profile.deleted, profile.is_bot
        person.refreshed_at = now
        session.add(person)
    session.flush()


def set_away(*, session: Session, workspace_id: str, user_id: str, until: date | None) -> Person:
    insert_ignoring_conflicts(
        session, Person, [Person(workspace_id=workspace_id, user_id=user_id).model_dump()]
    )
    person = session.get_one(Person, (workspace_id, user_id))
    person.away_until = until
    session.add(person)
    session.flush()
    return person
