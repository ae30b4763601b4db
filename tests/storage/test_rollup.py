"""The stored roll-up equals the core's roll-up of the whole tree, after any mix of writes,
on every day of the cycles (values that depend on today are never stored)."""

from __future__ import annotations

import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, select

from bot.okr.alignment import KRPulse, effective_teams, stale_day
from bot.okr.kinds import KRKind, Level, Status
from bot.okr.validate import KRSpec
from storage.checkins import record_check_in
from storage.cycles import close_cycle, create_cycle, get_cycle
from storage.errors import Refused
from storage.models import AlignmentCount, Cycle, KeyResult, Objective, ObjectiveStatusCount
from storage.objectives import (
    align_objective,
    archive_key_result,
    archive_objective,
    create_objective,
    delete_objective,
    update_key_result,
    update_objective,
)
from storage.rollup import rebuild_workspace
from storage.teams import create_team
from storage.tree import load_shown_tree, load_tree
from storage.workspaces import ensure_workspace, get_workspace, update_workspace

START = date(2026, 1, 1)
CHECK_EVERY = 15  # compare with the core after this many writes
NOW = datetime(2026, 1, 20, 12, tzinfo=UTC)


def _days(session: Session, workspace_id: str) -> list[date]:
    """Every third day of the cycles, and the days around each stored stale switch (no
    recent data from that day on: bot/okr/pace.py, rule 5)."""
    stale = session.exec(
        select(Objective.rollup_stale_on).where(
            Objective.workspace_id == workspace_id,
            col(Objective.rollup_stale_on).is_not(None),
        )
    ).all()
    around = {day + timedelta(days=k) for day in stale if day for k in (-1, 0, 1)}
    return sorted({START + timedelta(days=d) for d in range(-2, 100, 3)} | around)


def assert_matches_core(session: Session, workspace_id: str, **scope: object) -> tuple[int, int]:
    """load_shown_tree's values equal the core's, for every day. An objective's roll-up is
    the whole tree's: with aligned children counted, a view's objective counts its children
    outside the view too (the core, given only the view, would leave them out). Returns how
    many (objective, day) pairs were compared as NO_RECENT_DATA, and how many of those had
    no KR ever checked in (quiet since they were set, or since their cycle began)."""
    session.expire_all()
    stale_seen = never_seen = 0
    for day in _days(session, workspace_id):
        core = load_tree(session=session, workspace_id=workspace_id, today=day, **scope)  # type: ignore[arg-type]
        whole = load_tree(session=session, workspace_id=workspace_id, today=day)
        shown = load_shown_tree(
            session=session,
            workspace_id=workspace_id,
            today=day,
            limit=100_000,
            **scope,  # type: ignore[arg-type]
        )
        assert shown.summary is not None
        assert shown.total_objectives == len(core.objectives)
        expected = {s: 0 for s in Status}
        for o in core.objectives:
            if (status := whole.health.objectives[o.id].status) is not None:
                expected[status] += 1
        assert shown.status_counts() == expected, day
        assert {o.id for o in shown.objectives} == {o.id for o in core.objectives}
        for o in core.objectives:
            want, got = whole.health.objectives[o.id], shown.health.objectives[o.id]
            assert got.progress == want.progress, (o.id, day)
            assert got.status == want.status, (o.id, day)
            assert got.expected == want.expected
            if not core.workspace.rollup_include_children:  # then the view's core agrees too
                assert core.health.objectives[o.id] == want
        assert shown.health.krs == core.health.krs
        if not scope:  # the whole workspace: every parent is in view, so the walk is the same
            assert [(o.id, d) for o, d in shown.walk()] == [(o.id, d) for o, d in core.walk()]
        few = load_shown_tree(
            session=session,
            workspace_id=workspace_id,
            today=day,
            limit=4,
            **scope,  # type: ignore[arg-type]
        )
        assert [o.id for o in few.objectives] == [o.id for o in shown.objectives][:4]
        assert few.status_counts() == expected
        stale_seen += expected[Status.NO_RECENT_DATA]
        never_seen += sum(
            whole.health.objectives[o.id].status is Status.NO_RECENT_DATA
            and all(kr.last_checkin_at is None for kr in whole.krs_of(o.id))
            for o in core.objectives
        )
    return stale_seen, never_seen


def assert_alignment_stored(session: Session, workspace_id: str) -> int:
    """The stored alignment flags and KR counts (storage/alignment.py counts them) equal a
    walk of the whole workspace: laddered when linked (open cycle, unarchived) and company
    level or under a laddered parent; unparented when no linked parent. Returns how many
    objectives ladder up."""
    session.expire_all()
    objectives = {
        o.id: o
        for o in session.exec(select(Objective).where(Objective.workspace_id == workspace_id))
    }
    closed = set(
        session.exec(
            select(Cycle.id).where(
                Cycle.workspace_id == workspace_id, col(Cycle.closed_at).is_not(None)
            )
        )
    )

    def linked(oid: int | None) -> bool:
        o = objectives.get(oid)  # type: ignore[arg-type]
        return o is not None and o.archived_at is None and o.cycle_id not in closed

    def laddered(oid: int) -> bool:
        o = objectives[oid]
        return linked(oid) and (o.level == Level.COMPANY or laddered_parent(o.parent_id))

    def laddered_parent(parent: int | None) -> bool:
        return parent is not None and linked(parent) and laddered(parent)

    krs: dict[int, int] = {}
    stale_days: dict[int, list[date]] = {}
    starts = dict(
        session.exec(
            select(Cycle.id, Cycle.start_date).where(Cycle.workspace_id == workspace_id)
        ).all()
    )
    period = timedelta(
        weeks=get_workspace(session=session, workspace_id=workspace_id).checkin_cadence_weeks
    )
    for kr in session.exec(
        select(KeyResult).where(
            KeyResult.workspace_id == workspace_id, col(KeyResult.archived_at).is_(None)
        )
    ):
        krs[kr.objective_id] = krs.get(kr.objective_id, 0) + 1
        start = starts[objectives[kr.objective_id].cycle_id]
        pulse = KRPulse(kr.id, kr.created_at, kr.last_checkin_at, None, None, None, start)
        stale_days.setdefault(kr.objective_id, []).append(stale_day(pulse, period=period))
    teams = effective_teams(
        [(oid, o.parent_id, Level(o.level), o.team_id) for oid, o in objectives.items()]
    )
    # A fresh count of alignment_count, from the rows: objectives per (cycle, effective team,
    # level, flags), KRs per (cycle, effective team, level, stale day).
    fresh: Counter[tuple] = Counter()
    for oid, o in objectives.items():
        want = (laddered(oid), not linked(o.parent_id), krs.get(oid, 0), teams[oid])
        got = (o.rollup_laddered, o.rollup_unparented, o.rollup_krs, o.rollup_team_id)
        assert got == want, oid
        if o.archived_at is not None:
            continue
        where = (o.cycle_id, teams[oid], o.level)
        company = o.level == Level.COMPANY
        flags = (
            laddered(oid),
            not linked(o.parent_id) and not company,
            company and not (o.description or "").strip(),
            krs.get(oid, 0) == 0,
            krs.get(oid, 0) > 5,
        )
        fresh[(*where, flags, None)] += 1
        for day in stale_days.get(oid, []):
            fresh[(*where, None, day)] += 1
    stored: Counter[tuple] = Counter()
    for row in session.exec(
        select(AlignmentCount).where(AlignmentCount.workspace_id == workspace_id)
    ):
        where = (row.cycle_id, row.team_id, row.level)
        if row.stale_on is None:
            flags = (row.laddered, row.orphan, row.no_why, row.no_krs, row.too_many_krs)
            assert row.objectives > 0 and row.stale_krs == 0, row  # emptied flags are deleted
            stored[(*where, flags, None)] += row.objectives
        else:
            assert row.objectives == 0 < row.stale_krs, row  # emptied days are deleted
            stored[(*where, None, row.stale_on)] += row.stale_krs
    assert stored == fresh
    emptied = select(ObjectiveStatusCount).where(
        ObjectiveStatusCount.workspace_id == workspace_id, ObjectiveStatusCount.objectives <= 0
    )
    assert session.exec(emptied).all() == []
    return sum(laddered(oid) for oid in objectives)


def _spec(rng: random.Random, i: int) -> KRSpec:
    kind = rng.choice(list(KRKind))
    start, target = {
        KRKind.INCREASE: (rng.choice([0.0, 20.0]), 100.0),
        KRKind.DECREASE: (100.0, rng.choice([10.0, 0.0])),
        KRKind.AT_LEAST: (None, 50.0),
        KRKind.AT_MOST: (None, 50.0),
        KRKind.MILESTONE: (None, 1.0),
    }[kind]
    return KRSpec(
        f"KR {i}",
        kind,
        target,
        start_value=start,
        weight=rng.choice([1.0, 2.0, 0.5]),
        due_date=rng.choice([None, START + timedelta(days=rng.randint(-5, 120))]),
        current_value=rng.choice([None, 5.0, 60.0]),
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_stored_rollup_equals_the_core_after_random_writes(session: Session, seed: int) -> None:
    rng = random.Random(seed)
    ws = f"T0ROLL{seed}"
    ensure_workspace(session=session, workspace_id=ws)
    cycles = [
        create_cycle(
            session=session,
            workspace_id=ws,
            name="Q1",
            start_date=START,
            end_date=START + timedelta(days=40),
        ),
        create_cycle(
            session=session,
            workspace_id=ws,
            name="H1",
            start_date=START + timedelta(days=5),
            end_date=START + timedelta(days=90),
        ),
    ]
    teams = [create_team(session=session, workspace_id=ws, name=f"Team {i}") for i in range(2)]
    session.commit()
    ids: list[int] = []
    krs: list[int] = []

    def op_create(i: int) -> None:
        # Written up to three weeks before the cycles start (planning) or during them: a KR
        # never checked in is quiet two periods after the later of that and its cycle's start.
        written = datetime.combine(START, time(9), UTC) + timedelta(
            days=rng.randint(-20, 40), hours=rng.choice([0, 14])
        )
        objective = create_objective(
            now=written,
            session=session,
            workspace_id=ws,
            cycle_id=rng.choice(cycles).id,
            owner_id=rng.choice(["U1", "U2"]),
            title=f"Objective {i}",
            team_id=rng.choice([None, *(t.id for t in teams)]),
            parent_id=rng.choice([None, *ids[-6:]]),
            weight=rng.choice([1.0, 3.0]),
            key_results=[_spec(rng, i * 10 + j) for j in range(rng.randint(0, 3))],
        )
        ids.append(objective.id)  # type: ignore[arg-type]
        session.flush()
        krs.extend(
            session.exec(select(KeyResult.id).where(KeyResult.objective_id == objective.id)).all()  # type: ignore[arg-type]
        )

    def op_checkin(i: int) -> None:
        if krs:
            record_check_in(
                session=session,
                workspace_id=ws,
                key_result_id=rng.choice(krs),
                author_id="U1",
                value=rng.choice([0.0, 3.0, 40.0, 100.0, 1.0]),
                confidence=rng.choice([None, 2, 8]),
                period_start=START + timedelta(days=i),
                # at 12:00 or 01:00 the next day (UTC): the stale day counts from the date
                now=NOW + timedelta(days=i, hours=rng.choice([0, 13])),
            )

    def op_edit_kr(i: int) -> None:
        if krs:
            update_key_result(
                session=session, workspace_id=ws, key_result_id=rng.choice(krs), spec=_spec(rng, i)
            )

    def op_archive_kr(_i: int) -> None:
        if krs:
            archive_key_result(
                session=session, workspace_id=ws, key_result_id=krs.pop(rng.randrange(len(krs)))
            )

    def op_align(_i: int) -> None:
        if len(ids) > 1:
            try:
                align_objective(
                    session=session,
                    workspace_id=ws,
                    objective_id=rng.choice(ids),
                    parent_id=rng.choice([None, *ids]),
                )
            except Refused:
                session.rollback()

    def op_archive(_i: int) -> None:
        if ids:
            archive_objective(session=session, workspace_id=ws, objective_id=rng.choice(ids))

    def op_restore(_i: int) -> None:
        if ids:
            objective = session.get_one(Objective, rng.choice(ids))
            objective.archived_at = None  # no command restores one: the write a restore makes
            session.add(objective)
            session.flush()

    def op_delete(_i: int) -> None:
        if len(ids) > 3:
            victim = ids.pop(rng.randrange(len(ids)))
            delete_objective(session=session, workspace_id=ws, objective_id=victim)
            krs[:] = [k for k in krs if session.get(KeyResult, k) is not None]

    def op_weight_or_cycle(_i: int) -> None:
        if ids:
            update_objective(
                session=session,
                workspace_id=ws,
                objective_id=rng.choice(ids),
                weight=rng.choice([0.5, 2.0]),
                cycle_id=rng.choice(cycles).id,
                team_id=rng.choice([None, *(t.id for t in teams)]),
            )

    def op_level(_i: int) -> None:
        if ids:
            update_objective(
                session=session,
                workspace_id=ws,
                objective_id=rng.choice(ids),
                level=rng.choice(list(Level)),
            )

    def op_close_or_reopen(_i: int) -> None:
        cycle = get_cycle(session=session, workspace_id=ws, cycle_id=cycles[1].id)
        cycle.closed_at = None if cycle.closed_at else NOW
        session.add(cycle)

    def op_settings(_i: int) -> None:
        update_workspace(
            session=session,
            workspace_id=ws,
            rollup_include_children=rng.random() < 0.6,
            at_risk_points=rng.choice([5.0, 10.0]),
            off_track_points=rng.choice([25.0, 40.0]),
            checkin_cadence_weeks=rng.choice([1, 2]),  # stale after 14 or 28 days
        )

    def op_cycle_dates(_i: int) -> None:
        cycle = get_cycle(session=session, workspace_id=ws, cycle_id=rng.choice(cycles).id)
        cycle.end_date = cycle.start_date + timedelta(days=rng.randint(0, 80))
        session.add(cycle)

    ops = (
        [op_create] * 6
        + [op_checkin] * 4
        + [
            op_edit_kr,
            op_archive_kr,
            op_align,
            op_align,
            op_archive,
            op_restore,
            op_delete,
            op_weight_or_cycle,
            op_settings,
            op_cycle_dates,
            op_level,
            op_level,
            op_close_or_reopen,
        ]
    )
    stale_seen = never_seen = 0
    laddered_seen = 0
    for i in range(60):
        try:
            rng.choice(ops)(i)
        except Refused:  # a write the app refuses (a milestone checked in at 40) changes nothing
            session.rollback()
        session.commit()
        laddered_seen += assert_alignment_stored(session, ws)
        if i % CHECK_EVERY == CHECK_EVERY - 1:
            stale, never = assert_matches_core(session, ws)
            stale_seen, never_seen = stale_seen + stale, never_seen + never
    stale, never = assert_matches_core(session, ws)
    stale_seen, never_seen = stale_seen + stale, never_seen + never
    assert laddered_seen, "no objective laddered up: the flags were never compared as true"
    # A closed cycle cuts the chains through it (and reopening joins them again), also
    # across writes made while it is closed. (The loop above closes and reopens too, and
    # compares with the core's tree of the open cycles whichever is closed.)
    for i in range(60, 72):
        if i % 4 == 0:
            op_close_or_reopen(i)
        else:
            rng.choice([op_align, op_level, op_archive, op_restore, op_create, op_archive_kr])(i)
        session.commit()
        assert_alignment_stored(session, ws)
    if get_cycle(session=session, workspace_id=ws, cycle_id=cycles[1].id).closed_at:
        op_close_or_reopen(72)
        session.commit()
    assert stale_seen, "the writes drew no stale objective: nothing about staleness was compared"
    assert never_seen, "no objective was compared quiet with no check-in at all"
    assert_matches_core(session, ws, team_id=teams[0].id)
    assert_matches_core(session, ws, company_only=True)
    assert_matches_core(session, ws, owner_id="U1")
    update_workspace(session=session, workspace_id=ws, rollup_include_children=True)
    session.commit()
    assert_matches_core(session, ws)


def test_a_rebuild_changes_nothing_the_hooks_kept(session: Session) -> None:
    ws = "T0REBUILD"
    ensure_workspace(session=session, workspace_id=ws)
    update_workspace(session=session, workspace_id=ws, rollup_include_children=True)
    cycle = create_cycle(
        session=session,
        workspace_id=ws,
        name="Q",
        start_date=START,
        end_date=START + timedelta(days=60),
    )
    parent = None
    rng = random.Random(7)
    for i in range(30):
        parent = create_objective(
            session=session,
            workspace_id=ws,
            cycle_id=cycle.id,
            owner_id="U1",
            title=f"O{i}",
            parent_id=parent.id if parent and i % 4 else None,
            key_results=[_spec(rng, i)],
        )
    session.commit()
    columns = (
        "walk_key",
        "rollup_bucket",
        "rollup_progress",
        "rollup_rated",
        "rollup_at_risk_on",
        "rollup_off_track_on",
        "rollup_stale_on",
        "rollup_laddered",
        "rollup_unparented",
        "rollup_krs",
        "rollup_team_id",
        "rollup_alignment",
    )

    def stored() -> list[tuple]:
        session.expire_all()
        rows = session.exec(
            select(Objective).where(Objective.workspace_id == ws).order_by(Objective.id)
        ).all()  # type: ignore[arg-type]
        return [tuple(getattr(o, c) for c in columns) for o in rows]

    def counts() -> list[tuple]:
        rows = session.exec(
            select(ObjectiveStatusCount)
            .where(ObjectiveStatusCount.workspace_id == ws, ObjectiveStatusCount.objectives > 0)
            .order_by(ObjectiveStatusCount.bucket)  # type: ignore[arg-type]
        ).all()
        aligned = session.exec(
            select(AlignmentCount)
            .where(
                AlignmentCount.workspace_id == ws,
                (col(AlignmentCount.objectives) > 0) | (col(AlignmentCount.stale_krs) > 0),
            )
            .order_by(AlignmentCount.bucket)  # type: ignore[arg-type]
        ).all()
        return [(c.bucket, c.objectives) for c in rows] + [
            (a.bucket, a.objectives, a.stale_krs) for a in aligned
        ]

    archive_objective(session=session, workspace_id=ws, objective_id=parent.id)  # type: ignore[union-attr]
    delete_objective(session=session, workspace_id=ws, objective_id=parent.parent_id or 1)  # type: ignore[union-attr]
    session.commit()
    kept, kept_counts = stored(), counts()
    rebuild_workspace(connection=session, workspace_id=ws)
    session.commit()
    assert stored() == kept
    assert counts() == kept_counts
    status_counts = [c for c in kept_counts if len(c) == 2]
    assert sum(c[1] for c in status_counts) == len([row for row in kept if row[1]])
    assert any(len(c) == 3 for c in kept_counts)
    assert all(row[0] for row in kept)


VIEWS: dict[str, dict[str, Any]] = {
    "all": {},
    "company": {"company_only": True},  # Home's company objectives: counted by level
    "person": {"owner_id": "U2"},  # `/okr status @person`
}


@pytest.mark.parametrize("view", list(VIEWS))
@pytest.mark.parametrize("size", [10, 200])
def test_a_status_view_takes_six_statements_whatever_the_size(
    session: Session, count_statements, size: int, view: str
) -> None:
    """Company and personal objectives both have no team: the company view counts the
    company level's only, in the same six statements."""
    ws = "T0SIX"
    ensure_workspace(session=session, workspace_id=ws)
    cycle = create_cycle(
        session=session,
        workspace_id=ws,
        name="Q",
        start_date=START,
        end_date=START + timedelta(days=60),
    )
    spec = KRSpec("KR", KRKind.INCREASE, 100, start_value=0, current_value=10)
    parent = None
    for i in range(size):
        personal = i % 3 != 0
        parent = create_objective(
            session=session,
            workspace_id=ws,
            cycle_id=cycle.id,
            owner_id="U2" if personal else "U1",
            title=f"O{i}",
            parent_id=parent.id if parent and i % 3 else None,
            key_results=[spec, spec],
            level=Level.PERSONAL if personal else Level.COMPANY,
        )
    session.commit()
    session.expunge_all()
    today = START + timedelta(days=30)
    with count_statements() as counter:
        tree = load_shown_tree(
            session=session, workspace_id=ws, today=today, limit=50, **VIEWS[view]
        )
    assert counter.count == 6, counter.statements
    core = load_tree(session=session, workspace_id=ws, today=today, **VIEWS[view])
    expected = {"all": size, "company": (size + 2) // 3, "person": size - (size + 2) // 3}[view]
    assert len(core.objectives) == expected
    assert {o.id for o in tree.objectives} <= {o.id for o in core.objectives}
    assert len(tree.objectives) == min(expected, 50)
    assert tree.total_objectives == expected
    # no check-in yet: every one of them is not started (bot/okr/pace.py, rule 3)
    assert tree.status_counts()[Status.NOT_STARTED] == expected


def test_concurrent_check_ins_under_siblings_leave_their_parent_right(engine) -> None:  # type: ignore[no-untyped-def]
    """Counting children, two check-ins under sibling objectives both rewrite the parent:
    the second waits for the first (PostgreSQL row locks; SQLite's single writer) and reads
    its child's new value, so nothing is lost. Counts per status stay exact too."""
    ws = "T0RACE"
    with Session(engine) as session:
        ensure_workspace(session=session, workspace_id=ws)
        update_workspace(session=session, workspace_id=ws, rollup_include_children=True)
        cycle = create_cycle(
            session=session,
            workspace_id=ws,
            name="Q",
            start_date=START,
            end_date=START + timedelta(days=60),
        )
        spec = KRSpec("KR", KRKind.INCREASE, 100, start_value=0)
        parent = create_objective(
            session=session, workspace_id=ws, cycle_id=cycle.id, owner_id="U1", title="P"
        )
        for i in range(4):
            create_objective(
                session=session,
                workspace_id=ws,
                cycle_id=cycle.id,
                owner_id="U1",
                title=f"C{i}",
                parent_id=parent.id,
                key_results=[spec],
            )
        session.commit()
        kr_ids = list(session.exec(select(KeyResult.id).where(KeyResult.workspace_id == ws)))

    def check_in(worker: int) -> None:
        rng = random.Random(worker)
        for n in range(6):
            with Session(engine) as session:
                record_check_in(
                    session=session,
                    workspace_id=ws,
                    key_result_id=rng.choice(kr_ids),  # type: ignore[arg-type]
                    author_id="U1",
                    value=float(rng.randint(0, 100)),
                    period_start=START + timedelta(days=worker * 10 + n),
                    now=NOW,
                )
                session.commit()

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(check_in, range(6)))
    with Session(engine) as session:
        assert_matches_core(session, ws)


def test_closing_a_cycle_makes_its_childrens_objectives_roots_in_status_all(
    session: Session,
) -> None:
    """A yearly objective's cycle closes while a quarter's objectives still ladder up to it:
    status all (open cycles) shows them as roots, in id order, like the core's walk."""
    ws = "T0CLOSE"
    ensure_workspace(session=session, workspace_id=ws)
    year = create_cycle(
        session=session, workspace_id=ws, name="2025", start_date=START, end_date=START
    )
    quarter = create_cycle(
        session=session,
        workspace_id=ws,
        name="Q1",
        start_date=START,
        end_date=START + timedelta(days=90),
    )
    spec = KRSpec("KR", KRKind.INCREASE, 100, start_value=0, current_value=30)

    def objective(title: str, cycle_id: int, parent: int | None = None) -> int:
        made = create_objective(
            session=session,
            workspace_id=ws,
            cycle_id=cycle_id,
            owner_id="U1",
            title=title,
            parent_id=parent,
            key_results=[spec],
        )
        return made.id  # type: ignore[return-value]

    early = objective("Early root", quarter.id)
    child = objective("Quarter child", quarter.id)
    grandchild = objective("Grandchild", quarter.id, parent=child)
    late = objective("Late root", quarter.id)
    yearly = objective("Yearly", year.id)  # made last, then the quarter's aligned to it
    align_objective(session=session, workspace_id=ws, objective_id=child, parent_id=yearly)
    session.commit()
    before = load_shown_tree(session=session, workspace_id=ws, today=START, limit=50)
    assert [(o.id, d) for o, d in before.walk()] == [
        (early, 0),
        (late, 0),
        (yearly, 0),
        (child, 1),
        (grandchild, 2),
    ]
    close_cycle(session=session, workspace_id=ws, cycle_id=year.id, now=NOW)
    session.commit()
    assert_matches_core(session, ws)


def test_a_child_in_a_closed_cycle_leaves_its_parents_rollup_until_reopened(
    session: Session,
) -> None:
    """Counting aligned children, a parent in an open cycle counts a child only while the
    child's cycle is open, as the core's tree of the open cycles does (found by the random
    writes mixing close and reopen: a parent with no KRs was stored on track, rated by its
    closed child, while the core had it unrated)."""
    ws = "T0CLOSECHILD"
    ensure_workspace(session=session, workspace_id=ws)
    update_workspace(session=session, workspace_id=ws, rollup_include_children=True)
    year, quarter = (
        create_cycle(
            session=session,
            workspace_id=ws,
            name=name,
            start_date=START,
            end_date=START + timedelta(days=days),
        )
        for name, days in (("2026", 360), ("Q1", 90))
    )
    spec = KRSpec("KR", KRKind.INCREASE, 100, start_value=0, current_value=30)
    parent = create_objective(
        session=session, workspace_id=ws, cycle_id=year.id, owner_id="U1", title="Yearly"
    )
    session.flush()
    create_objective(
        session=session,
        workspace_id=ws,
        cycle_id=quarter.id,
        owner_id="U1",
        title="Quarter",
        parent_id=parent.id,
        key_results=[spec],
    )
    session.commit()

    def shown_status() -> Status | None:
        session.expire_all()
        shown = load_shown_tree(session=session, workspace_id=ws, today=START, limit=10)
        return shown.health.objectives[parent.id].status  # type: ignore[index]

    assert shown_status() is Status.NOT_STARTED
    close_cycle(session=session, workspace_id=ws, cycle_id=quarter.id, now=NOW)
    session.commit()
    assert shown_status() is None  # no KRs of its own, no counted child
    assert_matches_core(session, ws)
    cycle = get_cycle(session=session, workspace_id=ws, cycle_id=quarter.id)
    cycle.closed_at = None
    session.add(cycle)
    session.commit()
    assert shown_status() is Status.NOT_STARTED
    assert_matches_core(session, ws)
