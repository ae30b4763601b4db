"""The stored roll-up: each objective's place in the tree (walk_key), progress and status days.

Kept in the transaction that changes what they depend on. Rather than asking every write path
to remember, a session hook notes what a flush changed (a KR of an objective, an objective's
parent, cycle, weight or archiving, a cycle's dates, closing or reopening, a workspace's
status rules) and, before the transaction commits, recomputes those objectives (and their
ancestors when the workspace counts aligned children) with the pure core (bot/okr/rollup.py). Bulk inserts that bypass the
ORM (transfer import, benchmarks) call `mark_workspace` or `rebuild_workspace`.

Also kept here: each objective's effective team (rollup_team_id: a personal objective
without a team takes its parent's, so a team's views show it) and its share of
alignment_count (the alignment line's counts, storage/alignment.py).

Nothing stored here depends on today: status is kept as the days it switches (see
bot/okr/rollup.py), stale KRs as the day they turn stale, and the reader compares them with
its own today.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from bot.okr.alignment import KRPulse, effective_teams, has_why, stale_day
from bot.okr.coach import MAX_FOCUSED_KRS
from bot.okr.kinds import Level
from bot.okr.pace import StatusRules, pace_start, stale_anchor, stale_from
from bot.okr.progress import clamp01, raw_progress
from bot.okr.rollup import ObjectiveRollup, StatusDays, kr_status_days, objective_rollup
from bot.okr.tree import Window
from storage.db import check_commit_time, dialect_module
from storage.models import (
    AlignmentCount,
    Cycle,
    KeyResult,
    Objective,
    ObjectiveStatusCount,
    Workspace,
    table_of,
)

KEY_WIDTH = 10  # digits per level: every 32-bit id fits
# Deeper chains share their ancestor's key (then order by id): the key stays inside
# PostgreSQL's index entry limit (~2.7 kB) however deep alignment goes.
KEY_LEVELS = 200

_PENDING = "ladder_rollup_pending"
_OBJECTIVE_FIELDS = ("parent_id", "cycle_id", "weight", "archived_at", "team_id")
# These change whether an objective (and what hangs below it) ladders up to a company one,
# and which team's views show it (a personal objective takes its parent's team).
_LADDER_FIELDS = ("parent_id", "archived_at", "cycle_id", "level", "team_id")
# Only its own share of the alignment counts (a company objective's why).
_ALIGN_FIELDS = ("description",)
# A change to one of these recomputes every objective of the workspace (rebuild_workspace):
# seconds at 50,000 objectives, so the settings form saves it after its answer.
ROLLUP_SETTINGS = (
    "at_risk_points",
    "off_track_points",
    "rollup_include_children",
    "checkin_cadence_weeks",  # stale after two check-in periods
)

OBJ = table_of(Objective)
KR = table_of(KeyResult)
CYC = table_of(Cycle)
WS = table_of(Workspace)
COUNTS = table_of(ObjectiveStatusCount)
ALIGN = table_of(AlignmentCount)

_KR_COLUMNS = (
    KR.c.id,
    KR.c.objective_id,
    KR.c.kind,
    KR.c.start_value,
    KR.c.target_value,
    KR.c.current_value,
    KR.c.weight,
    KR.c.confidence,
    KR.c.due_date,
    KR.c.created_at,  # pace counts from it (bot/okr/pace.py)
    KR.c.last_checkin_at,  # None: not started; stale two periods after it (or creation)
)


def child_key(parent_key: str | None, objective_id: int) -> str:
    own = f"{objective_id:0{KEY_WIDTH}d}"
    if parent_key is None:
        return own
    if len(parent_key) >= KEY_WIDTH * KEY_LEVELS:
        return parent_key
    return parent_key + own


# -- what changed ------------------------------------------------------------------------


@dataclass
class _Pending:
    objectives: set[int] = field(default_factory=set)  # recompute these (and ancestors)
    rekey: set[int] = field(default_factory=set)  # their parent changed: new walk_key below
    cycles: set[int] = field(default_factory=set)  # their dates changed
    removed_keys: set[str] = field(default_factory=set)  # deleted objectives' walk_keys
    closed_cycles: set[int] = field(default_factory=set)  # closed or reopened: rekey
    uncounted: list[str] = field(default_factory=list)  # buckets of deleted objectives
    aligned: set[int] = field(default_factory=set)  # their alignment share may have changed
    unaligned: list[str] = field(default_factory=list)  # deleted objectives' shares (JSON)
    everything: bool = False


def _pending(session: Session, workspace_id: str) -> _Pending:
    return session.info.setdefault(_PENDING, {}).setdefault(workspace_id, _Pending())


def mark_workspace(*, session: Session, workspace_id: str) -> None:
    """Recompute the whole workspace before this transaction commits (after bulk inserts)."""
    _pending(session, workspace_id).everything = True


def _history(obj: Any, name: str) -> tuple[list[Any], bool]:
    history = sa.inspect(obj).attrs[name].history
    return [*history.added, *history.deleted], history.has_changes()


@event.listens_for(Session, "after_flush")
def _collect(session: Session, _context: Any) -> None:
    for obj in session.new:
        if isinstance(obj, KeyResult):
            _pending(session, obj.workspace_id).objectives.add(obj.objective_id)
        elif isinstance(obj, Objective):
            pending = _pending(session, obj.workspace_id)
            pending.objectives.add(obj.id)
            pending.rekey.add(obj.id)
            if obj.parent_id is not None:
                pending.objectives.add(obj.parent_id)
    for obj in session.dirty:
        if isinstance(obj, KeyResult):
            old_new, _ = _history(obj, "objective_id")
            pending = _pending(session, obj.workspace_id)
            pending.objectives.update(i for i in [obj.objective_id, *old_new] if i is not None)
        elif isinstance(obj, Objective):
            changed = {
                name
                for name in {*_OBJECTIVE_FIELDS, *_LADDER_FIELDS, *_ALIGN_FIELDS}
                if _history(obj, name)[1]
            }
            if not changed:
                continue
            pending = _pending(session, obj.workspace_id)
            pending.aligned.add(obj.id)
            if changed & set(_LADDER_FIELDS):
                pending.rekey.add(obj.id)
            if not changed & set(_OBJECTIVE_FIELDS):
                continue  # the level, the why: no roll-up value depends on them
            pending.objectives.add(obj.id)
            parents, _ = _history(obj, "parent_id")
            pending.objectives.update(p for p in [obj.parent_id, *parents] if p is not None)
        elif isinstance(obj, Cycle):
            if _history(obj, "start_date")[1] or _history(obj, "end_date")[1]:
                _pending(session, obj.workspace_id).cycles.add(obj.id)
            if _history(obj, "closed_at")[1]:
                _pending(session, obj.workspace_id).closed_cycles.add(obj.id)
        elif isinstance(obj, Workspace) and any(_history(obj, name)[1] for name in ROLLUP_SETTINGS):
            _pending(session, obj.team_id).everything = True
    for obj in session.deleted:
        if isinstance(obj, KeyResult):
            _pending(session, obj.workspace_id).objectives.add(obj.objective_id)
        elif isinstance(obj, Objective):
            pending = _pending(session, obj.workspace_id)
            if obj.parent_id is not None:
                pending.objectives.add(obj.parent_id)
            if obj.walk_key:
                pending.removed_keys.add(obj.walk_key)


@event.listens_for(Session, "before_flush")
def _note_deleted_buckets(session: Session, _context: Any, _instances: Any) -> None:
    """A deleted objective leaves its bucket: read which one before the row is gone (the
    session's copy of rollup_bucket may predate the last recompute)."""
    deleted = [o for o in session.deleted if isinstance(o, Objective) and o.id is not None]
    if not deleted:
        return
    rows = session.connection().execute(
        sa.select(OBJ.c.workspace_id, OBJ.c.rollup_bucket, OBJ.c.rollup_alignment).where(
            OBJ.c.id.in_([o.id for o in deleted]),
            sa.or_(OBJ.c.rollup_bucket.is_not(None), OBJ.c.rollup_alignment.is_not(None)),
        )
    )
    for workspace_id, bucket, share in rows:
        pending = _pending(session, workspace_id)
        if bucket is not None:
            pending.uncounted.append(bucket)
        if share is not None:
            pending.unaligned.append(share)


@event.listens_for(Session, "before_commit")
def _apply(session: Session) -> None:
    # A recompute writes with Core statements (no ORM objects become dirty), so one round is
    # normally enough; the bound only guards against a hook that keeps finding work.
    for _ in range(5):
        session.flush()
        pending: dict[str, _Pending] | None = session.info.pop(_PENDING, None)
        if not pending:
            break
        for workspace_id, work in pending.items():
            refresh(session=session, workspace_id=workspace_id, work=work)
    # The last moment before COMMIT: work under a time limit (a form's answer) that the
    # roll-up made late is rolled back, not committed after its answer said it failed.
    check_commit_time()


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)


# -- recomputing -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Settings:
    rules: StatusRules
    include_children: bool
    windows: dict[int, Window]
    period: timedelta  # the check-in period: a KR is stale after two (bot/okr/alignment.py)


def _settings(connection: Session | sa.Connection, workspace_id: str) -> _Settings | None:
    row = connection.execute(
        sa.select(
            WS.c.at_risk_points,
            WS.c.off_track_points,
            WS.c.rollup_include_children,
            WS.c.checkin_cadence_weeks,
        ).where(WS.c.team_id == workspace_id)
    ).one_or_none()
    if row is None:
        return None
    cycles = connection.execute(
        sa.select(CYC.c.id, CYC.c.start_date, CYC.c.end_date).where(
            CYC.c.workspace_id == workspace_id
        )
    ).all()
    return _Settings(
        rules=StatusRules.for_workspace(
            at_risk_points=row[0], off_track_points=row[1], cadence_weeks=row[3]
        ),
        include_children=bool(row[2]),
        windows={c.id: Window(c.start_date, c.end_date) for c in cycles},
        period=timedelta(weeks=row[3]),
    )


def refresh(*, session: Session, workspace_id: str, work: _Pending) -> None:
    settings = _settings(session, workspace_id)
    if settings is None:  # the workspace itself went away in this transaction
        return
    if work.everything:
        rebuild_workspace(connection=session, workspace_id=workspace_id)
        return
    ids = set(work.objectives)
    rekey = set(work.rekey)
    if work.cycles:
        ids.update(
            session.execute(
                sa.select(OBJ.c.id).where(
                    OBJ.c.workspace_id == workspace_id, OBJ.c.cycle_id.in_(sorted(work.cycles))
                )
            ).scalars()
        )
    if work.closed_cycles:
        closing = session.execute(
            sa.select(OBJ.c.id, OBJ.c.parent_id).where(
                OBJ.c.workspace_id == workspace_id,
                OBJ.c.cycle_id.in_(sorted(work.closed_cycles)),
            )
        ).all()
        rekey.update(r.id for r in closing)
        if settings.include_children:
            # A child in a closed cycle no longer counts in its parent (nor in the parent's
            # ancestors, added below); reopening counts it again.
            ids.update(r.parent_id for r in closing if r.parent_id is not None)
    for key in work.removed_keys:
        # Deleted objectives' descendants (their parents were moved up first, or set null).
        rekey.update(
            session.execute(
                sa.select(OBJ.c.id).where(
                    OBJ.c.workspace_id == workspace_id,
                    OBJ.c.walk_key.startswith(key, autoescape=True),
                )
            ).scalars()
        )
    touched = set(work.aligned)
    if rekey:
        subtree, moved = _rekey(session, workspace_id, rekey)
        touched |= subtree
        ids |= moved  # a new effective team: a new status bucket
    if settings.include_children and ids:
        ids |= _ancestor_ids(session, workspace_id, ids)
    deltas: dict[str, int] = defaultdict(int)
    for bucket in work.uncounted:
        deltas[bucket] -= 1
    read: dict[int, list[Any]] = {}  # KRs by objective, read once for both steps
    buckets = _recompute(session, workspace_id, ids, settings, deltas, read) if ids else {}
    _count(session, COUNTS, workspace_id, deltas, buckets)
    _align(session, workspace_id, touched | ids, settings, work.unaligned, read)


def _chain(workspace_id: str, ids: set[int], *, down: bool) -> sa.CTE:
    """These objectives with (id, parent_id) and everything above them, or below them."""
    start = (
        sa.select(OBJ.c.id, OBJ.c.parent_id)
        .where(OBJ.c.workspace_id == workspace_id, OBJ.c.id.in_(sorted(ids)))
        .cte("down" if down else "up", recursive=True)
    )
    step = OBJ.alias("child" if down else "parent")
    link = step.c.parent_id == start.c.id if down else step.c.id == start.c.parent_id
    return start.union(sa.select(step.c.id, step.c.parent_id).join(start, link))


def _ancestor_ids(session: Session, workspace_id: str, ids: set[int]) -> set[int]:
    chain = _chain(workspace_id, ids, down=False)
    return set(session.execute(sa.select(chain.c.id)).scalars())


def _rekey(session: Session, workspace_id: str, roots: set[int]) -> tuple[set[int], set[int]]:
    """New walk_keys, ladder flags and effective teams for these objectives and everything
    below them. Returns their ids, and those whose effective team changed."""
    subtree = _chain(workspace_id, roots, down=True)
    rows = session.execute(
        sa.select(
            subtree.c.id,
            subtree.c.parent_id,
            OBJ.c.level,
            OBJ.c.team_id,
            OBJ.c.rollup_team_id,
            OBJ.c.archived_at,
            CYC.c.closed_at,
        )
        .join(OBJ, OBJ.c.id == subtree.c.id)
        .join(CYC, CYC.c.id == OBJ.c.cycle_id)
    ).all()
    parents = sorted({r.parent_id for r in rows} - {None})
    keys: dict[int, str | None] = {}
    laddered: dict[int, bool] = {}
    known_teams: dict[int, int | None] = {}
    cut: set[int] = set()
    for parent in session.execute(
        sa.select(
            OBJ.c.id,
            OBJ.c.walk_key,
            OBJ.c.rollup_laddered,
            OBJ.c.rollup_team_id,
            OBJ.c.archived_at,
            CYC.c.closed_at,
        )
        .join(CYC, CYC.c.id == OBJ.c.cycle_id)
        .where(OBJ.c.workspace_id == workspace_id, OBJ.c.id.in_(parents))
    ):
        keys[parent.id] = parent.walk_key
        known_teams[parent.id] = parent.rollup_team_id
        if parent.archived_at is not None or parent.closed_at is not None:
            cut.add(parent.id)
        else:
            laddered[parent.id] = bool(parent.rollup_laddered)
    keyed = _keys_top_down(rows, known=keys, cut=cut)
    ladder = _ladder_top_down(
        rows,
        known=laddered,
        unlinked={r.id for r in rows if r.archived_at is not None or r.closed_at is not None},
    )
    teams = _teams(rows, known=known_teams)
    _write(
        session,
        [
            {
                "b_id": i,
                "v_walk_key": k,
                "v_rollup_laddered": ladder[i][0],
                "v_rollup_unparented": ladder[i][1],
                "v_rollup_team_id": teams[i],
            }
            for i, k in keyed.items()
        ],
    )
    return {r.id for r in rows}, {r.id for r in rows if teams[r.id] != r.rollup_team_id}


def _teams(rows: Iterable[Any], *, known: dict[int, int | None]) -> dict[int, int | None]:
    """Effective teams (bot.okr.alignment.effective_team) of rows with id, parent_id, level
    and team_id; `known`: those of parents outside the rows."""
    return effective_teams(
        [(r.id, r.parent_id, Level.of(r.level, team_id=r.team_id), r.team_id) for r in rows],
        known=known,
    )


def _ladder_top_down(
    rows: Iterable[Any], *, known: dict[int, bool], unlinked: set[int]
) -> dict[int, tuple[bool, bool]]:
    """(laddered, unparented) for rows with id, parent_id and level. Linked: in an open cycle
    and not archived (not in `unlinked`), a link of the alignment chains bot/okr/alignment.py
    walks. Laddered: linked, and company level or under a laddered parent. Unparented: no
    linked parent (an orphan when team or personal level). `known`: laddered flags of the
    linked parents outside the rows (a parent missing there is not linked)."""
    info = {r.id: (r.parent_id, r.level == Level.COMPANY.value, r.id not in unlinked) for r in rows}
    children: dict[int, list[int]] = defaultdict(list)
    for oid, (parent, _company, _linked) in info.items():
        if parent in info:
            children[parent].append(oid)
    out: dict[int, tuple[bool, bool]] = {}
    stack: list[tuple[int, bool, bool]] = []  # (id, parent linked, parent laddered)
    for oid, (parent, _company, _linked) in info.items():
        if parent not in info:
            up = None if parent is None else known.get(parent)
            stack.append((oid, up is not None, bool(up)))
    while stack:
        oid, parent_linked, parent_laddered = stack.pop()
        _parent, company, linked = info[oid]
        laddered = linked and (company or parent_laddered)
        out[oid] = (laddered, not parent_linked)
        stack.extend((c, linked, laddered) for c in children.get(oid, ()))
    return out


def _keys_top_down(
    rows: Iterable[Any], *, known: dict[int, str | None], cut: set[int]
) -> dict[int, str]:
    """Keys for rows with id and parent_id; `known` holds keys of parents outside the rows (a
    parent in neither: none). A parent in `cut` (archived, or in a closed cycle) is left out
    of every status view, where its children are roots (ordered by their own id), so their
    keys start afresh."""
    children: dict[int | None, list[int]] = defaultdict(list)
    ids = set()
    for row in rows:
        ids.add(row.id)
        children[None if row.parent_id in cut else row.parent_id].append(row.id)
    out: dict[int, str] = {}
    stack = [
        (oid, known.get(parent) if parent is not None else None)
        for parent, kids in children.items()
        if parent not in ids
        for oid in kids
    ]
    while stack:
        oid, parent_key = stack.pop()
        out[oid] = key = child_key(parent_key, oid)
        stack.extend((c, key) for c in children.get(oid, ()))
    return out


def _write(connection: Session | sa.Connection, rows: list[dict[str, Any]]) -> None:
    """Update objectives by id ("b_id") with the columns named by the rows' "v_" keys."""
    if not rows:
        return
    names = [key.removeprefix("v_") for key in rows[0] if key.startswith("v_")]
    statement = (
        sa.update(OBJ)
        .where(OBJ.c.id == sa.bindparam("b_id"))
        .values({name: sa.bindparam(f"v_{name}") for name in names})
    )
    for start in range(0, len(rows), 5_000):
        connection.execute(statement, rows[start : start + 5_000])


def _kr_part(
    kr: Any, window: Window, rules: StatusRules, memo: dict
) -> tuple[float, float, StatusDays]:
    """(clamped progress, weight, status days) of one KR, as objective_rollup takes it; KRs
    alike in every input share the progress and days."""
    key = (
        kr.kind,
        kr.start_value,
        kr.target_value,
        kr.current_value,
        kr.confidence,
        kr.due_date,
        pace_start(cycle_start=window.start, created=kr.created_at),
        stale_from(
            stale_anchor(
                last_check_in=kr.last_checkin_at, created=kr.created_at, cycle_start=window.start
            ),
            rules=rules,
        ),
        kr.last_checkin_at is None,  # not started
        window,
    )
    found = memo.get(key)
    if found is None:
        raw = raw_progress(kr)
        found = memo[key] = (
            0.0 if raw is None else clamp01(raw),
            kr_status_days(kr, window=window, rules=rules),
        )
    return found[0], kr.weight, found[1]


def _rollup_values(oid: int, rolled: ObjectiveRollup) -> dict[str, Any]:
    return {
        "b_id": oid,
        "v_rollup_progress": rolled.progress,
        "v_rollup_rated": rolled.days.rated,
        "v_rollup_at_risk_on": rolled.days.at_risk_on,
        "v_rollup_off_track_on": rolled.days.off_track_on,
        "v_rollup_stale_on": rolled.days.stale_on,
    }


def _locked(
    session: Session, workspace_id: str, ids: list[int], *columns: sa.Column[Any]
) -> Sequence[sa.Row[Any]]:
    """These objectives' id and `columns`, in id order, locked for this transaction.

    Locked: two check-ins on one objective (or, counting children, under siblings) both
    rewrite it and move its count between buckets. On PostgreSQL the second waits here for
    the first to commit, then reads its values (READ COMMITTED) instead of overwriting them
    with stale ones. SQLite has one writer at a time and ignores FOR UPDATE."""
    return session.execute(
        sa.select(OBJ.c.id, *columns)
        .where(OBJ.c.workspace_id == workspace_id, OBJ.c.id.in_(ids))
        .order_by(OBJ.c.id)
        # FOR NO KEY UPDATE on PostgreSQL: it does not wait for the KEY SHARE locks that
        # inserting a row referencing the objective takes (a KR, a reflection), so two
        # check-ins under one objective queue here instead of deadlocking on each other's.
        .with_for_update(key_share=True)
    ).all()


def _krs_of(
    connection: Session | sa.Connection, *where: sa.ColumnElement[bool]
) -> dict[int, list[Any]]:
    """Unarchived KRs (_KR_COLUMNS) by objective."""
    krs_of: dict[int, list[Any]] = defaultdict(list)
    for kr in connection.execute(
        sa.select(*_KR_COLUMNS)
        .where(*where, KR.c.archived_at.is_(None))
        .order_by(KR.c.objective_id, KR.c.position, KR.c.id)  # the core's order: same float sums
    ):
        krs_of[kr.objective_id].append(kr)
    return krs_of


def _krs_for(
    session: Session, ids: Sequence[int], read: dict[int, list[Any]]
) -> dict[int, list[Any]]:
    """`read`, with the unarchived KRs of those of these objectives it lacks added: a refresh
    reads each objective's KRs once (the roll-up writes objectives, never KRs)."""
    if unread := [i for i in ids if i not in read]:
        found = _krs_of(session, KR.c.objective_id.in_(unread))
        read.update({i: found.get(i, []) for i in unread})
    return read


def stored_days(row: Any) -> StatusDays:
    """An objective's stored status days (its rollup_* columns)."""
    return StatusDays(
        rated=bool(row.rollup_rated),
        at_risk_on=row.rollup_at_risk_on,
        off_track_on=row.rollup_off_track_on,
        stale_on=row.rollup_stale_on,
    )


def _recompute(
    session: Session,
    workspace_id: str,
    ids: set[int],
    settings: _Settings,
    deltas: dict[str, int],
    read: dict[int, list[Any]],
) -> dict[str, dict[str, Any]]:
    """Recompute these objectives; adds their moves between buckets to `deltas` and returns
    the columns of the buckets they moved into. `read`: KRs read so far (see _krs_for)."""
    wanted = sorted(ids)
    objectives = _locked(
        session,
        workspace_id,
        wanted,
        OBJ.c.parent_id,
        OBJ.c.cycle_id,
        OBJ.c.rollup_team_id,
        OBJ.c.weight,
        OBJ.c.archived_at,
        OBJ.c.rollup_bucket,
    )
    krs_of = _krs_for(session, wanted, read)
    children_of: dict[int, list[Any]] = defaultdict(list)
    if settings.include_children:
        for child in session.execute(
            sa.select(
                OBJ.c.id,
                OBJ.c.parent_id,
                OBJ.c.weight,
                OBJ.c.rollup_progress,
                OBJ.c.rollup_rated,
                OBJ.c.rollup_at_risk_on,
                OBJ.c.rollup_off_track_on,
                OBJ.c.rollup_stale_on,
            )
            .join(CYC, CYC.c.id == OBJ.c.cycle_id)
            .where(
                OBJ.c.parent_id.in_(wanted),
                OBJ.c.archived_at.is_(None),
                # An aligned child counts in its parent's roll-up (when the workspace counts
                # children) unarchived and in an open cycle, as in the core's tree of the open
                # cycles (`load_tree`'s default), the only one stored values are read for. A
                # cycle's close or reopen recomputes the parents of its objectives.
                CYC.c.closed_at.is_(None),
            )
            .order_by(OBJ.c.id)
        ):
            children_of[child.parent_id].append(child)
    by_id = {o.id: o for o in objectives}

    def depth(row: Any) -> int:
        oid = row.id
        d, seen = 0, {oid}
        while (parent := by_id[oid].parent_id) in by_id and parent not in seen:
            seen.add(parent)
            oid, d = parent, d + 1
        return d

    memo: dict = {}
    fresh: dict[int, ObjectiveRollup] = {}
    for o in sorted(objectives, key=depth, reverse=True):  # children before their parents
        window = settings.windows[o.cycle_id]
        krs = [_kr_part(kr, window, settings.rules, memo) for kr in krs_of.get(o.id, ())]
        kids = []
        for child in children_of.get(o.id, ()):
            if child.id in fresh:
                kids.append((fresh[child.id].progress, child.weight, fresh[child.id].days))
            else:
                kids.append((child.rollup_progress, child.weight, stored_days(child)))
        fresh[o.id] = objective_rollup(krs, kids)
    rows: list[dict[str, Any]] = []
    buckets: dict[str, dict[str, Any]] = {}
    for o in objectives:
        bucket = _bucket(o, o.rollup_team_id, fresh[o.id].days, buckets)
        if bucket != o.rollup_bucket:
            if o.rollup_bucket is not None:
                deltas[o.rollup_bucket] -= 1
            if bucket is not None:
                deltas[bucket] += 1
        rows.append(
            {
                **_rollup_values(o.id, fresh[o.id]),
                "v_rollup_bucket": bucket,
                "v_rollup_krs": len(krs_of.get(o.id, ())),
            }
        )
    _write(session, rows)
    return buckets


def rebuild_workspace(*, connection: Session | sa.Connection, workspace_id: str) -> None:
    """Every objective's walk_key and roll-up from scratch: after bulk inserts, a change of
    status rules, and as the migration's backfill. Linear in the workspace."""
    settings = _settings(connection, workspace_id)
    if settings is None:
        return
    objectives = connection.execute(
        sa.select(
            OBJ.c.id,
            OBJ.c.parent_id,
            OBJ.c.cycle_id,
            OBJ.c.team_id,
            OBJ.c.weight,
            OBJ.c.archived_at,
            OBJ.c.level,
            OBJ.c.description,
        )
        .where(OBJ.c.workspace_id == workspace_id)
        .order_by(OBJ.c.id)
    ).all()
    krs_of = _krs_of(connection, KR.c.workspace_id == workspace_id)
    by_id = {o.id: o for o in objectives}
    closed = set(
        connection.execute(
            sa.select(CYC.c.id).where(
                CYC.c.workspace_id == workspace_id, CYC.c.closed_at.is_not(None)
            )
        ).scalars()
    )
    cut = {o.id for o in objectives if o.archived_at is not None or o.cycle_id in closed}
    keys = _keys_top_down(objectives, known={}, cut=cut)
    ladder = _ladder_top_down(objectives, known={}, unlinked=cut)
    teams = _teams(objectives, known={})
    children: dict[int, list[int]] = defaultdict(list)
    for o in objectives:
        if o.parent_id in by_id:
            children[o.parent_id].append(o.id)
    memo: dict = {}
    done: dict[int, ObjectiveRollup] = {}
    # Post-order without recursion: alignment chains may be deep.
    for root in [o.id for o in objectives if o.parent_id not in by_id]:
        stack: list[tuple[int, bool]] = [(root, False)]
        while stack:
            oid, expanded = stack.pop()
            if not expanded:
                stack.append((oid, True))
                stack.extend((c, False) for c in children[oid])
                continue
            o = by_id[oid]
            window = settings.windows[o.cycle_id]
            krs = [_kr_part(kr, window, settings.rules, memo) for kr in krs_of.get(oid, ())]
            kids = (
                [
                    (done[c].progress, by_id[c].weight, done[c].days)
                    for c in children[oid]
                    # as _recompute's children: unarchived, in an open cycle
                    if by_id[c].archived_at is None and by_id[c].cycle_id not in closed
                ]
                if settings.include_children
                else []
            )
            done[oid] = objective_rollup(krs, kids)
    buckets: dict[str, dict[str, Any]] = {}
    counts: dict[str, int] = defaultdict(int)
    shared: dict[str, dict[str, Any]] = {}
    tally: dict[str, int] = defaultdict(int)
    rows = []
    for oid, rolled in done.items():
        o = by_id[oid]
        bucket = _bucket(o, teams[oid], rolled.days, buckets)
        if bucket is not None:
            counts[bucket] += 1
        share = _share(
            o,
            team=teams[oid],
            laddered=ladder[oid][0],
            unparented=ladder[oid][1],
            krs=krs_of.get(oid, ()),
            settings=settings,
            columns=shared,
        )
        for key, n in share.items():
            tally[key] += n
        rows.append(
            {
                **_rollup_values(oid, rolled),
                "v_walk_key": keys[oid],
                "v_rollup_bucket": bucket,
                "v_rollup_laddered": ladder[oid][0],
                "v_rollup_unparented": ladder[oid][1],
                "v_rollup_krs": len(krs_of.get(oid, ())),
                "v_rollup_team_id": teams[oid],
                "v_rollup_alignment": _share_text(share),
            }
        )
    _write(connection, rows)
    for table, tallied, columns in ((COUNTS, counts, buckets), (ALIGN, tally, shared)):
        connection.execute(sa.delete(table).where(table.c.workspace_id == workspace_id))
        if tallied:
            connection.execute(
                sa.insert(table),
                [
                    {"workspace_id": workspace_id, **columns[b], _counter(b): n}
                    for b, n in sorted(tallied.items())
                ],
            )


def _bucket(
    objective: Any, team_id: int | None, days: StatusDays, columns: dict[str, dict[str, Any]]
) -> str | None:
    """The objective_status_count bucket of an objective shown in `team_id`'s views (its
    effective team; None: archived, not counted); notes the bucket's columns in `columns`."""
    if objective.archived_at is not None:
        return None

    def day(value: date | None) -> str:
        return "-" if value is None else value.isoformat()

    team = "-" if team_id is None else str(team_id)
    key = (
        f"{objective.cycle_id}:{team}:{int(days.rated)}:"
        f"{day(days.at_risk_on)}:{day(days.off_track_on)}:{day(days.stale_on)}"
    )
    columns[key] = {
        "bucket": key,
        "cycle_id": objective.cycle_id,
        "team_id": team_id,
        "rated": days.rated,
        "at_risk_on": days.at_risk_on,
        "off_track_on": days.off_track_on,
        "stale_on": days.stale_on,
    }
    return key


def _count(
    session: Session,
    table: sa.Table,
    workspace_id: str,
    deltas: dict[str, int],
    columns: dict[str, dict[str, Any]],
) -> None:
    """Move counts between a table's buckets (objective_status_count, alignment_count), in
    key order (two transactions never wait on each other's buckets crosswise). A bucket
    gaining its first count is inserted; one losing its last is deleted, so days and flags
    nobody holds any more do not pile up (no share is left in it to race with)."""
    for bucket, delta in sorted(deltas.items()):
        if delta == 0:
            continue
        name = _counter(bucket)
        if delta < 0 or bucket not in columns:
            mine = sa.and_(table.c.workspace_id == workspace_id, table.c.bucket == bucket)
            session.execute(sa.update(table).where(mine).values({name: table.c[name] + delta}))
            if delta < 0:
                session.execute(sa.delete(table).where(mine, table.c[name] <= 0))
            continue
        insert = dialect_module(session.get_bind().dialect.name).insert(table)
        insert = insert.values({"workspace_id": workspace_id, **columns[bucket], name: delta})
        session.execute(
            insert.on_conflict_do_update(
                index_elements=[table.c.workspace_id, table.c.bucket],
                set_={name: table.c[name] + delta},
            )
        )


# -- alignment counts --------------------------------------------------------------------
# Each objective's share of alignment_count is stored with it (rollup_alignment, JSON of
# {bucket: n}), so a change moves exactly what it changes: the objective's own bucket of
# flags ("o:" keys, counted in `objectives`) and one bucket per day its KRs turn stale ("s:"
# keys, counted in `stale_krs`), both under its cycle, effective team and level.


def _counter(bucket: str) -> str:
    """The column a bucket counts in: alignment_count's stale KRs ("s:" keys) in stale_krs,
    every other bucket (objective_status_count's too) in objectives."""
    return "stale_krs" if bucket.startswith("s:") else "objectives"


ALIGNMENT_FLAGS = ("laddered", "orphan", "no_why", "no_krs", "too_many_krs")


def bucket_of(key: str) -> tuple[str, dict[str, bool], date | None]:
    """An alignment_count bucket key (as `_share` writes it), read back: the level, the
    flags, and for a stale-KR bucket its stale day."""
    kind, _cycle, _team, level, last = key.split(":", 4)
    if kind == "s":
        return level, dict.fromkeys(ALIGNMENT_FLAGS, False), date.fromisoformat(last)
    return level, {name: c == "1" for name, c in zip(ALIGNMENT_FLAGS, last, strict=True)}, None


def _share(
    objective: Any,
    *,
    team: int | None,
    laddered: bool,
    unparented: bool,
    krs: Iterable[Any],
    settings: _Settings,
    columns: dict[str, dict[str, Any]],
) -> dict[str, int]:
    """An objective's share of alignment_count (nothing when archived); notes the buckets'
    columns in `columns`. `krs`: its unarchived KRs."""
    if objective.archived_at is not None:
        return {}
    krs = list(krs)
    level = objective.level
    company = level == Level.COMPANY.value
    flags = {
        "laddered": bool(laddered),
        "orphan": bool(unparented) and not company,
        "no_why": company and not has_why(objective.description),
        "no_krs": not krs,
        "too_many_krs": len(krs) > MAX_FOCUSED_KRS,
    }
    where = f"{objective.cycle_id}:{'-' if team is None else team}:{level}"
    own = f"o:{where}:" + "".join(str(int(flags[name])) for name in ALIGNMENT_FLAGS)
    base = {"cycle_id": objective.cycle_id, "team_id": team, "level": level}
    # Both counters in a bucket's columns: a bucket inserted counts in one, the other is 0.
    columns[own] = {"bucket": own, **base, **flags, "stale_on": None, "stale_krs": 0}
    share = {own: 1}
    unflagged = dict.fromkeys(flags, False)
    for kr in krs:
        # What bot.okr.alignment's stale rule reads of a stored KR.
        pulse = KRPulse(
            id=kr.id,
            created_at=kr.created_at,
            last_check_in=kr.last_checkin_at,
            confidence=None,
            progress=None,
            expected=None,
            cycle_start=settings.windows[objective.cycle_id].start,
        )
        day = stale_day(pulse, period=settings.period)
        key = f"s:{where}:{day.isoformat()}"
        share[key] = share.get(key, 0) + 1
        columns[key] = {"bucket": key, **base, **unflagged, "stale_on": day, "objectives": 0}
    return share


def _share_text(share: dict[str, int]) -> str | None:
    return json.dumps(share, sort_keys=True, separators=(",", ":")) if share else None


def shares_of(text: str | None) -> dict[str, int]:
    """A stored rollup_alignment, read back."""
    return json.loads(text) if text else {}


def _align(
    session: Session,
    workspace_id: str,
    ids: set[int],
    settings: _Settings,
    removed: Iterable[str],
    read: dict[int, list[Any]],
) -> None:
    """Recompute these objectives' shares of alignment_count, after their flags, teams and
    KR counts were stored; `removed`: deleted objectives' shares, taken out. `read`: KRs
    read so far (see _krs_for)."""
    deltas: dict[str, int] = defaultdict(int)
    for gone in removed:
        for key, n in shares_of(gone).items():
            deltas[key] -= n
    columns: dict[str, dict[str, Any]] = {}
    if ids:
        wanted = sorted(ids)
        # Locked as _recompute's (the rows are this transaction's already when rewritten):
        # two writers never move one objective's share twice.
        objectives = _locked(
            session,
            workspace_id,
            wanted,
            OBJ.c.cycle_id,
            OBJ.c.level,
            OBJ.c.description,
            OBJ.c.archived_at,
            OBJ.c.rollup_team_id,
            OBJ.c.rollup_laddered,
            OBJ.c.rollup_unparented,
            OBJ.c.rollup_alignment,
        )
        krs_of = _krs_for(session, wanted, read)
        rows = []
        for o in objectives:
            share = _share(
                o,
                team=o.rollup_team_id,
                laddered=o.rollup_laddered,
                unparented=o.rollup_unparented,
                krs=krs_of.get(o.id, ()),
                settings=settings,
                columns=columns,
            )
            text = _share_text(share)
            if text == o.rollup_alignment:
                continue
            for key, n in shares_of(o.rollup_alignment).items():
                deltas[key] -= n
            for key, n in share.items():
                deltas[key] += n
            rows.append({"b_id": o.id, "v_rollup_alignment": text})
        _write(session, rows)
    _count(session, ALIGN, workspace_id, deltas, columns)
