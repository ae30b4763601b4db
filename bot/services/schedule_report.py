"""`python -m bot schedule`: when the next prompts and digests go out, per workspace and person."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session

from bot.okr.schedule import next_digest, next_prompt, zone
from bot.services.checkins import cadence_of
from bot.services.delivery import DIGEST
from bot.services.digests import DigestService
from storage import objectives as objective_store
from storage import outbox
from storage import teams as team_store
from storage.db import session_scope
from storage.models import Workspace
from storage.people import get_people
from storage.workspaces import get_workspace, list_active_workspaces

_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def schedule_lines(
    engine: Engine, *, now: datetime, workspace_id: str | None = None, per_user: bool = False
) -> Iterator[str]:
    with session_scope(engine) as session:
        workspaces = (
            [get_workspace(session=session, workspace_id=workspace_id)]
            if workspace_id
            else list_active_workspaces(session=session)
        )
        if not workspaces:
            yield "no active workspaces yet"
        for ws in workspaces:
            cadence = cadence_of(ws)
            every = "every week" if cadence.weeks == 1 else "every 2 weeks"
            default = next_prompt(now, cadence, zone(ws.default_timezone))
            state = "" if ws.active else " (inactive: nothing is sent)"
            yield f"{ws.team_id} {ws.name or ''}{state}".rstrip()
            yield (
                f"  prompts: {_DAYS[cadence.weekday]} {cadence.at:%H:%M} in each person's "
                f"timezone, {every}; next in {ws.default_timezone}: {default:%Y-%m-%d %H:%M} UTC"
            )
            yield _digest_line(session, ws, now)
            if per_user:
                yield from _user_lines(session, ws, now)


def _digest_line(session: Session, ws: Workspace, now: datetime) -> str:
    channels = DigestService.channels_of(session, ws)
    if not channels:
        return "  digests: none (no channel linked to a team, no digest channel set)"
    done = frozenset(
        m.period_start
        for m in outbox.list_messages(session=session, workspace_id=ws.team_id, kinds=[DIGEST])
    )
    due = next_digest(
        now,
        weekday=ws.digest_weekday,
        at=ws.checkin_time,
        cadence=cadence_of(ws),
        tz=zone(ws.default_timezone),
        done=done,
    )
    names = {t.id: t.name for t in team_store.list_teams(session=session, workspace_id=ws.team_id)}
    where = ", ".join(
        f"{channel} ({'whole company' if team is None else names.get(team, '?')})"
        for channel, team in sorted(channels.items())
    )
    return (
        f"  digests: {_DAYS[ws.digest_weekday]} {ws.checkin_time:%H:%M} {ws.default_timezone}; "
        f"next {due:%Y-%m-%d %H:%M} UTC to {where}"
    )


def _user_lines(session: Session, ws: Workspace, now: datetime) -> Iterator[str]:
    cadence = cadence_of(ws)
    owners = sorted(
        {
            kr.owner_id
            for kr, _ in objective_store.list_active_key_results(
                session=session, workspace_id=ws.team_id
            )
        }
    )
    people = get_people(session=session, workspace_id=ws.team_id, user_ids=owners)
    for user_id in owners:
        person = people.get(user_id)
        tz_name = person.tz if person and person.tz else ws.default_timezone
        due = next_prompt(now, cadence, zone(tz_name, fallback=ws.default_timezone))
        away = (
            f" (away until {person.away_until})"
            if person and person.away_until and person.away_until >= now.date()
            else ""
        )
        yield f"  {user_id} [{tz_name}]: {due:%Y-%m-%d %H:%M} UTC{away}"
