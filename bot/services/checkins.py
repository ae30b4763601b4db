"""Weekly check-ins: who is asked when, what they are owed, and recording their answers.

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
from sqlmodel import Session

from bot.okr.limits import CONFIDENCE_MAX, CONFIDENCE_MIN, NOTE_MAX
from bot.okr.numbers import NumberInputError, parse_number_input
from bot.okr.schedule import (
    Cadence,
    current_period,
    may_prompt,
    next_working_moment,
    period_end,
    prompt_time,
    reminder_time,
    zone,
)
from bot.okr.validate import clean_text
from bot.services import Service
from bot.services.permissions import (
    CHECKIN_REFUSAL,
    CheckInDenied,
    PermissionDenied,
    may_check_in,
    not_admin,
)
from bot.services.trees import known_workspace
from storage import checkins as checkin_store
from storage import cycles as cycle_store
from storage import objectives as objective_store
from storage import outbox
from storage import planning as plan_store
from storage import sources as source_store
from storage.db import session_scope
from storage.errors import NotFound, Refused
from storage.models import KeyResult, Objective, OutboxMessage, OutboxState, Workspace
from storage.people import SlackProfile, get_people, save_profiles, set_away
from storage.tree import KeyResultRow, LoadedTree, ObjectiveRow, load_tree
from storage.workspaces import get_workspace, list_active_workspaces, update_workspace

log = logging.getLogger(__name__)

PROMPT, DIGEST = "prompt", "digest"
REFLECT_PREFIX = "reflect:"  # bot.services.reviews: a closed cycle's request for reflections
PROFILE_MAX_AGE = timedelta(days=7)
# Above this many KRs, planning reads every check-in of the periods asked about instead of
# naming the KRs (an IN list that long outgrows the databases' parameter limits).
CHECKED_IN_BY_ID = 5_000
ProfileLookup = Callable[[str, Sequence[str]], list[SlackProfile]]


def reminder_kind(n: int) -> str:
    return f"reminder{n}"


def cadence_of(workspace: Workspace) -> Cadence:
    return Cadence(
        weekday=workspace.checkin_weekday,
        at=workspace.checkin_time,
        weeks=workspace.checkin_cadence_weeks,
    )


def _stale(person: plan_store.PersonFacts | None, now: datetime) -> bool:
    """No profile of the person yet, or one older than PROFILE_MAX_AGE."""
    refreshed = None if person is None else person.refreshed_at
    return refreshed is None or refreshed < now - PROFILE_MAX_AGE


def running_cycle_ids(session: Session, workspace_id: str, today: date) -> list[int]:
    return [
        c.id
        for c in cycle_store.list_cycles(session=session, workspace_id=workspace_id)
        if c.is_open and c.start_date <= today <= c.end_date
    ]


def _my_running_krs(
    session: Session, workspace_id: str, user_id: str, today: date
) -> list[tuple[KeyResult, Objective]]:
    """The KRs someone owns in the cycles running today, with their objectives."""
    return objective_store.list_active_key_results(
        session=session,
        workspace_id=workspace_id,
        owner_ids=[user_id],
        cycle_ids=running_cycle_ids(session, workspace_id, today),
    )


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

    @property
    def kind(self) -> str:
        return self.message.kind


class _LocalTimes:
    """A workspace's period, prompt time and local date for each timezone at `now`, worked
    out once per timezone: 50,000 people live in a few dozen zones."""

    def __init__(self, ws: Workspace, cadence: Cadence, now: datetime) -> None:
        self.ws, self.cadence, self.now = ws, cadence, now
        self._by_tz: dict[str | None, tuple[date, datetime, date]] = {}

    def of(self, tz_name: str | None) -> tuple[date, datetime, date]:
        """(period, prompt time, today) for someone in `tz_name`."""
        known = self._by_tz.get(tz_name)
        if known is None:
            tz = zone(tz_name, fallback=self.ws.default_timezone)
            period = current_period(self.now, self.cadence, tz)
            due = prompt_time(period, self.cadence, tz)
            known = self._by_tz[tz_name] = (period, due, self.now.astimezone(tz).date())
        return known


@dataclass(frozen=True)
class PlanReport:
    planned: int = 0
    refreshed: int = 0


@dataclass(frozen=True)
class KRAnswer:
    """One KR's fields of a check-in form, as typed."""

    key_result_id: int
    value: str | None = None  # the typed value; None: the form has no value field for it
    done: bool | None = None  # a milestone's checkbox, instead of `value`
    confidence: str | None = None  # the chosen option; None: none chosen

    @property
    def has_value_field(self) -> bool:
        return self.value is not None or self.done is not None


@dataclass(frozen=True)
class CheckinForm:
    """A submitted check-in form (bot.blocks.dialogs.checkin_from_state reads it).

    Errors are keyed by field: `value:<kr id>`, `confidence:<kr id>`, `note`, `blocker`."""

    form_id: str  # the same form submitted twice is recorded once
    answers: list[KRAnswer]
    note: str = ""
    blocker: str = ""


@dataclass(frozen=True)
class Answered:
    """What a recorded answer changed, and which delivered prompts to replace."""

    changes: list[tuple[KeyResult, float | None]]  # the KR now, its value before
    replace: list[OutboxMessage]
    recorded: int
    duplicates: int


@dataclass(frozen=True)
class CheckInResult:
    recorded: int
    duplicates: int
    errors: dict[str, str] = field(default_factory=dict)
    answered: Answered | None = None


class CheckinService(Service):
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
        for ws in self._workspaces(workspace_id):
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

    def _workspaces(self, workspace_id: str | None) -> list[Workspace]:
        return active_workspaces(self.engine, workspace_id)

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
        Periods and prompt times are worked out once per timezone, not once per person.
        """
        cadence = cadence_of(ws)
        local = _LocalTimes(ws, cadence, now)
        wanted: list[outbox.PlannedMessage] = []
        periods: dict[str, date] = {}
        for user_id, first_created in owners.items():
            person = people.get(user_id)
            if person is None or person.deleted or person.is_bot:
                continue
            period, due, today = local.of(person.tz)
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
        kinds = [PROMPT, *(reminder_kind(n) for n in range(1, ws.max_reminders + 1))]
        with session_scope(self.engine) as session:
            existing: dict[tuple[str, date], dict[str, outbox.Planned]] = defaultdict(dict)
            for row in outbox.list_planned(
                session=session,
                workspace_id=ws.team_id,
                periods=sorted(set(periods.values())),
                kinds=kinds,
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
        if ws.max_reminders < 1:
            return []
        reminders = []
        chain_kinds = [PROMPT, *(reminder_kind(n) for n in range(1, ws.max_reminders + 1))]
        for user_id, period in periods.items():
            mine = existing.get((user_id, period))
            if mine is None:  # no prompt yet: no chain to continue
                continue
            for n in range(1, ws.max_reminders + 1):
                before, this = mine.get(chain_kinds[n - 1]), mine.get(chain_kinds[n])
                if this is not None:
                    continue
                if before is None or before.state != OutboxState.SENT or before.sent_at is None:
                    break
                tz = zone(people[user_id].tz, fallback=ws.default_timezone)
                due = reminder_time(before.sent_at, delay_hours=ws.reminder_delay_hours, tz=tz)
                if due <= now and now.astimezone(tz).date() < period_end(period, cadence_of(ws)):
                    reminders.append(outbox.PlannedMessage(user_id, period, reminder_kind(n), due))
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
        with session_scope(self.engine) as session:
            claims = outbox.claim_due(
                session=session,
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
            elif claim.message.kind.startswith(REFLECT_PREFIX):  # rendered when sent
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
        if released:
            with session_scope(self.engine) as session:
                for message_id, due_at in released:
                    outbox.release(session=session, message_id=message_id, due_at=due_at)
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
        if skipped or released:
            with session_scope(self.engine) as session:
                for message_id, reason in skipped:
                    outbox.mark_finished(
                        session=session,
                        message_id=message_id,
                        state=OutboxState.SKIPPED,
                        error=reason,
                    )
                for message_id, due_at in released:
                    outbox.release(session=session, message_id=message_id, due_at=due_at)
        return deliveries

    def sent(self, message_id: int, *, channel_id: str, ts: str) -> None:
        with session_scope(self.engine) as session:
            outbox.mark_sent(
                session=session,
                message_id=message_id,
                channel_id=channel_id,
                ts=ts,
                now=self.clock(),
            )

    def failed(self, message_id: int, *, error: str) -> None:
        with session_scope(self.engine) as session:
            outbox.mark_finished(
                session=session, message_id=message_id, state=OutboxState.FAILED, error=error
            )

    def retry_later(self, message_id: int, *, delay: timedelta) -> None:
        self.hold(message_id, until=self.clock() + delay)

    def hold(self, message_id: int, *, until: datetime) -> None:
        """Give a claimed row back to be sent at `until` (it is known not to be in Slack)."""
        with session_scope(self.engine) as session:
            outbox.release(session=session, message_id=message_id, due_at=until)

    def skip(self, message_id: int, *, reason: str) -> None:
        with session_scope(self.engine) as session:
            outbox.mark_finished(
                session=session, message_id=message_id, state=OutboxState.SKIPPED, error=reason
            )

    def deactivate(self, workspace_id: str, *, reason: str) -> None:
        """The token was revoked: stop everything for this workspace until it comes back."""
        log.warning("workspace=%s deactivated: %s", workspace_id, reason)
        with session_scope(self.engine) as session:
            update_workspace(session=session, workspace_id=workspace_id, active=False)

    # -- answers -----------------------------------------------------------------------

    def period_for(self, *, workspace_id: str, user_id: str, now: datetime | None = None) -> date:
        """The check-in period a person is in now, in their own timezone."""
        now = now or self.clock()
        with session_scope(self.engine, read_only=True) as session:  # no write lock to read
            ws = get_workspace(session=session, workspace_id=workspace_id)
            person = get_people(session=session, workspace_id=workspace_id, user_ids=[user_id])
            tz = zone(
                person[user_id].tz if user_id in person else None, fallback=ws.default_timezone
            )
            return current_period(now, cadence_of(ws), tz)

    def record(
        self,
        *,
        workspace_id: str,
        user_id: str,
        readings: Sequence[tuple[int, float | None, int | None]],
        note: str = "",
        blocker: str = "",
        source: str = "modal",
        dedupe_key: str | None = None,
        is_admin: Callable[[], bool] = not_admin,
    ) -> Answered:
        """Record one check-in per KR (value None = unchanged) for the person's period.

        All or nothing: if the person may not check in on one of the KRs (see may_check_in;
        without `is_admin` admins get no say over others' KRs) CheckInDenied names them and
        nothing is recorded.
        """
        self.ensure_may_check_in(
            workspace_id=workspace_id,
            user_id=user_id,
            key_result_ids=[r[0] for r in readings],
            is_admin=is_admin,
        )
        now = self.clock()
        period = self.period_for(workspace_id=workspace_id, user_id=user_id, now=now)
        recorded = duplicates = 0
        by_kr: dict[int, tuple[KeyResult, float | None]] = {}
        with session_scope(self.engine) as session:
            # KR rows are locked in id order: two answers covering the same KRs in different
            # orders would otherwise deadlock on PostgreSQL, each holding a row the other needs.
            for kr_id, value, confidence in sorted(readings, key=lambda r: r[0]):
                kr = objective_store.get_key_result(
                    session=session, workspace_id=workspace_id, key_result_id=kr_id
                )
                before = kr.current_value
                _, created = checkin_store.record_check_in(
                    session=session,
                    workspace_id=workspace_id,
                    key_result_id=kr_id,
                    author_id=user_id,
                    value=value,
                    confidence=confidence,
                    note=note,
                    blocker=blocker,
                    period_start=period,
                    now=now,
                    source=source,
                    dedupe_key=dedupe_key,
                )
                recorded += created
                duplicates += not created
                by_kr[kr_id] = (kr, before)  # the same row record_check_in updated, locked
            replace = self._settle(session, workspace_id, user_id, period, now)
        changes = [by_kr[kr_id] for kr_id in dict.fromkeys(r[0] for r in readings)]  # as given
        return Answered(changes, replace, recorded, duplicates)

    def ensure_may_check_in(
        self,
        *,
        workspace_id: str,
        user_id: str,
        key_result_ids: Sequence[int],
        is_admin: Callable[[], bool],
    ) -> None:
        """CheckInDenied naming the KRs `user_id` may not check in on, if there are any;
        NotFound if one is gone. Owners are read first and Slack is asked (if at all) after
        the read: never while a transaction is open."""
        with session_scope(self.engine, read_only=True) as session:
            owners = objective_store.key_result_owners(
                session=session, workspace_id=workspace_id, key_result_ids=key_result_ids
            )
        is_admin = functools.cache(is_admin)  # it asks Slack: once at most
        denied = [
            kr_id
            for kr_id in dict.fromkeys(key_result_ids)  # in the order given
            if not may_check_in(
                user_id=user_id,
                kr_owner_id=owners[kr_id][0],
                objective_owner_id=owners[kr_id][1],
                is_admin=is_admin,
            )
        ]
        if denied:
            raise CheckInDenied(denied)

    def no_change(self, *, workspace_id: str, user_id: str) -> Answered:
        """Answer "No change this week": every KR of mine keeps its value, in one click."""
        with session_scope(self.engine, read_only=True) as session:
            mine = _my_running_krs(session, workspace_id, user_id, self.clock().date())
        return self.record(
            workspace_id=workspace_id,
            user_id=user_id,
            readings=[(kr.id, None, None) for kr, _ in mine],
            source="no_change",
        )

    def _settle(
        self, session: Session, workspace_id: str, user_id: str, period: date, now: datetime
    ) -> list[OutboxMessage]:
        """When all of someone's KRs are in for the period, close their prompt and reminders."""
        mine = _my_running_krs(session, workspace_id, user_id, now.date())
        done = checkin_store.checked_in(
            session=session,
            workspace_id=workspace_id,
            key_result_ids=[kr.id for kr, _ in mine],
            periods=[period],
        )
        if any((kr.id, period) not in done for kr, _ in mine):
            return []
        return outbox.mark_answered(
            session=session,
            workspace_id=workspace_id,
            user_id=user_id,
            period_start=period,
            now=now,
        )

    def prompt_krs(self, *, workspace_id: str, user_id: str) -> list[tuple[KeyResult, Objective]]:
        """The KRs a prompt's "Check in" button opens: mine, in running cycles."""
        with session_scope(self.engine, read_only=True) as session:
            return _my_running_krs(session, workspace_id, user_id, self.clock().date())

    # -- presence ----------------------------------------------------------------------

    def set_away(self, *, workspace_id: str, user_id: str, until: date | None) -> None:
        with session_scope(self.engine) as session:
            set_away(session=session, workspace_id=workspace_id, user_id=user_id, until=until)

    # -- the check-in form ---------------------------------------------------------------

    def checkin_targets(
        self,
        *,
        workspace_id: str,
        user_id: str,
        is_admin: Callable[[], bool],
        key_result_id: int | None = None,
        objective_id: int | None = None,
    ) -> Sequence[tuple[KeyResultRow, ObjectiveRow]]:
        """The KRs a check-in modal should show: one KR, one objective's, or all of mine.

        Only those the user may check in on (may_check_in): all of an objective's for its
        owner or an admin, else the user's own among them; PermissionDenied if none is. Slack
        is asked whether the user is an admin only if ownership does not settle it, and only
        after the read.
        """
        known_workspace(self.engine, workspace_id)
        with session_scope(self.engine, read_only=True) as session:
            if key_result_id is not None:
                kr = objective_store.get_key_result(
                    session=session, workspace_id=workspace_id, key_result_id=key_result_id
                )
                objective: ObjectiveRow = objective_store.get_objective(
                    session=session, workspace_id=workspace_id, objective_id=kr.objective_id
                )
                krs: list[tuple[KeyResultRow, ObjectiveRow]] = [(kr, objective)]
            elif objective_id is not None:
                cycle_id = objective_store.get_objective(
                    session=session, workspace_id=workspace_id, objective_id=objective_id
                ).cycle_id
                tree = load_tree(
                    session=session,
                    workspace_id=workspace_id,
                    today=self.today(),
                    cycle_ids=[cycle_id],
                )
                objective = tree.objective(objective_id)
                krs = [(kr, objective) for kr in tree.krs_of(objective_id)]
            else:  # `/okr checkin`: my own KRs in the open cycles
                open_ids = [
                    c.id
                    for c in cycle_store.list_cycles(session=session, workspace_id=workspace_id)
                    if c.is_open
                ]
                return objective_store.list_user_key_results(
                    session=session,
                    workspace_id=workspace_id,
                    owner_id=user_id,
                    cycle_ids=open_ids,
                )
        is_admin = functools.cache(is_admin)  # it asks Slack: once at most
        allowed = [
            (kr, objective)
            for kr, objective in krs
            if may_check_in(
                user_id=user_id,
                kr_owner_id=kr.owner_id,
                objective_owner_id=objective.owner_id,
                is_admin=is_admin,
            )
        ]
        # An objective without key results: only its owner or an admin gets (an empty) modal.
        if not allowed and (krs or not (objective.owner_id == user_id or is_admin())):
            raise PermissionDenied(CHECKIN_REFUSAL)
        return allowed

    def save_checkin(
        self,
        *,
        workspace_id: str,
        user_id: str,
        form: CheckinForm,
        is_admin: Callable[[], bool],
        source: str = "modal",
    ) -> CheckInResult:
        """Record the check-in form: one row per KR; resubmitting the same form is a no-op.

        A KR the user may not check in on (a forged or stale form) is refused on its field,
        and nothing of the form is recorded.
        """
        errors: dict[str, str] = {}
        readings: list[tuple[int, float | None, int | None]] = []
        # A KR with a working data source has no value field, only confidence.
        kr_ids = list(dict.fromkeys(a.key_result_id for a in form.answers))
        synced = self._synced(workspace_id=workspace_id, key_result_ids=kr_ids)
        for answer in form.answers:
            kr_id = answer.key_result_id
            field = f"value:{kr_id}"
            if not answer.has_value_field or kr_id in synced:
                # The value is the source's: a stale form's field must not overwrite it.
                value: float | None = None
            elif answer.done is not None:
                value = 1.0 if answer.done else 0.0
            elif not (answer.value or "").strip():
                value = None  # left empty: keep the current value
            else:
                try:
                    value = parse_number_input(answer.value or "")
                except NumberInputError as error:
                    errors[field] = error.message
                    continue
            chosen = answer.confidence
            confidence = _confidence(chosen) if chosen is not None else None
            if chosen is not None and confidence is None:
                errors[f"confidence:{kr_id}"] = (
                    f"Pick a confidence from {CONFIDENCE_MIN} to {CONFIDENCE_MAX}."
                )
                continue
            readings.append((kr_id, value, confidence))
        # Checked here, not only in storage, so the error lands on the field that is too long.
        for name, typed in (("note", form.note), ("blocker", form.blocker)):
            length = len(clean_text(typed))
            if length > NOTE_MAX:
                errors[name] = f"Keep the {name} under {NOTE_MAX} characters (it has {length})."
        if errors:
            return CheckInResult(0, 0, errors)
        try:
            answered = self.record(
                workspace_id=workspace_id,
                user_id=user_id,
                readings=readings,
                note=form.note,
                blocker=form.blocker,
                source=source,
                dedupe_key=f"view:{form.form_id}",
                is_admin=is_admin,
            )
        except CheckInDenied as error:
            fields = {a.key_result_id for a in form.answers if a.has_value_field}
            return CheckInResult(
                0,
                0,
                {
                    f"value:{k}" if k in fields else f"confidence:{k}": str(error)
                    for k in error.key_result_ids
                },
            )
        except Refused as error:
            return CheckInResult(0, 0, {"note": str(error)})
        except NotFound:  # deleted while the modal was open, or not this workspace's
            message = "A key result in this form no longer exists. Close it and check in again."
            return CheckInResult(0, 0, {"note": message})
        return CheckInResult(answered.recorded, answered.duplicates, answered=answered)

    def _synced(self, *, workspace_id: str, key_result_ids: list[int]) -> set[int]:
        """The given KRs whose value comes from a working data source."""
        if not key_result_ids:
            return set()
        with session_scope(self.engine, read_only=True) as session:
            sources = source_store.list_sources(
                session=session, workspace_id=workspace_id, key_result_ids=key_result_ids
            )
        return {kr_id for kr_id, source in sources.items() if not source.failing}


def _confidence(raw: object) -> int | None:
    """A selected confidence option's value, if it is one (0..10)."""
    try:
        value = int(str(raw))
    except ValueError:
        return None
    return value if CONFIDENCE_MIN <= value <= CONFIDENCE_MAX else None
