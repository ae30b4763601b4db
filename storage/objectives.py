"""Objectives and their key results: create, edit, align, archive, delete."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from bot.okr.kinds import KRKind, Level, UnitKind
from bot.okr.validate import KRSpec, clean_text, kr_problems, objective_problems
from storage.cycles import get_cycle
from storage.db import get_row
from storage.errors import NotFound, Refused
from storage.models import KeyResult, Objective, Workspace, utcnow
from storage.teams import get_team


def _refuse_if(problems: dict[str, str]) -> None:
    if problems:
        raise Refused(" ".join(problems.values()))


def get_objective(*, session: Session, workspace_id: str, objective_id: int) -> Objective:
    return get_row(session, Objective, objective_id, workspace_id=workspace_id)


def get_key_result(*, session: Session, workspace_id: str, key_result_id: int) -> KeyResult:
    return get_row(session, KeyResult, key_result_id, workspace_id=workspace_id)


def key_result_owners(
    *, session: Session, workspace_id: str, key_result_ids: Sequence[int]
) -> dict[int, tuple[str, str]]:
    """Each KR's owner and its objective's owner, in one statement; NotFound if one is gone."""
    wanted = set(key_result_ids)
    rows = session.exec(
        select(KeyResult.id, KeyResult.owner_id, Objective.owner_id)
        .join(Objective, col(Objective.id) == KeyResult.objective_id)
        .where(KeyResult.workspace_id == workspace_id, col(KeyResult.id).in_(wanted))
    ).all()
    owners = {int(kr_id): (kr_owner, objective_owner) for kr_id, kr_owner, objective_owner in rows}
    missing = wanted - owners.keys()
    if missing:
        raise NotFound(f"key result {min(missing)} not found")
    return owners


def create_objective(
    *,
    session: Session,
    workspace_id: str,
    cycle_id: int,
    owner_id: str,
    title: str,
    description: str = "",
    team_id: int | None = None,
    parent_id: int | None = None,
    weight: float = 1.0,
    key_results: Sequence[KRSpec] = (),
    now: datetime | None = None,
    level: Level | None = None,
) -> Objective:
    """Create an objective and its KRs together: all are stored, or none. `level` None: a
    team objective if it has a team, else a company one (as before levels)."""
    now = now or utcnow()
    title, description = clean_text(title, single_line=True), clean_text(description)
    _refuse_if(objective_problems(title=title, description=description, weight=weight))
    get_cycle(session=session, workspace_id=workspace_id, cycle_id=cycle_id)
    if team_id is not None:
        get_team(session=session, workspace_id=workspace_id, team_id=team_id)
    if parent_id is not None:
        get_objective(session=session, workspace_id=workspace_id, objective_id=parent_id)
    objective = Objective(
        workspace_id=workspace_id,
        cycle_id=cycle_id,
        team_id=team_id,
        level=(Level(level) if level else Level.of(None, team_id=team_id)).value,
        owner_id=owner_id,
        parent_id=parent_id,
        title=title,
        description=description,
        weight=weight,
        created_at=now,
        updated_at=now,
    )
    session.add(objective)
    session.flush()
    for spec in key_results:
        add_key_result(
            session=session,
            workspace_id=workspace_id,
            objective_id=objective.id,
            spec=spec,
            now=now,
        )
    return objective


def find_recent_twin(
    *,
    session: Session,
    workspace_id: str,
    cycle_id: int,
    owner_id: str,
    title: str,
    description: str = "",
    team_id: int | None = None,
    key_results: Sequence[KRSpec] = (),
    since: datetime,
    level: Level | None = None,
) -> Objective | None:
    """An active objective created since `since` just like the one about to be created (same
    owner, cycle, team, text, and key results field for field): the same form submitted
    twice (a double click, a resent submission).

    Locks the workspace row first (PostgreSQL; a SQLite writer holds the database already),
    so two submissions racing each other serialize and the second finds the first's row.
    FOR NO KEY UPDATE leaves inserts that merely reference the workspace unblocked.
    """
    session.exec(
        select(Workspace.team_id)
        .where(Workspace.team_id == workspace_id)
        .with_for_update(key_share=True)
    ).first()
    query = select(Objective).where(
        Objective.workspace_id == workspace_id,
        Objective.cycle_id == cycle_id,
        Objective.owner_id == owner_id,
        Objective.title == clean_text(title, single_line=True),
        Objective.description == clean_text(description),
        col(Objective.archived_at).is_(None),
        col(Objective.created_at) >= since,
    )
    query = query.where(
        col(Objective.team_id).is_(None) if team_id is None else Objective.team_id == team_id,
        Objective.level == (level or Level.of(None, team_id=team_id)),
    )
    candidates = list(session.exec(query.order_by(col(Objective.id))).all())
    if not candidates:
        return None
    # Compared as specs: owner, text, kind, unit, stored start, target, weight, due date
    # (not the current value).
    stored: dict[int, list[KRSpec]] = {c.id: [] for c in candidates}
    for kr in session.exec(
        select(KeyResult)
        .where(col(KeyResult.objective_id).in_(stored), col(KeyResult.archived_at).is_(None))
        .order_by(col(KeyResult.objective_id), col(KeyResult.position))
    ).all():
        stored[kr.objective_id].append(
            KRSpec(
                title=kr.title,
                kind=KRKind(kr.kind),
                target_value=kr.target_value,
                start_value=kr.start_value,
                unit=UnitKind(kr.unit),
                unit_label=kr.unit_label,
                weight=kr.weight,
                due_date=kr.due_date,
                owner_id=kr.owner_id,
            )
        )
    wanted = [
        replace(
            spec,
            owner_id=spec.owner_id or owner_id,
            start_value=spec.stored_start,
            current_value=None,
        )
        for spec in map(_clean_spec, key_results)
    ]
    return next((c for c in candidates if stored[c.id] == wanted), None)


def update_objective(
    *, session: Session, workspace_id: str, objective_id: int, **changes: Any
) -> Objective:
    """Change title, description, weight, committed, level, team, cycle or owner; alignment
    has its own call."""
    allowed = {
        "title",
        "description",
        "weight",
        "committed",
        "level",
        "team_id",
        "cycle_id",
        "owner_id",
    }
    if set(changes) - allowed:
        raise TypeError(f"cannot change {sorted(set(changes) - allowed)} here")
    objective = get_objective(session=session, workspace_id=workspace_id, objective_id=objective_id)
    if "title" in changes:
        changes["title"] = clean_text(changes["title"], single_line=True)
    if "description" in changes:
        changes["description"] = clean_text(changes["description"])
    _refuse_if(
        objective_problems(
            title=changes.get("title", objective.title),
            description=changes.get("description", objective.description),
            weight=changes.get("weight", objective.weight),
        )
    )
    if changes.get("team_id") is not None:
        get_team(session=session, workspace_id=workspace_id, team_id=changes["team_id"])
    if "level" in changes:
        changes["level"] = Level(changes["level"]).value
    elif "team_id" in changes:  # moved into a team, or out of one: the level follows
        if changes["team_id"] is not None:
            changes["level"] = Level.TEAM.value
        elif objective.level == Level.TEAM:
            changes["level"] = Level.COMPANY.value
    if "cycle_id" in changes:
        get_cycle(session=session, workspace_id=workspace_id, cycle_id=changes["cycle_id"])
    for key, value in changes.items():
        setattr(objective, key, value)
    objective.updated_at = utcnow()
    session.add(objective)
    session.flush()
    return objective


def align_objective(
    *, session: Session, workspace_id: str, objective_id: int, parent_id: int | None
) -> Objective:
    """Make `objective_id` ladder up to `parent_id` (None: no parent). Refuses cycles."""
    objective = get_objective(session=session, workspace_id=workspace_id, objective_id=objective_id)
    if parent_id is not None:
        parent = get_objective(session=session, workspace_id=workspace_id, objective_id=parent_id)
        if parent.archived:
            raise Refused("That objective is archived; align to an active one.")
        if objective_id in _ancestor_ids(session=session, objective_id=parent_id):
            raise Refused(
                "That would make a loop: the chosen parent already ladders up to this objective."
            )
    objective.parent_id = parent_id
    objective.updated_at = utcnow()
    session.add(objective)
    session.flush()
    return objective


def _ancestor_ids(*, session: Session, objective_id: int) -> set[int]:
    """The objective and all it ladders up to, in one recursive query."""
    chain = (
        select(Objective.id, Objective.parent_id)
        .where(Objective.id == objective_id)
        .cte("chain", recursive=True)
    )
    step = select(Objective.id, Objective.parent_id).join(
        chain, col(Objective.id) == chain.c.parent_id
    )
    chain = chain.union(step)  # UNION (not ALL) also stops on a pre-existing loop
    return set(session.exec(select(chain.c.id)).all())


def archive_objective(
    *, session: Session, workspace_id: str, objective_id: int, now: datetime | None = None
) -> list[Objective]:
    """Archive an objective. Its children (often other people's) move up to its parent.

    Returns the re-parented children so the caller can tell their owners.
    """
    objective = get_objective(session=session, workspace_id=workspace_id, objective_id=objective_id)
    children = _reparent_children(session=session, objective=objective)
    objective.archived_at = now or utcnow()
    objective.updated_at = objective.archived_at
    session.add(objective)
    session.flush()
    return children


def delete_objective(*, session: Session, workspace_id: str, objective_id: int) -> list[Objective]:
    """Delete an objective with its own KRs and check-ins; children move up, never vanish."""
    objective = get_objective(session=session, workspace_id=workspace_id, objective_id=objective_id)
    children = _reparent_children(session=session, objective=objective)
    session.delete(objective)
    session.flush()
    return children


def list_children(*, session: Session, workspace_id: str, objective_id: int) -> list[Objective]:
    """Objectives aligned directly under this one (archived ones included)."""
    return list(
        session.exec(
            select(Objective)
            .where(Objective.workspace_id == workspace_id, Objective.parent_id == objective_id)
            .order_by(col(Objective.id))
        ).all()
    )


def _reparent_children(*, session: Session, objective: Objective) -> list[Objective]:
    children = list_children(
        session=session, workspace_id=objective.workspace_id, objective_id=objective.id
    )
    for child in children:
        child.parent_id = objective.parent_id
        child.updated_at = utcnow()
        session.add(child)
    session.flush()
    return children


def add_key_result(
    *,
    session: Session,
    workspace_id: str,
    objective_id: int,
    spec: KRSpec,
    now: datetime | None = None,
) -> KeyResult:
    objective = get_objective(session=session, workspace_id=workspace_id, objective_id=objective_id)
    spec = _clean_spec(spec)
    _refuse_if(kr_problems(spec))
    position = session.exec(
        select(sa.func.count()).select_from(KeyResult).where(KeyResult.objective_id == objective_id)
    ).one()
    kr = KeyResult(
        workspace_id=workspace_id,
        objective_id=objective_id,
        owner_id=spec.owner_id or objective.owner_id,
        title=spec.title,
        kind=spec.kind,
        unit=spec.unit,
        unit_label=spec.unit_label,
        start_value=spec.stored_start,
        target_value=spec.target_value,
        current_value=spec.current_value,
        weight=spec.weight,
        due_date=spec.due_date,
        position=position,
        created_at=now or utcnow(),
        updated_at=now or utcnow(),
    )
    session.add(kr)
    session.flush()
    return kr


def update_key_result(
    *, session: Session, workspace_id: str, key_result_id: int, spec: KRSpec
) -> KeyResult:
    """Replace a KR's definition; its current value, confidence and history are kept."""
    kr = get_key_result(session=session, workspace_id=workspace_id, key_result_id=key_result_id)
    spec = _clean_spec(spec)
    _refuse_if(kr_problems(spec))
    kr.title, kr.kind, kr.unit, kr.unit_label = spec.title, spec.kind, spec.unit, spec.unit_label
    kr.start_value, kr.target_value = spec.stored_start, spec.target_value
    kr.weight, kr.due_date = spec.weight, spec.due_date
    if spec.owner_id:
        kr.owner_id = spec.owner_id
    kr.updated_at = utcnow()
    session.add(kr)
    session.flush()
    return kr


def archive_key_result(
    *, session: Session, workspace_id: str, key_result_id: int, now: datetime | None = None
) -> KeyResult:
    kr = get_key_result(session=session, workspace_id=workspace_id, key_result_id=key_result_id)
    kr.archived_at = now or utcnow()
    kr.updated_at = kr.archived_at
    session.add(kr)
    session.flush()
    return kr


def _clean_spec(spec: KRSpec) -> KRSpec:
    label = clean_text(spec.unit_label, single_line=True) or None
    return replace(spec, title=clean_text(spec.title, single_line=True), unit_label=label)


def list_user_key_results(
    *, session: Session, workspace_id: str, owner_id: str, cycle_ids: Sequence[int] | None = None
) -> list[tuple[KeyResult, Objective]]:
    """Active KRs a person owns, with their objectives, in one statement."""
    return list_active_key_results(
        session=session, workspace_id=workspace_id, owner_ids=[owner_id], cycle_ids=cycle_ids
    )


def list_active_key_results(
    *,
    session: Session,
    workspace_id: str,
    cycle_ids: Sequence[int] | None = None,
    owner_ids: Sequence[str] | None = None,
) -> list[tuple[KeyResult, Objective]]:
    """Active KRs (of some owners, in some cycles) with their objectives, in one statement."""
    query = (
        select(KeyResult, Objective)
        .join(Objective, col(Objective.id) == KeyResult.objective_id)
        .where(
            KeyResult.workspace_id == workspace_id,
            col(KeyResult.archived_at).is_(None),
            col(Objective.archived_at).is_(None),
        )
        .order_by(col(Objective.id), col(KeyResult.position), col(KeyResult.id))
    )
    if owner_ids is not None:
        query = query.where(col(KeyResult.owner_id).in_(owner_ids))
    if cycle_ids is not None:
        query = query.where(col(Objective.cycle_id).in_(cycle_ids))
    return [(kr, objective) for kr, objective in session.exec(query).all()]


def search_objectives(
    *,
    session: Session,
    workspace_id: str,
    text: str,
    cycle_ids: Sequence[int] | None = None,
    limit: int = 100,
) -> list[Objective]:
    """Active objectives whose title contains `text` (case-insensitive), for pickers."""
    query = select(Objective).where(
        Objective.workspace_id == workspace_id, col(Objective.archived_at).is_(None)
    )
    if text.strip():
        escaped = text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(col(Objective.title).ilike(f"%{escaped}%", escape="\\"))
    if cycle_ids is not None:
        query = query.where(col(Objective.cycle_id).in_(cycle_ids))
    return list(session.exec(query.order_by(col(Objective.id).desc()).limit(limit)).all())


def objective_depths(
    *, session: Session, workspace_id: str, objective_ids: Sequence[int], max_depth: int = 20
) -> dict[int, int]:
    """How many parents above each objective (0: top level), for labelling picker options.

    One query per level walked up, over the given objectives' ancestors only.
    """
    depth = {objective_id: 0 for objective_id in objective_ids}
    # Each objective's nearest ancestor not yet walked past, per starting objective.
    frontier = {objective_id: objective_id for objective_id in objective_ids}
    for _ in range(max_depth):
        if not frontier:
            break
        rows = session.exec(
            select(col(Objective.id), col(Objective.parent_id)).where(
                Objective.workspace_id == workspace_id,
                col(Objective.id).in_(set(frontier.values())),
            )
        ).all()
        parents = {row_id: parent_id for row_id, parent_id in rows}
        frontier = {
            start: parent
            for start, at in frontier.items()
            if (parent := parents.get(at)) is not None
        }
        for start in frontier:
            depth[start] += 1
    return depth
