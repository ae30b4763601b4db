"""Weekly check-ins answered: the check-in period a person is in, the KRs they may check in
on, and recording their answers (the modal, "No change this week", a data source's value).

Asking is bot.services.delivery's job; an answer that completes a person's period closes
their prompt and reminders in the outbox.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel import Session

from bot.okr.limits import CONFIDENCE_MAX, CONFIDENCE_MIN, NOTE_MAX
from bot.okr.numbers import NumberInputError, parse_number_input
from bot.okr.schedule import Cadence, current_period, zone
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
from storage import sources as source_store
from storage.db import session_scope
from storage.errors import NotFound, Refused
from storage.models import KeyResult, Objective, OutboxMessage, Workspace
from storage.people import get_people, set_away
from storage.tree import KeyResultRow, ObjectiveRow, load_tree
from storage.workspaces import get_workspace


def cadence_of(workspace: Workspace) -> Cadence:
    return Cadence(
        weekday=workspace.checkin_weekday,
        at=workspace.checkin_time,
        weeks=workspace.checkin_cadence_weeks,
    )


def running_cycle_ids(session: Session, workspace_id: str, today: date) -> list[int]:
    return [
        c.id
        for c in cycle_store.list_cycles(session=session, workspace_id=workspace_id)
        if c.is_open and c.start_date <= today <= c.end_date
    ]


def period_of(session: Session, workspace_id: str, user_id: str, now: datetime) -> date:
    """The check-in period a person is in now, in their own timezone."""
    ws = get_workspace(session=session, workspace_id=workspace_id)
    person = get_people(session=session, workspace_id=workspace_id, user_ids=[user_id])
    tz = zone(person[user_id].tz if user_id in person else None, fallback=ws.default_timezone)
    return current_period(now, cadence_of(ws), tz)


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
    def period_for(self, *, workspace_id: str, user_id: str, now: datetime | None = None) -> date:
        return self.read(
            period_of, workspace_id=workspace_id, user_id=user_id, now=now or self.clock()
        )

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
        # Owners are read first and Slack is asked (if at all) after the read: never while a
        # transaction is open. NotFound if a KR is gone.
        owners = self.read(
            objective_store.key_result_owners,
            workspace_id=workspace_id,
            key_result_ids=[r[0] for r in readings],
        )
        is_admin = functools.cache(is_admin)  # it asks Slack: once at most
        denied = [
            kr_id
            for kr_id in dict.fromkeys(r[0] for r in readings)  # in the order given
            if not may_check_in(
                user_id=user_id,
                kr_owner_id=owners[kr_id][0],
                objective_owner_id=owners[kr_id][1],
                is_admin=is_admin,
            )
        ]
        if denied:
            raise CheckInDenied(denied)
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

    def no_change(self, *, workspace_id: str, user_id: str) -> Answered:
        """Answer "No change this week": every KR of mine keeps its value, in one click."""
        mine = self.prompt_krs(workspace_id=workspace_id, user_id=user_id)
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
        return self.read(
            _my_running_krs, workspace_id=workspace_id, user_id=user_id, today=self.today()
        )

    # -- presence ----------------------------------------------------------------------

    def set_away(self, *, workspace_id: str, user_id: str, until: date | None) -> None:
        self.run(set_away, workspace_id=workspace_id, user_id=user_id, until=until)

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
                    errors[f"value:{kr_id}"] = error.message
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
        sources = self.read(
            source_store.list_sources, workspace_id=workspace_id, key_result_ids=key_result_ids
        )
        return {kr_id for kr_id, source in sources.items() if not source.failing}


def _confidence(raw: object) -> int | None:
    """A selected confidence option's value, if it is one (0..10)."""
    try:
        value = int(str(raw))
    except ValueError:
        return None
    return value if CONFIDENCE_MIN <= value <= CONFIDENCE_MAX else None
