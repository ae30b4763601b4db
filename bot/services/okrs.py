"""OKR use-cases: drafting, saving, aligning, archiving, status and check-ins.

Each call opens one session (one transaction) and returns plain results; the listeners turn
those into blocks. Permission checks take an `is_admin` callable so that Slack is asked only
when the caller is not the owner.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from bot.okr.kinds import KRKind, Level, UnitKind
from bot.okr.limits import CONFIDENCE_MAX, CONFIDENCE_MIN, NOTE_MAX, STATEMENT_MAX
from bot.okr.numbers import NumberInputError, format_input, parse_number_input
from bot.okr.units import unit_text
from bot.okr.validate import clean_text
from bot.services.alignment import check_in_period
from bot.services.checkins import (
    CHECKIN_REFUSAL,
    Answered,
    CheckInDenied,
    CheckinService,
    PermissionDenied,
    may_check_in,
)
from bot.services.cycles import quarter_of
from bot.services.drafts import KRDraft, ObjectiveDraft, ReadDraft, read_draft
from storage import cycles as cycle_store
from storage import objectives as objective_store
from storage import sources as source_store
from storage import teams as team_store
from storage.alignment import AlignmentCounts, alignment_counts
from storage.db import session_scope
from storage.errors import NotFound, Refused
from storage.models import Cycle, KeyResult, Objective, Team
from storage.tree import KeyResultRow, LoadedTree, ObjectiveRow, load_shown_tree, load_tree
from storage.workspaces import ensure_workspace, update_workspace, workspace_exists

USER_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
# An identical objective saved this recently is the same form submitted twice.
DOUBLE_SUBMIT_WINDOW = timedelta(minutes=10)
# Objectives a view loads in tree order (the rest is counted, not read): a status message
# has room for 50 blocks, the Home tab for 100.
STATUS_OBJECTIVES_MAX = 50
HOME_OBJECTIVES_MAX = 100


class _FieldRefused(Exception):
    """A refusal that belongs to one field of the form (e.g. a parent that makes a loop)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class FormData:
    draft: ObjectiveDraft
    teams: list[tuple[int, str]]
    cycles: list[tuple[int, str]]
    cycle_ends: dict[int, date] = field(default_factory=dict)  # to warn of a due date past it
    today: date | None = None  # reads "within six months" in a KR sentence


@dataclass(frozen=True)
class ParentChoice:
    """An objective offered as a parent: its team (with the teams above it) and level."""

    objective_id: int
    title: str
    team_path: tuple[str, ...]  # () without a team; ("Engineering", "Platform")
    depth: int  # 0: top level; 1: ladders up to a top-level objective…
    level: Level = Level.COMPANY


@dataclass(frozen=True)
class Saved:
    objective_id: int
    owner_id: str
    created: bool
    duplicate: bool = False  # the form was submitted twice: this is the first one's objective


@dataclass(frozen=True)
class CheckInResult:
    recorded: int
    duplicates: int
    errors: dict[str, str] = field(default_factory=dict)
    answered: Answered | None = None


class OKRService:
    def __init__(self, engine: Engine, *, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.clock = clock

    def today(self) -> date:
        return self.clock().date()

    # -- objective form ----------------------------------------------------------------

    def new_objective_form(
        self, *, workspace_id: str, user_id: str, title: str = "", channel_id: str | None = None
    ) -> FormData:
        with session_scope(self.engine) as session:
            ensure_workspace(session=session, workspace_id=workspace_id)
            cycle = self._current_or_new_cycle(session, workspace_id)
            team = (
                team_store.team_for_channel(
                    session=session, workspace_id=workspace_id, channel_id=channel_id
                )
                if channel_id
                else None
            )
            draft = ObjectiveDraft(
                title=clean_text(title, single_line=True),  # prefilled as it would be stored
                owner_id=user_id,
                team_id=team.id if team else None,
                # In a team's channel, the team's; elsewhere the writer's own: a company
                # objective is chosen on purpose (it must say which part of the vision or
                # mission it serves).
                level=Level.TEAM if team else Level.PERSONAL,
                cycle_id=cycle.id,
                channel_id=channel_id,
            )
            return self._form(session, workspace_id, draft)

    def edit_objective_form(
        self, *, workspace_id: str, user_id: str, objective_id: int, is_admin: Callable[[], bool]
    ) -> FormData:
        with session_scope(self.engine) as session:
            objective = objective_store.get_objective(
                session=session, workspace_id=workspace_id, objective_id=objective_id
            )
            _ensure_may_change(objective, user_id, is_admin)
            tree = load_tree(
                session=session,
                workspace_id=workspace_id,
                today=self.today(),
                cycle_ids=[objective.cycle_id],
            )
            parent = (
                objective_store.get_objective(
                    session=session, workspace_id=workspace_id, objective_id=objective.parent_id
                )
                if objective.parent_id
                else None
            )
            krs = [_kr_draft(kr) for kr in tree.krs_of(objective.id)]
            draft = ObjectiveDraft(
                title=objective.title,
                description=objective.description,
                owner_id=objective.owner_id,
                team_id=objective.team_id,
                level=Level.of(objective.level, team_id=objective.team_id),
                cycle_id=objective.cycle_id,
                parent_id=parent.id if parent else None,
                parent_label=parent.title[:75] if parent else None,
                krs=[*krs, KRDraft()] if len(krs) < 2 else krs,
                objective_id=objective.id,
                committed=objective.committed,
            )
            return self._form(session, workspace_id, draft)

    def form_options(self, *, workspace_id: str, draft: ObjectiveDraft) -> FormData:
        """Teams and cycles to re-render a draft with (after "Add another key result")."""
        with session_scope(self.engine) as session:
            return self._form(session, workspace_id, draft)

    def _form(self, session: Session, workspace_id: str, draft: ObjectiveDraft) -> FormData:
        teams = team_store.list_teams(session=session, workspace_id=workspace_id)
        cycles = [
            c
            for c in cycle_store.list_cycles(session=session, workspace_id=workspace_id)
            if c.is_open or c.id == draft.cycle_id
        ]
        return FormData(
            draft=draft,
            teams=[(t.id, t.name) for t in teams],
            cycles=[(c.id, c.name) for c in cycles],
            cycle_ends={c.id: c.end_date for c in cycles},
            today=self.today(),
        )

    def _current_or_new_cycle(self, session: Session, workspace_id: str) -> Cycle:
        """The running cycle; a workspace without one gets the calendar quarter."""
        cycle = cycle_store.current_cycle(
            session=session, workspace_id=workspace_id, today=self.today()
        )
        if cycle is None:
            name, start, end = quarter_of(self.today())
            cycle = cycle_store.find_cycle(session=session, workspace_id=workspace_id, name=name)
            if cycle is None or not cycle.is_open:
                name = name if cycle is None else f"{name} (2)"
                cycle = cycle_store.create_cycle(
                    session=session,
                    workspace_id=workspace_id,
                    name=name,
                    start_date=start,
                    end_date=end,
                )
        return cycle

    # -- saving ------------------------------------------------------------------------

    def save_objective(
        self,
        *,
        workspace_id: str,
        user_id: str,
        draft: ObjectiveDraft,
        is_admin: Callable[[], bool],
    ) -> tuple[Saved | None, dict[str, str]]:
        """Validate and store; returns (saved, {}) or (None, errors by draft field)."""
        read, errors = read_draft(draft, today=self.today())
        if read is None:
            return None, errors
        try:
            with session_scope(self.engine) as session:
                ensure_workspace(session=session, workspace_id=workspace_id)
                if draft.cycle_id is None:
                    draft = replace(
                        draft, cycle_id=self._current_or_new_cycle(session, workspace_id).id
                    )
                if draft.objective_id is None:
                    saved = self._create(session, workspace_id, draft, read)
                else:
                    saved = self._update(session, workspace_id, user_id, draft, read, is_admin)
        except _FieldRefused as error:
            return None, {error.field: str(error)}
        except Refused as error:
            return None, {"title": str(error)}
        except NotFound:
            return None, {"parent": "That objective no longer exists. Choose another one."}
        return saved, {}

    def _create(
        self, session: Session, workspace_id: str, draft: ObjectiveDraft, read: ReadDraft
    ) -> Saved:
        now = self.clock()
        what: dict[str, Any] = {
            "workspace_id": workspace_id,
            "cycle_id": draft.cycle_id,
            "owner_id": draft.owner_id,
            "title": read.title,
            "description": read.description,
            "team_id": draft.team_id,
            "key_results": [s.spec for s in read.key_results],
        }
        twin = objective_store.find_recent_twin(
            session=session, since=now - DOUBLE_SUBMIT_WINDOW, level=draft.level, **what
        )
        if twin is not None:
            return Saved(twin.id, twin.owner_id, created=True, duplicate=True)
        objective = objective_store.create_objective(
            session=session, now=now, level=draft.level, **what
        )
        objective.committed = draft.committed
        session.add(objective)
        if draft.parent_id is not None:
            # Aligned in the same transaction, with alignment's checks: the parent offered when
            # the modal opened may have been archived since.
            try:
                objective_store.align_objective(
                    session=session,
                    workspace_id=workspace_id,
                    objective_id=objective.id,
                    parent_id=draft.parent_id,
                )
            except Refused as error:
                raise _FieldRefused("parent", str(error)) from error
        return Saved(objective.id, objective.owner_id, created=True)

    def _update(
        self,
        session: Session,
        workspace_id: str,
        user_id: str,
        draft: ObjectiveDraft,
        read: ReadDraft,
        is_admin: Callable[[], bool],
    ) -> Saved:
        objective_id = draft.objective_id
        assert objective_id is not None
        objective = objective_store.get_objective(
            session=session, workspace_id=workspace_id, objective_id=objective_id
        )
        _ensure_may_change(objective, user_id, is_admin)
        objective_store.update_objective(
            session=session,
            workspace_id=workspace_id,
            objective_id=objective_id,
            title=read.title,
            description=read.description,
            team_id=draft.team_id,
            level=draft.level,
            cycle_id=draft.cycle_id,
            owner_id=draft.owner_id,
            committed=draft.committed,
        )
        if draft.parent_id != objective.parent_id:
            try:
                objective_store.align_objective(
                    session=session,
                    workspace_id=workspace_id,
                    objective_id=objective_id,
                    parent_id=draft.parent_id,
                )
            except Refused as error:  # a loop or an archived parent: say so on the parent
                raise _FieldRefused("parent", str(error)) from error

        def own_kr(kr_id: int) -> KeyResult:
            # The modal's metadata names the KRs; only this objective's may be changed.
            kr = objective_store.get_key_result(
                session=session, workspace_id=workspace_id, key_result_id=kr_id
            )
            if kr.objective_id != objective_id:
                raise Refused("This form is out of date: close it and edit the objective again.")
            return kr

        for slot in read.key_results:
            if slot.key_result_id is None:
                objective_store.add_key_result(
                    session=session,
                    workspace_id=workspace_id,
                    objective_id=objective_id,
                    spec=slot.spec,
                    now=self.clock(),
                )
            else:
                kr = own_kr(slot.key_result_id)
                objective_store.update_key_result(
                    session=session,
                    workspace_id=workspace_id,
                    key_result_id=kr.id,
                    spec=replace(slot.spec, owner_id=kr.owner_id),
                )
        for kr_id in read.removed_key_result_ids:
            objective_store.archive_key_result(
                session=session, workspace_id=workspace_id, key_result_id=own_kr(kr_id).id
            )
        return Saved(objective_id, draft.owner_id or objective.owner_id, created=False)

    def parent_choices(
        self, *, workspace_id: str, text: str, exclude_id: int | None = None
    ) -> list[ParentChoice]:
        """Objectives to ladder up to, matching `text`, with their team and level; at most
        100 (Slack's limit), read only when the person opens or types in the picker."""
        with session_scope(self.engine) as session:
            found = [
                o
                for o in objective_store.search_objectives(
                    session=session, workspace_id=workspace_id, text=text, limit=101
                )
                if o.id != exclude_id
            ][:100]
            depths = objective_store.objective_depths(
                session=session,
                workspace_id=workspace_id,
                objective_ids=[o.id for o in found],
            )
            teams = {
                t.id: t for t in team_store.list_teams(session=session, workspace_id=workspace_id)
            }

            def path(team_id: int | None) -> tuple[str, ...]:
                names: list[str] = []
                while team_id is not None and team_id in teams and len(names) < 10:
                    names.insert(0, teams[team_id].name)
                    team_id = teams[team_id].parent_id
                return tuple(names)

            return [
                ParentChoice(
                    o.id,
                    o.title,
                    path(o.team_id),
                    depths.get(o.id, 0),
                    Level.of(o.level, team_id=o.team_id),
                )
                for o in found
            ]

    # -- alignment and archive ---------------------------------------------------------

    def objective_with_parent(
        self, *, workspace_id: str, user_id: str, objective_id: int, is_admin: Callable[[], bool]
    ) -> tuple[Objective, Objective | None, list[Objective]]:
        """The objective, its parent and its children, after a permission check."""
        with session_scope(self.engine) as session:
            objective = objective_store.get_objective(
                session=session, workspace_id=workspace_id, objective_id=objective_id
            )
            _ensure_may_change(objective, user_id, is_admin)
            parent = (
                objective_store.get_objective(
                    session=session, workspace_id=workspace_id, objective_id=objective.parent_id
                )
                if objective.parent_id
                else None
            )
            children = objective_store.list_children(
                session=session, workspace_id=workspace_id, objective_id=objective_id
            )
            return objective, parent, children

    def align(
        self,
        *,
        workspace_id: str,
        user_id: str,
        objective_id: int,
        parent_id: int | None,
        is_admin: Callable[[], bool],
    ) -> Objective:
        with session_scope(self.engine) as session:
            objective = objective_store.get_objective(
                session=session, workspace_id=workspace_id, objective_id=objective_id
            )
            _ensure_may_change(objective, user_id, is_admin)
            return objective_store.align_objective(
                session=session,
                workspace_id=workspace_id,
                objective_id=objective_id,
                parent_id=parent_id,
            )

    def archive(
        self, *, workspace_id: str, user_id: str, objective_id: int, is_admin: Callable[[], bool]
    ) -> tuple[Objective, list[Objective]]:
        with session_scope(self.engine) as session:
            objective = objective_store.get_objective(
                session=session, workspace_id=workspace_id, objective_id=objective_id
            )
            _ensure_may_change(objective, user_id, is_admin)
            moved = objective_store.archive_objective(
                session=session,
                workspace_id=workspace_id,
                objective_id=objective_id,
                now=self.clock(),
            )
            return objective, moved

    # -- reading -----------------------------------------------------------------------

    def objective_tree(
        self, *, workspace_id: str, objective_id: int
    ) -> tuple[LoadedTree, ObjectiveRow]:
        with session_scope(self.engine) as session:
            objective = objective_store.get_objective(
                session=session, workspace_id=workspace_id, objective_id=objective_id
            )
            tree = load_tree(
                session=session,
                workspace_id=workspace_id,
                today=self.today(),
                cycle_ids=[objective.cycle_id],
            )
            return tree, tree.objective(objective_id)

    def status(
        self, *, workspace_id: str, channel_id: str, argument: str
    ) -> tuple[LoadedTree, str] | str:
        """The tree `/okr status [team | @user | all]` asks for, or a message saying why not."""
        argument = " ".join(argument.split())
        self._ensure_workspace(workspace_id)
        with session_scope(self.engine, read_only=True) as session:
            # The start of the tree in order plus the view's totals, not the whole tree; the
            # last closed cycle's grades while the open cycles have nothing in this view.
            def load(**kw: Any) -> LoadedTree:
                tree = open_or_last_closed(
                    session=session,
                    workspace_id=workspace_id,
                    today=self.today(),
                    limit=STATUS_OBJECTIVES_MAX,
                    **kw,
                )
                tree.alignment = self._alignment(session, tree, **kw)
                return tree

            if argument.casefold() in ("all", "company", "everything"):
                return load(), "all objectives"
            if mention := USER_MENTION.match(argument):
                return load(owner_id=mention[1]), f"<@{mention[1]}>"
            if argument:
                team = team_store.find_team(
                    session=session, workspace_id=workspace_id, name=argument
                )
                if team is None:
                    names = [
                        t.name
                        for t in team_store.list_teams(session=session, workspace_id=workspace_id)
                    ]
                    known = f" Teams: {', '.join(names)}." if names else " There are no teams yet."
                    return f"No team called “{argument}”.{known} Try `/okr status all`."
                return load(team_id=team.id), team.name
            team = team_store.team_for_channel(
                session=session, workspace_id=workspace_id, channel_id=channel_id
            )
            if team is not None:
                return load(team_id=team.id), team.name
            # No team here: say what works rather than post the whole company in this channel.
            names = [
                t.name for t in team_store.list_teams(session=session, workspace_id=workspace_id)
            ]
            link = (
                f" or link this channel to a team with `/okr team link <team>` (teams: "
                f"{', '.join(names)})"
                if names
                else " or create a team with `/okr team new <name>` and link this channel to it"
            )
            return (
                "This channel isn't linked to a team yet. Try `/okr status all`, "
                f"`/okr status <team>` or `/okr status @person`,{link}."
            )

    def _alignment(
        self,
        session: Session,
        tree: LoadedTree,
        *,
        team_id: int | None = None,
        owner_id: str | None = None,
        company_only: bool = False,
    ) -> AlignmentCounts | None:
        """The view's one line of alignment health (one statement); None for a closed
        cycle's grades, which the open cycles' health does not describe."""
        if tree.summary is None:  # the graded tree of the last closed cycle
            return None
        teams = list(tree.teams.values())
        return alignment_counts(
            session=session,
            workspace_id=tree.workspace.team_id,
            now=self.clock(),
            period=check_in_period(tree.workspace.checkin_cadence_weeks),
            team_ids=None if team_id is None else team_store.team_subtree_ids(teams, team_id),
            owner_id=owner_id,
            company_only=company_only,
        )

    def _ensure_workspace(self, workspace_id: str) -> None:
        """The workspace row, created on first contact; read-only unless it is missing, so a
        long read that follows does not hold SQLite's write lock."""
        with session_scope(self.engine, read_only=True) as session:
            if workspace_exists(session=session, workspace_id=workspace_id):
                return
        with session_scope(self.engine) as session:
            ensure_workspace(session=session, workspace_id=workspace_id)

    def mine(self, *, workspace_id: str, user_id: str) -> LoadedTree:
        self._ensure_workspace(workspace_id)
        with session_scope(self.engine, read_only=True) as session:
            return load_tree(
                session=session, workspace_id=workspace_id, today=self.today(), owner_id=user_id
            )

    def home(
        self, *, workspace_id: str, user_id: str
    ) -> tuple[LoadedTree, str | None, LoadedTree | None, LoadedTree]:
        """(mine, my team's name, my team's tree, company-level tree) in one session."""
        self._ensure_workspace(workspace_id)
        with session_scope(self.engine, read_only=True) as session:
            today = self.today()
            mine = load_tree(
                session=session, workspace_id=workspace_id, today=today, owner_id=user_id
            )
            team = _my_team(mine)
            team_tree = (
                load_shown_tree(
                    session=session,
                    workspace_id=workspace_id,
                    today=today,
                    limit=HOME_OBJECTIVES_MAX,
                    team_id=team.id,
                )
                if team
                else None
            )
            company = load_shown_tree(
                session=session,
                workspace_id=workspace_id,
                today=today,
                limit=HOME_OBJECTIVES_MAX,
                company_only=True,
            )
            company.alignment = self._alignment(session, company)  # the whole company's
            return mine, team.name if team else None, team_tree, company

    # -- check-ins ---------------------------------------------------------------------

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
        self._ensure_workspace(workspace_id)
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
                tree = self._tree_of(session, workspace_id, objective_id)
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

    def _tree_of(self, session: Session, workspace_id: str, objective_id: int) -> LoadedTree:
        objective = objective_store.get_objective(
            session=session, workspace_id=workspace_id, objective_id=objective_id
        )
        return load_tree(
            session=session,
            workspace_id=workspace_id,
            today=self.today(),
            cycle_ids=[objective.cycle_id],
        )

    def save_checkin(
        self,
        *,
        workspace_id: str,
        user_id: str,
        view: dict,
        is_admin: Callable[[], bool],
        source: str = "modal",
    ) -> CheckInResult:
        """Record the check-in modal: one row per KR; resubmitting the same view is a no-op.

        A KR the user may not check in on (a forged or stale form) is refused on its field,
        and nothing of the form is recorded.
        """
        values = {
            bid: next(iter(actions.values())) for bid, actions in view["state"]["values"].items()
        }
        note = (values.get("note") or {}).get("value") or ""
        blocker = (values.get("blocker") or {}).get("value") or ""
        errors: dict[str, str] = {}
        readings: list[tuple[int, float | None, int | None]] = []
        # A KR with a working data source has no value field, only confidence: its KRs are
        # those of either field, in the form's order.
        kr_ids = list(
            dict.fromkeys(
                int(bid.split(":", 1)[1])
                for bid in values
                if bid.startswith(("value:", "confidence:")) and bid.split(":", 1)[1].isdigit()
            )
        )
        synced = self._synced(workspace_id=workspace_id, key_result_ids=kr_ids)
        for kr_id in kr_ids:
            bid = f"value:{kr_id}"
            state = values.get(bid)
            if state is None or kr_id in synced:
                # The value is the source's: a stale form's field must not overwrite it.
                value: float | None = None
            elif state.get("type") == "checkboxes":
                value = 1.0 if state.get("selected_options") else 0.0
            elif not (state.get("value") or "").strip():
                value = None  # left empty: keep the current value
            else:
                try:
                    value = parse_number_input(state.get("value") or "")
                except NumberInputError as error:
                    errors[bid] = error.message
                    continue
            chosen = (values.get(f"confidence:{kr_id}") or {}).get("selected_option")
            confidence = _confidence(chosen["value"]) if chosen else None
            if chosen and confidence is None:
                errors[f"confidence:{kr_id}"] = (
                    f"Pick a confidence from {CONFIDENCE_MIN} to {CONFIDENCE_MAX}."
                )
                continue
            readings.append((kr_id, value, confidence))
        # Checked here, not only in storage, so the error lands on the field that is too long.
        for name, typed in (("note", note), ("blocker", blocker)):
            length = len(clean_text(typed))
            if length > NOTE_MAX:
                errors[name] = f"Keep the {name} under {NOTE_MAX} characters (it has {length})."
        if errors:
            return CheckInResult(0, 0, errors)
        try:
            answered = CheckinService(self.engine, clock=self.clock).record(
                workspace_id=workspace_id,
                user_id=user_id,
                readings=readings,
                note=note,
                blocker=blocker,
                source=source,
                dedupe_key=f"view:{view['id']}",
                is_admin=is_admin,
            )
        except CheckInDenied as error:
            return CheckInResult(
                0,
                0,
                {
                    f"value:{k}" if f"value:{k}" in values else f"confidence:{k}": str(error)
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

    # -- workspace, teams, cycles ------------------------------------------------------

    def set_statement(self, *, workspace_id: str, which: str, text: str) -> None:
        text = clean_text(text, single_line=True)
        if len(text) > STATEMENT_MAX:
            raise Refused(
                f"Keep the {which} under {STATEMENT_MAX} characters (it has {len(text)})."
            )
        with session_scope(self.engine) as session:
            ensure_workspace(session=session, workspace_id=workspace_id)
            update_workspace(session=session, workspace_id=workspace_id, **{which: text})

    def statements(self, *, workspace_id: str) -> tuple[str, str]:
        with session_scope(self.engine) as session:
            ws = ensure_workspace(session=session, workspace_id=workspace_id)
            return ws.vision, ws.mission


def _confidence(raw: object) -> int | None:
    """A selected confidence option's value, if it is one (0..10)."""
    try:
        value = int(str(raw))
    except ValueError:
        return None
    return value if CONFIDENCE_MIN <= value <= CONFIDENCE_MAX else None


def _ensure_may_change(objective: Objective, user_id: str, is_admin: Callable[[], bool]) -> None:
    if objective.owner_id == user_id or is_admin():
        return
    raise PermissionDenied(
        f"Only <@{objective.owner_id}> (the owner) or a workspace admin can change this objective."
    )


def _my_team(mine: LoadedTree) -> Team | None:
    """The team of most of my objectives: Ladder has no membership list of its own."""
    counts: dict[int, int] = {}
    for objective in mine.objectives:
        if objective.team_id is not None:
            counts[objective.team_id] = counts.get(objective.team_id, 0) + 1
    if not counts:
        return None
    return mine.teams.get(max(counts, key=lambda t: counts[t]))


def _kr_draft(kr: KeyResultRow) -> KRDraft:
    def shown(value: float | None) -> str:
        return "" if value is None else format_input(value)

    kind = KRKind(kr.kind)
    return KRDraft(
        text=kr.title,
        kind=kind.value,
        start="" if kind.is_threshold or kind is KRKind.MILESTONE else shown(kr.start_value),
        target="" if kind is KRKind.MILESTONE else shown(kr.target_value),
        unit=unit_text(UnitKind(kr.unit), kr.unit_label),
        due=kr.due_date,
        key_result_id=kr.id,
        weight="" if kr.weight == 1.0 else format_input(kr.weight),
    )


def open_or_last_closed(
    *, session: Session, workspace_id: str, today: date, limit: int, **scope: Any
) -> LoadedTree:
    """The start of the open cycles' tree for a scope (`load_shown_tree`); while that view has
    no objectives (a cycle was just closed, the new one is empty), the last closed cycle's
    graded tree in that scope."""
    tree = load_shown_tree(
        session=session, workspace_id=workspace_id, today=today, limit=limit, **scope
    )
    closed = [c for c in tree.cycles.values() if not c.is_open]
    if tree.total_objectives or not closed:
        return tree
    last = max(closed, key=lambda c: (c.closed_at, c.id))
    graded = load_tree(
        session=session, workspace_id=workspace_id, today=today, cycle_ids=[last.id], **scope
    )
    return graded if graded.objectives else tree
