"""`python -m bot schedule`: when the next prompts go out, per workspace and per person."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import Engine

from bot.okr.schedule import next_prompt, zone
from bot.services.checkins import cadence_of
from storage import objectives as objective_store
from storage.db import session_scope
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
            yield (
                f"{ws.team_id} {ws.name or ''}: {_DAYS[cadence.weekday]} {cadence.at:%H:%M} "
                f"local time, {every}; next (in {ws.default_timezone}) "
                f"{default:%Y-%m-%d %H:%M} UTC"
            )
            if not per_user:
                continue
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
