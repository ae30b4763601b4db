"""Objectives: the form (new, edit, options), saving, parents, aligning and archiving.

Each call opens one session (one transaction) and returns plain results; the listeners turn
those into blocks. Permission checks take an `is_admin` callable so that Slack is asked only
when the caller is not the owner (bot.services.permissions).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from sqlmodel import Session

from bot.okr.kinds import KRKind, Level, UnitKind
from bot.okr.units import unit_text
from bot.okr.validate import clean_text
from bot.services import Service
from bot.services.cycles import quarter_of
from bot.services.drafts import KRDraft, ObjectiveDraft, ReadDraft, read_draft, shown
from bot.services.permissions import ensure_may_change
from storage import cycles as cycle_store
from storage import objectives as objective_store
from storage import teams as team_store
from storage.db import session_scope
from storage.errors import NotFound, Refused
from storage.models import Cycle, KeyResult, Objective
from storage.tree import KeyResultRow, load_tree
from storage.workspaces import ensure_workspace

# An identical objective saved this recently is the same form submitted twice.
DOUBLE_SUBMIT_WINDOW = timedelta(minutes=10)


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


class ObjectiveService(Service):
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
            objective = _changeable(session, workspace_id, objective_id, user_id, is_admin)
            tree = load_tree(
                session=session,
                workspace_id=workspace_id,
                today=self.today(),
                cycle_ids=[objective.cycle_id],
            )
            parent = _parent(session, workspace_id, objective)
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
        return self.run(self._form, workspace_id=workspace_id, draft=draft)

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
            _align_from_form(session, workspace_id, objective.id, draft.parent_id)
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
        objective = _changeable(session, workspace_id, objective_id, user_id, is_admin)
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
            _align_from_form(session, workspace_id, objective_id, draft.parent_id)

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
            objective = _changeable(session, workspace_id, objective_id, user_id, is_admin)
            parent = _parent(session, workspace_id, objective)
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
            _changeable(session, workspace_id, objective_id, user_id, is_admin)
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
            objective = _changeable(session, workspace_id, objective_id, user_id, is_admin)
            moved = objective_store.archive_objective(
                session=session,
                workspace_id=workspace_id,
                objective_id=objective_id,
                now=self.clock(),
            )
            return objective, moved


def _kr_draft(kr: KeyResultRow) -> KRDraft:
    kind = KRKind(kr.kind)
    return KRDraft(
        text=kr.title,
        kind=kind.value,
        start="" if kind.is_threshold or kind is KRKind.MILESTONE else shown(kr.start_value),
        target="" if kind is KRKind.MILESTONE else shown(kr.target_value),
        unit=unit_text(UnitKind(kr.unit), kr.unit_label),
        due=kr.due_date,
        key_result_id=kr.id,
        weight="" if kr.weight == 1.0 else shown(kr.weight),
    )


def _align_from_form(
    session: Session, workspace_id: str, objective_id: int, parent_id: int | None
) -> None:
    """A refusal (a loop, an archived parent) is said on the form's parent field."""
    try:
        objective_store.align_objective(
            session=session,
            workspace_id=workspace_id,
            objective_id=objective_id,
            parent_id=parent_id,
        )
    except Refused as error:
        raise _FieldRefused("parent", str(error)) from error


def _parent(session: Session, workspace_id: str, objective: Objective) -> Objective | None:
    if not objective.parent_id:
        return None
    return objective_store.get_objective(
        session=session, workspace_id=workspace_id, objective_id=objective.parent_id
    )


def _changeable(
    session: Session,
    workspace_id: str,
    objective_id: int,
    user_id: str,
    is_admin: Callable[[], bool],
) -> Objective:
    """The objective, if `user_id` may change it: its owner or a workspace admin."""
    objective = objective_store.get_objective(
        session=session, workspace_id=workspace_id, objective_id=objective_id
    )
    ensure_may_change(owner_id=objective.owner_id, user_id=user_id, is_admin=is_admin)
    return objective
