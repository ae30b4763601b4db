"""Planning check-ins: a run after everything is planned is cheap, and plans exactly what the
straightforward algorithm did (every due prompt offered to INSERT … ON CONFLICT DO NOTHING,
everyone checked against their check-ins, reminders worked out from the whole period's rows).

The scenario walks one week (prompts, a forced send, two rounds of reminders, answers in
between) through people in three timezones, away, gone, bots, and a KR added too late;
after each step the rows planning added must be the ones the reference would have added.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from bot.okr.kinds import KRKind
from bot.okr.schedule import (
    current_period,
    period_end,
    prompt_time,
    reminder_time,
    zone,
)
from bot.okr.validate import KRSpec
from bot.services.checkins import cadence_of, running_cycle_ids
from bot.services.delivery import PROMPT, DeliveryService, reminder_kind
from storage import checkins as checkin_store
from storage import objectives as objective_store
from storage import outbox
from storage.checkins import record_check_in
from storage.cycles import create_cycle
from storage.db import session_scope
from storage.models import KeyResult, OutboxMessage, OutboxState
from storage.objectives import create_objective
from storage.people import SlackProfile, get_people, save_profiles, set_away
from storage.workspaces import ensure_workspace, get_workspace, update_workspace

WS = "T0PLAN"
MONDAY = date(2026, 3, 2)  # the period everyone is in (weekly, Mondays 10:00 local)
SEEDED = datetime(2026, 2, 23, 9, 0, tzinfo=UTC)
Row = tuple[str, date, str, datetime]


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, 1 + day, hour, minute, tzinfo=UTC)  # day 1 = Monday


def reference_plan(engine: Engine, now: datetime, *, force: bool) -> set[Row]:
    """The rows DeliveryService.plan added before re-planning was made cheap, worked out the
    way it did (its profile look-up aside: everyone's profile is fresh here)."""
    with session_scope(engine) as session:
        ws = get_workspace(session=session, workspace_id=WS)
        cycle_ids = running_cycle_ids(session, WS, now.date())
        owners: dict[str, list[KeyResult]] = defaultdict(list)
        for kr, _ in objective_store.list_active_key_results(
            session=session, workspace_id=WS, cycle_ids=cycle_ids
        ):
            owners[kr.owner_id].append(kr)
        people = get_people(session=session, workspace_id=WS, user_ids=owners)
        cadence = cadence_of(ws)
        wanted, periods = [], {}
        for user_id, krs in owners.items():
            person = people.get(user_id)
            if person is None or person.deleted or person.is_bot:
                continue
            tz = zone(person.tz, fallback=ws.default_timezone)
            period = current_period(now, cadence, tz)
            if person.away_until is not None and person.away_until >= now.astimezone(tz).date():
                continue
            due = prompt_time(period, cadence, tz)
            if now < due and not force:
                continue
            if not any(kr.created_at <= (now if force else due) for kr in krs):
                continue
            periods[user_id] = period
            wanted.append(outbox.PlannedMessage(user_id, period, PROMPT, min(due, now)))
        done = checkin_store.checked_in(
            session=session,
            workspace_id=WS,
            key_result_ids=[kr.id for u in periods for kr in owners[u]],  # type: ignore[misc]
            periods=sorted(set(periods.values())),
        )
        answered = {u for u, p in periods.items() if all((kr.id, p) in done for kr in owners[u])}
        planned = [w for w in wanted if w.recipient not in answered]
        # Reminders were worked out after the prompts went in; a prompt planned just now is
        # `planned`, not `sent`, so it ends its chain exactly as a missing one does.
        sent: dict[tuple[str, date], dict[str, OutboxMessage]] = defaultdict(dict)
        for period in set(periods.values()):
            for m in outbox.list_messages(session=session, workspace_id=WS, period_start=period):
                sent[(m.recipient, m.period_start)][m.kind] = m
        for user_id, period in periods.items() if ws.max_reminders >= 1 else ():
            if user_id in answered:
                continue
            mine = sent.get((user_id, period), {})
            chain = [mine.get(PROMPT)] + [
                mine.get(reminder_kind(n)) for n in range(1, ws.max_reminders + 1)
            ]
            for n in range(1, ws.max_reminders + 1):
                before, this = chain[n - 1], chain[n]
                if this is not None:
                    continue
                if before is None or before.state != OutboxState.SENT or before.sent_at is None:
                    break
                tz = zone(people[user_id].tz, fallback=ws.default_timezone)
                due = reminder_time(before.sent_at, delay_hours=ws.reminder_delay_hours, tz=tz)
                if due <= now and now.astimezone(tz).date() < period_end(period, cadence):
                    planned.append(outbox.PlannedMessage(user_id, period, reminder_kind(n), due))
                break
        present = {
            (m.recipient, m.period_start, m.kind)
            for m in outbox.list_messages(session=session, workspace_id=WS)
        }
    return {
        (p.recipient, p.period_start, p.kind, p.due_at)
        for p in planned
        if (p.recipient, p.period_start, p.kind) not in present
    }


def outbox_rows(engine: Engine) -> dict[int, OutboxMessage]:
    with session_scope(engine, read_only=True) as session:
        return {m.id: m for m in outbox.list_messages(session=session, workspace_id=WS)}  # type: ignore[misc]


def no_lookups(_workspace_id: str, user_ids: object) -> list[SlackProfile]:
    raise AssertionError(f"every profile is fresh, yet {user_ids} were looked up")


class Week:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.now = SEEDED
        self.service = DeliveryService(engine, clock=lambda: self.now)
        self.krs: dict[str, list[int]] = {}

    def plan(self, now: datetime, *, force: bool = False) -> set[Row]:
        """Plan at `now`; checks it added what the reference would have, and returns it."""
        self.now = now
        expected = reference_plan(self.engine, now, force=force)
        before = set(outbox_rows(self.engine))
        report = self.service.plan(profiles=no_lookups, workspace_id=WS, force=force)
        added = {
            (m.recipient, m.period_start, m.kind, m.due_at)
            for i, m in outbox_rows(self.engine).items()
            if i not in before
        }
        assert added == expected
        assert report.planned == len(expected)  # on PostgreSQL too (preserve_rowcount)
        return added

    def send_due(self) -> None:
        """A sender delivers everything due now."""
        with session_scope(self.engine) as session:
            for m in outbox.list_messages(
                session=session, workspace_id=WS, states=[OutboxState.PLANNED]
            ):
                if m.due_at <= self.now:
                    outbox.mark_sent(
                        session=session,
                        message_id=m.id,  # type: ignore[arg-type]
                        channel_id=f"D{m.recipient}",
                        ts=f"{m.id}.0",
                        now=self.now,
                    )

    def answer(self, user: str, *, krs: slice = slice(None)) -> None:
        with session_scope(self.engine) as session:
            for kr_id in self.krs[user][krs]:
                record_check_in(
                    session=session,
                    workspace_id=WS,
                    key_result_id=kr_id,
                    author_id=user,
                    value=1,
                    period_start=MONDAY,
                    now=self.now,
                )


PEOPLE: dict[str, tuple[str, int]] = {  # user -> (timezone, KRs)
    "U0UTC": ("UTC", 1),
    "U0UTC2": ("UTC", 1),
    "U0TOKYO": ("Asia/Tokyo", 1),
    "U0LA": ("America/Los_Angeles", 2),
    "U0DONE": ("UTC", 2),  # answered both before being asked
    "U0HALF": ("UTC", 2),  # answered one of two
    "U0AWAY": ("UTC", 1),
    "U0GONE": ("UTC", 1),
    "U0BOT": ("UTC", 1),
    "U0SKIP": ("UTC", 1),  # an earlier run skipped their prompt
    "U0LATE": ("UTC", 1),  # their only KR was added after the prompt time
}


@pytest.fixture
def week(engine: Engine) -> Week:
    w = Week(engine)
    with Session(engine, expire_on_commit=False) as session:
        ensure_workspace(session=session, workspace_id=WS)
        update_workspace(session=session, workspace_id=WS, max_reminders=2)
        cycle = create_cycle(
            session=session,
            workspace_id=WS,
            name="H1",
            start_date=date(2026, 1, 1),
            end_date=date(2026, 6, 30),
        )
        for user, (_, n) in PEOPLE.items():
            objective = create_objective(
                session=session,
                workspace_id=WS,
                cycle_id=cycle.id,  # type: ignore[arg-type]
                owner_id=user,
                title=f"Goals of {user}",
                key_results=[KRSpec(f"{user} {i}", KRKind.MILESTONE, 1) for i in range(n)],
                now=at(1, 10, 45) if user == "U0LATE" else SEEDED,
            )
            w.krs[user] = [
                kr.id  # type: ignore[misc]
                for kr, o in objective_store.list_active_key_results(
                    session=session, workspace_id=WS, owner_ids=[user]
                )
                if o.id == objective.id
            ]
        save_profiles(
            session=session,
            workspace_id=WS,
            profiles=[
                SlackProfile(u, tz, deleted=u == "U0GONE", is_bot=u == "U0BOT")
                for u, (tz, _) in PEOPLE.items()
            ],
            now=SEEDED + (at(1, 0) - SEEDED) / 2,  # fresh all week
        )
        set_away(session=session, workspace_id=WS, user_id="U0AWAY", until=date(2026, 3, 4))
        outbox.plan_messages(
            session=session,
            workspace_id=WS,
            planned=[outbox.PlannedMessage("U0SKIP", MONDAY, PROMPT, at(1, 10))],
        )
        [skipped] = outbox.list_messages(session=session, workspace_id=WS)
        outbox.mark_finished(
            session=session,
            message_id=skipped.id,  # type: ignore[arg-type]
            state=OutboxState.SKIPPED,
            error="test",
        )
        session.commit()
    return w


def kinds_for(rows: set[Row]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for recipient, _, kind, _ in rows:
        out[recipient].add(kind)
    return dict(out)


def test_replanning_plans_exactly_what_planning_everything_did(week: Week) -> None:
    week.now = at(1, 8)
    week.answer("U0DONE")
    week.answer("U0HALF", krs=slice(0, 1))
    # Monday 09:00 UTC: 18:00 in Tokyo, where the prompt was due at 10:00.
    assert kinds_for(week.plan(at(1, 9))) == {"U0TOKYO": {PROMPT}}
    assert week.plan(at(1, 9, 30)) == set()
    # 10:30: the UTC people; the half-answered one is still asked.
    assert kinds_for(week.plan(at(1, 10, 30))) == {
        "U0UTC": {PROMPT},
        "U0UTC2": {PROMPT},
        "U0HALF": {PROMPT},
    }
    week.send_due()
    # An admin's "send now": Los Angeles before its 10:00 (and the late KR's owner).
    assert kinds_for(week.plan(at(1, 11), force=True)) == {
        "U0LA": {PROMPT},
        "U0LATE": {PROMPT},
    }
    week.send_due()
    week.now = at(2, 9)
    week.answer("U0UTC2")
    # Tuesday 11:00: a day after, the first reminders; not for who answered meanwhile. Tokyo
    # was asked at 19:30 its time, so its reminder waits for 09:00 there; the late KR's owner
    # was only asked by the forced run, and reminders follow the schedule, not the force.
    assert kinds_for(week.plan(at(2, 11))) == {
        "U0UTC": {"reminder1"},
        "U0HALF": {"reminder1"},
    }
    assert week.plan(at(2, 11)) == set()
    week.send_due()
    # Wednesday noon: second reminders; Tokyo and Los Angeles get their first.
    assert kinds_for(week.plan(at(3, 12))) == {
        "U0UTC": {"reminder2"},
        "U0HALF": {"reminder2"},
        "U0TOKYO": {"reminder1"},
        "U0LA": {"reminder1"},
    }
    week.send_due()
    # Back from being away on Thursday: asked, though late in the period.
    assert kinds_for(week.plan(at(4, 9))) == {"U0AWAY": {PROMPT}}
    assert week.plan(at(4, 9)) == set()


def test_a_replan_with_nothing_new_neither_inserts_nor_reads_check_ins(
    week: Week, count_statements: Callable[[], object]
) -> None:
    week.plan(at(1, 10, 30))
    week.send_due()
    with count_statements() as counter:  # type: ignore[attr-defined]
        assert week.service.plan(profiles=no_lookups, workspace_id=WS).planned == 0
    statements = [s.lstrip().upper() for s in counter.statements]
    assert not [s for s in statements if s.startswith("INSERT")]
    assert not [s for s in statements if "CHECK_IN" in s]
    assert not [s for s in statements if s.startswith("SELECT OUTBOX_MESSAGE.ID")]  # no rows
