"""Planning at 50,000 people, on SQLite and PostgreSQL: every row right, none refused.

Above ~2,500 people (SQLite) and ~5,000 (PostgreSQL) the first plan used to overflow the
databases' bound-parameter limits; IN lists of every owner's KRs or ids did the same. This
plans a whole week's first prompts, a re-plan, then a day later everyone's first reminder,
and compares the outbox with what the rules say, person by person.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Engine

from bench.data import fill_workspace
from bot.okr.schedule import current_period, period_end, prompt_time, reminder_time, zone
from bot.services.checkins import cadence_of
from bot.services.delivery import PROMPT, DeliveryService, reminder_kind
from storage.db import session_scope
from storage.models import CheckIn, KeyResult, OutboxMessage, OutboxState
from storage.people import SlackProfile
from storage.workspaces import get_workspace, update_workspace

WS = "T0SCALE"
PEOPLE = 50_000
MONDAY_NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
ZONES = ["UTC", "Europe/Berlin", "Asia/Tokyo", "America/Los_Angeles", "Australia/Sydney"]


def profile_of(user_id: str) -> SlackProfile:
    n = int(user_id[3:])
    return SlackProfile(user_id, ZONES[n % len(ZONES)], deleted=n % 97 == 0, is_bot=n % 89 == 0)


def lookup(_workspace_id: str, user_ids: Sequence[str]) -> list[SlackProfile]:
    return [profile_of(u) for u in user_ids]


def outbox_rows(engine: Engine) -> dict[tuple[str, str], tuple[date, datetime]]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(
                OutboxMessage.recipient,  # type: ignore[arg-type]
                OutboxMessage.kind,  # type: ignore[arg-type]
                OutboxMessage.period_start,  # type: ignore[arg-type]
                OutboxMessage.due_at,  # type: ignore[arg-type]
            ).where(OutboxMessage.workspace_id == WS)
        ).all()
    return {(r, k): (p, d) for r, k, p, d in rows}


def analyze(engine: Engine) -> None:
    """Statistics, as autovacuum keeps them on a live PostgreSQL: right after a bulk load
    there are none, and the planner nests loops over 50,000 rows."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")


def test_fifty_thousand_people_are_planned_right(engine: Engine) -> None:
    filled = fill_workspace(
        engine,
        workspace_id=WS,
        objectives=PEOPLE // 5,
        krs_per_objective=5,
        users=PEOPLE,  # one KR each
        teams=10,
        today=MONDAY_NOON.date(),
    )
    with session_scope(engine) as session:
        update_workspace(session=session, workspace_id=WS, max_reminders=1)
        ws = get_workspace(session=session, workspace_id=WS)
    cadence = cadence_of(ws)
    # Every seventh person has already answered for their period: they are not asked.
    with engine.begin() as connection:
        krs = connection.execute(
            sa.select(KeyResult.id, KeyResult.owner_id).where(KeyResult.workspace_id == WS)  # type: ignore[arg-type]
        ).all()
        answered_rows = []
        for kr_id, owner in krs:
            if int(owner[3:]) % 7 == 0:
                tz = zone(profile_of(owner).tz, fallback="UTC")
                answered_rows.append(
                    {
                        "workspace_id": WS,
                        "key_result_id": kr_id,
                        "author_id": owner,
                        "period_start": current_period(MONDAY_NOON, cadence, tz),
                        "note": "",
                        "blocker": "",
                        "source": "modal",
                        "created_at": MONDAY_NOON - timedelta(hours=1),
                    }
                )
        connection.execute(sa.insert(CheckIn.__table__), answered_rows)  # type: ignore[arg-type]
    analyze(engine)

    expected: dict[tuple[str, str], tuple[date, datetime]] = {}
    for user in filled.users:
        profile = profile_of(user)
        if profile.deleted or profile.is_bot or int(user[3:]) % 7 == 0:
            continue
        tz = zone(profile.tz, fallback="UTC")
        period = current_period(MONDAY_NOON, cadence, tz)
        expected[(user, PROMPT)] = (period, min(prompt_time(period, cadence, tz), MONDAY_NOON))

    now = MONDAY_NOON
    service = DeliveryService(engine, clock=lambda: now)
    report = service.plan(profiles=lookup, workspace_id=WS, force=True)
    assert report.refreshed == PEOPLE
    assert outbox_rows(engine) == expected
    assert report.planned == len(expected)

    # A re-plan finds everything planned and adds nothing.
    assert service.plan(profiles=lookup, workspace_id=WS, force=True).planned == 0

    # Everything went out at noon; a day later, everyone not answered gets their reminder.
    with engine.begin() as connection:
        connection.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.workspace_id == WS)  # type: ignore[arg-type]
            .values(state=OutboxState.SENT, sent_at=MONDAY_NOON)
        )
    now = MONDAY_NOON + timedelta(days=1, hours=1)
    report = service.plan(profiles=lookup, workspace_id=WS)
    expected_reminders = {}
    for (user, _), (period, _) in expected.items():
        tz = zone(profile_of(user).tz, fallback="UTC")
        due = reminder_time(MONDAY_NOON, delay_hours=ws.reminder_delay_hours, tz=tz)
        if due <= now and now.astimezone(tz).date() < period_end(period, cadence):
            expected_reminders[(user, reminder_kind(1))] = (period, due)
    assert len(expected_reminders) > PEOPLE // 3  # the test means something
    reminders = {key: value for key, value in outbox_rows(engine).items() if key[1] != PROMPT}
    assert reminders == expected_reminders
    assert report.planned == len(reminders)
