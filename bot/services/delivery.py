"""Check-in delivery: who is asked when, and the outbox rows the sender claims and settles.

Slack-free: profiles come through an injected lookup, and sending is the caller's job
(bot/jobs/sender.py). Every step is idempotent, so the scheduler, `python -m bot checkins
send` and a restarted process can all run it again without sending anything twice.
"""

from __future__ import annotations

import functools
import logging
from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import Engine

from bot.okr.schedule import (
    current_period,
    may_prompt,
    next_working_moment,
    period_end,
    prompt_time,
    reminder_time,
    zone,
)
from bot.services import Service
from bot.services.checkins import cadence_of, running_cycle_ids
from bot.services.reviews import cycle_of_kind
from storage import checkins as checkin_store
from storage import outbox
from storage import planning as plan_store
from storage.db import session_scope
from storage.models import OutboxMessage, OutboxState, Workspace
from storage.people import SlackProfile, get_people, save_profiles
from storage.tree import KeyResultRow, LoadedTree, load_tree
from storage.workspaces import get_workspace, list_active_workspaces, update_workspace

log = logging.getLogger(__name__)

PROMPT, DIGEST = "prompt", "digest"
PROFILE_MAX_AGE = timedelta(days=7)
# Above this many KRs, planning reads every check-in of the periods asked about instead of
# naming the KRs (an IN list that long outgrows the databases' parameter limits).
CHECKED_IN_BY_ID = 5_000
ProfileLookup = Callable[[str, Sequence[str]], list[SlackProfile]]


def reminder_kind(n: int) -> str:
    return f"reminder{n}"


def _chain(ws: Workspace) -> list[str]:
    """The kinds of one period's messages to a person: the prompt, then each reminder."""
    return [PROMPT, *(reminder_kind(n) for n in range(1, ws.max_reminders + 1))]


def _stale(person: plan_store.PersonFacts | None, now: datetime) -> bool:
    """No profile of the person yet, or one older than PROFILE_MAX_AGE."""
    refreshed = None if person is None else person.refreshed_at
    return refreshed is None or refreshed < now - PROFILE_MAX_AGE


def active_workspaces(engine: Engine, workspace_id: str | None) -> list[Workspace]:
    """The workspaces a job works on: the one named if it is active, else every active one."""
    with session_scope(engine) as session:
        if workspace_id is not None:
            ws = get_workspace(session=session, workspace_id=workspace_id)
            return [ws] if ws.active else []
        return list_active_workspaces(session=session)


@dataclass(frozen=True)
class Delivery:
    """A claimed outbox row with what its message needs."""

    message: OutboxMessage
    maybe_sent: bool
    tree: LoadedTree | None = None
    krs: list[KeyResultRow] = field(default_factory=list)
    # For a row Slack may already have: what to do if the DM history shows it is not there.
    hold_until: datetime | None = None  # outside the person's working hours: wait till then
    period_over: bool = False  # too late for this period: skip it


@dataclass(frozen=True)
class PlanReport:
    planned: int = 0
    refreshed: int = 0


class DeliveryService(Service):
    # -- who is asked, when ------------------------------------------------------------

    def plan(
        self,
        *,
        profiles: ProfileLookup,
        workspace_id: str | None = None,
        now: datetime | None = None,
        force: bool = False,
    ) -> PlanReport:
        """Add the prompts and reminders that are due to the outbox (idempotent).

        force: plan this period's prompts now even before their local time (admins'
        "send now"); working hours are still respected when sending.
        """
        now = now or self.clock()
        planned = refreshed = 0
        for ws in active_workspaces(self.engine, workspace_id):
            with session_scope(self.engine, read_only=True) as session:
                cycle_ids = running_cycle_ids(session, ws.team_id, now.date())
                if not cycle_ids:
                    continue
                owners = plan_store.owners_first_key_result(
                    session=session, workspace_id=ws.team_id, cycle_ids=cycle_ids
                )
                people = plan_store.people_facts(session=session, workspace_id=ws.team_id)
            stale = [u for u in owners if _stale(people.get(u), now)]
            if stale:
                found = profiles(ws.team_id, stale)
                with session_scope(self.engine) as session:
                    save_profiles(session=session, workspace_id=ws.team_id, profiles=found, now=now)
                with session_scope(self.engine, read_only=True) as session:
                    people = plan_store.people_facts(session=session, workspace_id=ws.team_id)
                refreshed += len(found)
            planned += self._plan_workspace(ws, cycle_ids, owners, people, now=now, force=force)
        return PlanReport(planned, refreshed)

    def _plan_workspace(
        self,
        ws: Workspace,
        cycle_ids: list[int],
        owners: dict[str, datetime],  # KR owner -> when their oldest running KR was created
        people: dict[str, plan_store.PersonFacts],
        *,
        now: datetime,
        force: bool,
    ) -> int:
        """Plan the prompts and reminders due in one workspace.

        Everyone due is compared with what the outbox already holds for their period (one
        narrow query), so a run after everything is planned neither inserts nor asks whether
        people answered: only those about to get a new row are checked against check-ins.
        """
        cadence = cadence_of(ws)

        @functools.cache  # once per timezone: 50,000 people live in a few dozen zones
        def local(tz_name: str | None) -> tuple[date, datetime, date]:
            """(period, prompt time, today) for someone in `tz_name`."""
            tz = zone(tz_name, fallback=ws.default_timezone)
            period = current_period(now, cadence, tz)
            return period, prompt_time(period, cadence, tz), now.astimezone(tz).date()

        wanted: list[outbox.PlannedMessage] = []
        periods: dict[str, date] = {}
        for user_id, first_created in owners.items():
            person = people.get(user_id)
            if person is None or person.deleted or person.is_bot:
                continue
            period, due, today = local(person.tz)
            if person.away_until is not None and person.away_until >= today:
                continue
            if now < due and not force:
                continue
            # A KR created after this period's prompt waits for the next period.
            if first_created > (now if force else due):
                continue
            periods[user_id] = period
            wanted.append(outbox.PlannedMessage(user_id, period, PROMPT, min(due, now)))
        if not periods:
            return 0
        with session_scope(self.engine) as session:
            existing: dict[tuple[str, date], dict[str, outbox.Planned]] = defaultdict(dict)
            for row in outbox.list_planned(
                session=session,
                workspace_id=ws.team_id,
                periods=sorted(set(periods.values())),
                kinds=_chain(ws),
            ):
                existing[(row.recipient, row.period_start)][row.kind] = row
            # A prompt already in the outbox would be ignored by the insert anyway.
            prompts = [
                w for w in wanted if PROMPT not in existing.get((w.recipient, w.period_start), {})
            ]
            reminders = self._due_reminders(ws, people, periods, existing, now)
            asking = {m.recipient for m in prompts} | {m.recipient for m in reminders}
            if not asking:
                return 0
            asked_periods = sorted({periods[u] for u in asking})
            krs_of = plan_store.key_result_ids_by_owner(
                session=session, workspace_id=ws.team_id, cycle_ids=cycle_ids, owners=asking
            )
            asked_krs = [kr_id for u in asking for kr_id in krs_of.get(u, [])]
            if len(asked_krs) > CHECKED_IN_BY_ID:  # many: every check-in of those periods
                done = plan_store.checked_in_periods(
                    session=session, workspace_id=ws.team_id, periods=asked_periods
                )
            else:
                done = checkin_store.checked_in(
                    session=session,
                    workspace_id=ws.team_id,
                    key_result_ids=asked_krs,
                    periods=asked_periods,
                )
            answered = {
                u for u in asking if all((kr_id, periods[u]) in done for kr_id in krs_of.get(u, []))
            }
            return outbox.plan_messages(
                session=session,
                workspace_id=ws.team_id,
                planned=[m for m in (*prompts, *reminders) if m.recipient not in answered],
            )

    def _due_reminders(
        self,
        ws: Workspace,
        people: dict[str, plan_store.PersonFacts],
        periods: dict[str, date],
        existing: dict[tuple[str, date], dict[str, outbox.Planned]],
        now: datetime,
    ) -> list[outbox.PlannedMessage]:
        """The next reminder of each chain whose previous message went out long enough ago
        (whether the person has answered since is the caller's question)."""
        reminders = []
        chain = _chain(ws)
        for user_id, period in periods.items():
            mine = existing.get((user_id, period))
            if mine is None:  # no prompt yet: no chain to continue
                continue
            for n in range(1, ws.max_reminders + 1):
                before, this = mine.get(chain[n - 1]), mine.get(chain[n])
                if this is not None:
                    continue
                if before is None or before.state != OutboxState.SENT or before.sent_at is None:
                    break
                tz = zone(people[user_id].tz, fallback=ws.default_timezone)
                due = reminder_time(before.sent_at, delay_hours=ws.reminder_delay_hours, tz=tz)
                if due <= now and now.astimezone(tz).date() < period_end(period, cadence_of(ws)):
                    reminders.append(outbox.PlannedMessage(user_id, period, chain[n], due))
                break
        return reminders

    # -- handing messages to the sender ------------------------------------------------

    def claim(
        self,
        *,
        limit: int,
        reclaim_after: timedelta,
        workspace_id: str | None = None,
        now: datetime | None = None,
        exclude_ids: Collection[int] = (),
    ) -> list[Delivery]:
        """Claim due messages and load what they show; drops what became pointless.

        exclude_ids: rows the caller is still sending, never handed out again meanwhile.
        What a prompt shows is loaded for its recipients only (their KRs' objectives), in a
        read-only session: a claim does not hold the write lock while it reads.
        """
        now = now or self.clock()
        claims = self.run(
            outbox.claim_due,
            now=now,
            limit=limit,
            reclaim_after=reclaim_after,
            workspace_id=workspace_id,
            exclude_ids=exclude_ids,
        )
        deliveries: list[Delivery] = []
        by_workspace: dict[str, list[outbox.Claim]] = defaultdict(list)
        reflections: dict[str, list[outbox.Claim]] = defaultdict(list)
        for claim in claims:
            if claim.message.kind == DIGEST:  # rendered from the channel's team when sent
                deliveries.append(Delivery(claim.message, claim.maybe_sent))
            elif cycle_of_kind(claim.message.kind) is not None:  # rendered when sent
                reflections[claim.message.workspace_id].append(claim)
            else:
                by_workspace[claim.message.workspace_id].append(claim)
        for ws_id, ws_claims in by_workspace.items():
            deliveries += self._prepare(ws_id, ws_claims, now)
        for ws_id, ws_claims in reflections.items():
            deliveries += self._in_working_hours(ws_id, ws_claims, now)
        return deliveries

    def _in_working_hours(
        self, ws_id: str, claims: list[outbox.Claim], now: datetime
    ) -> list[Delivery]:
        """Requests for reflections (a cycle closed): sent within the person's working hours,
        like prompts; outside them, given back until the next working moment."""
        with session_scope(self.engine, read_only=True) as session:
            ws = get_workspace(session=session, workspace_id=ws_id)
            people = get_people(
                session=session, workspace_id=ws_id, user_ids=[c.message.recipient for c in claims]
            )
        deliveries: list[Delivery] = []
        released: list[tuple[int, datetime]] = []
        for claim in claims:
            m = claim.message
            person = people.get(m.recipient)
            tz = zone(person.tz if person else None, fallback=ws.default_timezone)
            hold = None if may_prompt(now, tz) else next_working_moment(now, tz)
            if hold is None or claim.maybe_sent:  # maybe sent: the sender looks first
                deliveries.append(Delivery(m, claim.maybe_sent, hold_until=hold))
            else:
                released.append((m.id, hold))
        self._give_back(released=released)
        return deliveries

    def _prepare(self, ws_id: str, claims: list[outbox.Claim], now: datetime) -> list[Delivery]:
        """Claimed prompts and reminders of one workspace: ready to send, or settled here."""
        recipients = sorted({c.message.recipient for c in claims})
        with session_scope(self.engine, read_only=True) as session:
            ws = get_workspace(session=session, workspace_id=ws_id)
            cycle_ids = running_cycle_ids(session, ws_id, now.date())
            tree = load_tree(
                session=session,
                workspace_id=ws_id,
                today=now.date(),
                cycle_ids=cycle_ids,
                kr_owner_ids=recipients,
            )
            people = get_people(session=session, workspace_id=ws_id, user_ids=recipients)
            asked = set(recipients)
            krs_by_owner: dict[str, list[KeyResultRow]] = defaultdict(list)
            for kr in tree.key_results:  # their objectives' other KRs are shown, not asked
                if kr.owner_id in asked:
                    krs_by_owner[kr.owner_id].append(kr)
            done = checkin_store.checked_in(
                session=session,
                workspace_id=ws_id,
                key_result_ids=[kr.id for krs in krs_by_owner.values() for kr in krs],
                periods=sorted({c.message.period_start for c in claims}),
            )
        cadence = cadence_of(ws)
        deliveries: list[Delivery] = []
        skipped: list[tuple[int, str]] = []  # (message id, reason)
        released: list[tuple[int, datetime]] = []  # (message id, due again at)
        for claim in claims:
            m = claim.message
            message_id: int = m.id
            krs = krs_by_owner.get(m.recipient, [])
            person = people.get(m.recipient)
            if not krs or all((kr.id, m.period_start) in done for kr in krs):
                skipped.append((message_id, "nothing to ask"))
                continue
            tz = zone(person.tz if person else None, fallback=ws.default_timezone)
            wait_until = next_working_moment(now, tz)
            # The period is over before we may speak: next period's prompt asks.
            period_over = wait_until.astimezone(tz).date() >= period_end(m.period_start, cadence)
            configured = prompt_time(m.period_start, cadence, tz) if m.kind == PROMPT else None
            hold = None if may_prompt(now, tz, configured=configured) else wait_until
            if claim.maybe_sent:
                # Slack may have it: the sender looks in the DM first, then applies the same
                # gate before posting anything.
                deliveries.append(
                    Delivery(m, True, tree, krs, hold_until=hold, period_over=period_over)
                )
            elif period_over:
                skipped.append((message_id, "period over"))
            elif hold is not None:
                released.append((message_id, hold))
            else:
                deliveries.append(Delivery(m, False, tree, krs))
        self._give_back(skipped=skipped, released=released)
        return deliveries

    def _give_back(
        self,
        *,
        skipped: Sequence[tuple[int, str]] = (),
        released: Sequence[tuple[int, datetime]] = (),
    ) -> None:
        """Finish the claimed rows not worth sending (with why); release the rest to be sent
        at the time given (they are known not to be in Slack)."""
        if not (skipped or released):
            return
        with session_scope(self.engine) as session:
            for message_id, reason in skipped:
                outbox.mark_finished(
                    session=session, message_id=message_id, state=OutboxState.SKIPPED, error=reason
                )
            for message_id, due_at in released:
                outbox.release(session=session, message_id=message_id, due_at=due_at)

    def sent(self, message_id: int, *, channel_id: str, ts: str) -> None:
        self.run(
            outbox.mark_sent, message_id=message_id, channel_id=channel_id, ts=ts, now=self.clock()
        )

    def failed(self, message_id: int, *, error: str) -> None:
        self.run(outbox.mark_finished, message_id=message_id, state=OutboxState.FAILED, error=error)

    def hold(self, message_id: int, *, until: datetime) -> None:
        self._give_back(released=[(message_id, until)])

    def skip(self, message_id: int, *, reason: str) -> None:
        self._give_back(skipped=[(message_id, reason)])

    def deactivate(self, workspace_id: str, *, reason: str) -> None:
        """The token was revoked: stop everything for this workspace until it comes back."""
        log.warning("workspace=%s deactivated: %s", workspace_id, reason)
        self.run(update_workspace, workspace_id=workspace_id, active=False)
