"""The SQL alignment counts (storage/alignment.py) equal the pure module's
(bot/okr/alignment.py, through bot/services/alignment.report_of) on generated 3-level trees,
for every kind of view, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import Session, select

from bot.okr.alignment import Gap, effective_teams
from bot.okr.kinds import Level, Status
from bot.services.alignment import report_of
from storage.alignment import alignment_counts
from storage.checkins import record_check_in
from storage.cycles import create_cycle
from storage.errors import Refused
from storage.models import KeyResult, Objective
from storage.objectives import (
    align_objective,
    archive_objective,
    update_objective,
)
from storage.teams import create_team, set_team_parent
from storage.tree import load_tree
from storage.workspaces import ensure_workspace, update_workspace

NOW = datetime(2026, 2, 20, 9, 30, tzinfo=UTC)
START = date(2026, 1, 1)


def _generate(session: Session, ws: str, rng: random.Random, *, weeks: int = 1) -> list[int]:
    """A workspace of company, team and sub-team objectives in open cycles (two begun long
    ago, one begun two weeks ago to the day, one not begun yet) and a closed one: orphans,
    parents archived or closed, loops of none, blank whys, 0..7 KRs (some archived),
    check-ins from long ago to just now, or none (written up to 60 days ago: before or after
    their cycle began). Returns the team ids (parent first)."""
    ensure_workspace(session=session, workspace_id=ws)
    update_workspace(session=session, workspace_id=ws, checkin_cadence_weeks=weeks)
    cycles = [
        create_cycle(
            session=session,
            workspace_id=ws,
            name=name,
            start_date=START,
            end_date=START + timedelta(days=days),
        )
        for name, days in (("Q1", 90), ("H1", 180), ("Old", 30))
    ]
    cycles += [
        create_cycle(
            session=session,
            workspace_id=ws,
            name=name,
            start_date=NOW.date() + timedelta(days=offset),
            end_date=NOW.date() + timedelta(days=offset + 90),
        )
        for name, offset in (("Begun two weeks ago", -14), ("Next", 10))
    ]
    cycles[2].closed_at = NOW - timedelta(days=1)
    session.add(cycles[2])
    platform = create_team(session=session, workspace_id=ws, name="Platform")
    infra = create_team(session=session, workspace_id=ws, name="Infra")
    set_team_parent(session=session, workspace_id=ws, team_id=infra.id, parent_id=platform.id)  # type: ignore[arg-type]
    session.flush()
    ids: list[int] = []
    for i in range(60):
        objective = Objective(
            workspace_id=ws,
            cycle_id=rng.choice([c.id for c in (cycles[0], *cycles)]),
            team_id=(team_id := rng.choice([None, None, platform.id, infra.id])),
            # Three levels: a team's objective is the team level, one without a team is the
            # company's or a person's own.
            level="team" if team_id is not None else rng.choice(["company", "personal"]),
            owner_id=rng.choice(["U1", "U2"]),
            parent_id=rng.choice([None, *ids[-10:]]) if ids else None,
            title=f"O{i}",
            description=rng.choice(["", "  \n\t", "Serves the mission: faster teams"]),
            archived_at=NOW - timedelta(days=3) if rng.random() < 0.1 else None,
        )
        session.add(objective)
        session.flush()
        ids.append(objective.id)  # type: ignore[arg-type]
        for j in range(rng.choice([0, 0, 1, 2, 3, 5, 6, 7])):
            created = NOW - timedelta(days=rng.randint(0, 60), hours=rng.randint(0, 23))
            last = rng.choice(
                [
                    None,
                    None,
                    # two weekly periods by day (Feb 6, at any hour): stale; Feb 7: not yet
                    NOW - timedelta(days=14),
                    NOW - timedelta(days=14, hours=9, minutes=30, seconds=1),
                    NOW - timedelta(days=13, hours=9, minutes=30),
                    NOW - timedelta(days=rng.randint(0, 40), minutes=rng.randint(0, 600)),
                ]
            )
            session.add(
                KeyResult(
                    workspace_id=ws,
                    objective_id=objective.id,  # type: ignore[arg-type]
                    owner_id=rng.choice(["U1", "U2", "U3"]),
                    title=f"KR {i}.{j}",
                    kind="increase",
                    start_value=0,
                    target_value=100,
                    current_value=rng.choice([None, 10.0, 80.0]),
                    confidence=rng.choice([None, 9]),
                    position=j,
                    created_at=created,
                    last_checkin_at=last if last is None or last >= created else created,
                    archived_at=NOW if rng.random() < 0.1 else None,
                )
            )
    session.commit()
    return [platform.id, infra.id]  # type: ignore[list-item]


def _effective_teams(session: Session, ws: str) -> dict[int, int | None]:
    """Every objective's effective team, walked from the rows (not the stored column)."""
    rows = session.exec(select(Objective).where(Objective.workspace_id == ws)).all()
    return effective_teams([(o.id, o.parent_id, Level(o.level), o.team_id) for o in rows])  # type: ignore[misc]


def _assert_counts_equal_pure(
    session: Session, ws: str, platform: int, infra: int, period: timedelta
) -> tuple[set[Gap], Counter[str]]:
    session.expire_all()
    whole = load_tree(session=session, workspace_id=ws, today=NOW.date())
    teams = _effective_teams(session, ws)
    views: list[dict] = [
        {},
        {"team_id": platform},
        {"team_id": infra},
        {"company_only": True},
        {"owner_id": "U1"},
    ]
    gaps_seen: set[Gap] = set()
    seen: Counter[str] = Counter()
    for view in views:
        shown = load_tree(session=session, workspace_id=ws, today=NOW.date(), **view)
        within = [o.id for o in shown.objectives]
        team_ids = {platform: [platform, infra], infra: [infra]}.get(view.get("team_id"))  # type: ignore[arg-type]
        if team_ids is not None:  # the view's objectives: those whose chain gives its teams
            assert within == [o.id for o in whole.objectives if teams[o.id] in team_ids]
        pure = report_of(whole, scope="", within=within, now=NOW, period=period)  # type: ignore[arg-type]
        sql = alignment_counts(
            session=session,
            workspace_id=ws,
            now=NOW,
            team_ids=team_ids,
            owner_id=view.get("owner_id"),
            company_only=view.get("company_only", False),
        )
        expected = {g: n for g, n in pure.counts.items() if g is not Gap.CONTRADICTION}
        assert (sql.objectives, sql.laddered, sql.counts, sql.orphans_by_level) == (
            pure.objectives,
            pure.laddered,
            expected,
            {level: n for level, n in pure.orphans_by_level.items() if n},
        ), view
        gaps_seen |= set(sql.counts)
        # The line and status agree: as many stale KRs as KRs status shows with no recent
        # data (a KR never checked in counts once it is quiet, as status shows it, not before).
        quiet = [s for s in shown.health.krs.values() if s.status is Status.NO_RECENT_DATA]
        assert sql.counts.get(Gap.STALE, 0) == len(quiet), view
        seen["quiet"] += len(quiet)
        seen["never_quiet"] += sum(
            shown.health.krs[kr.id].status is Status.NO_RECENT_DATA
            for kr in shown.key_results
            if kr.last_checkin_at is None
        )
        seen["never_waiting"] += sum(
            shown.health.krs[kr.id].status is Status.NOT_STARTED
            and kr.created_at < NOW - 2 * period  # counted stale by the old rule
            for kr in shown.key_results
        )
    # some ladder while others do not
    assert 0 < pure.laddered < pure.objectives
    return gaps_seen, seen


def _rewrite(session: Session, ws: str, rng: random.Random) -> None:
    """Writes that move counts: re-aligned subtrees (personal objectives change team), new
    levels, teams and whys, archiving, check-ins."""
    ids = list(session.exec(select(Objective.id).where(Objective.workspace_id == ws)).all())
    krs = list(session.exec(select(KeyResult.id).where(KeyResult.workspace_id == ws)).all())
    teams = sorted({o.team_id for o in session.exec(select(Objective)) if o.team_id})
    for i in range(25):
        oid = rng.choice(ids)
        match i % 5:
            case 0 | 1:
                try:
                    align_objective(
                        session=session,
                        workspace_id=ws,
                        objective_id=oid,
                        parent_id=rng.choice([None, *ids]),
                    )
                except Refused:
                    session.rollback()
            case 2:
                team = rng.choice([None, *teams])
                level = "team" if team else rng.choice(["company", "personal"])
                update_objective(
                    session=session,
                    workspace_id=ws,
                    objective_id=oid,
                    team_id=team,
                    level=level,
                    description=rng.choice(["", "Serves the mission"]),
                )
            case 3:
                if rng.random() < 0.5:
                    archive_objective(session=session, workspace_id=ws, objective_id=oid)
                else:  # restored
                    objective = session.get(Objective, oid)
                    objective.archived_at = None  # type: ignore[union-attr]
            case 4:
                record_check_in(
                    session=session,
                    workspace_id=ws,
                    key_result_id=rng.choice(krs),
                    author_id="U1",
                    value=10.0,
                    period_start=NOW.date(),
                    now=NOW - timedelta(days=rng.choice([0, 13, 14, 20])),
                )
        session.commit()


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("weeks", [1, 2])
def test_sql_counts_equal_the_pure_alignment_module(
    session: Session, seed: int, weeks: int
) -> None:
    rng = random.Random(seed)
    ws = f"T0ALIGN{seed}"
    platform, infra = _generate(session, ws, rng, weeks=weeks)
    period = timedelta(weeks=weeks)
    gaps_seen, seen = _assert_counts_equal_pure(session, ws, platform, infra, period)
    # the generated trees reach every gap the line counts
    assert gaps_seen == {Gap.ORPHAN, Gap.NO_WHY, Gap.NO_KRS, Gap.TOO_MANY_KRS, Gap.STALE}
    # KRs quiet with and without a check-in were compared, and KRs never checked in that
    # the old rule counted stale while status showed them not started (their cycle began
    # later than they were written).
    assert seen["quiet"] > seen["never_quiet"] > 0 and seen["never_waiting"] > 0
    # and the counts stay right as the hooks keep them through writes
    _rewrite(session, ws, rng)
    _assert_counts_equal_pure(session, ws, platform, infra, period)


def test_the_counts_take_one_statement(session: Session, count_statements) -> None:  # type: ignore[no-untyped-def]
    _generate(session, "T0ONE", random.Random(4))
    session.expunge_all()
    with count_statements() as counter:
        counts = alignment_counts(session=session, workspace_id="T0ONE", now=NOW)
    assert counter.count == 1, counter.statements
    assert counts.objectives > 0
