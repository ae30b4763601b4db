"""Alignment health on a stored three-level tree: the levels the objectives were saved with,
not their teams, say which are company, team and personal objectives."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Engine
from sqlmodel import Session

from bot.okr.alignment import Gap
from bot.okr.kinds import KRKind, Level
from bot.okr.validate import KRSpec
from bot.services.alignment import AlignmentReport, AlignmentService
from storage.cycles import create_cycle
from storage.objectives import align_objective, create_objective
from storage.teams import create_team
from storage.tree import load_shown_tree
from storage.workspaces import ensure_workspace
from tests.okr.test_alignment import generated_tree

WS = "T0LEVELS"
NOW = datetime(2026, 2, 16, 9, 0, tzinfo=UTC)


def test_a_stored_three_level_tree_counts_orphans_by_level(engine: Engine) -> None:
    generated = generated_tree(20261204, companies=3, teams=24, people=40)
    ids: dict[str, int] = {}
    with Session(engine) as session:
        ensure_workspace(session=session, workspace_id=WS)
        cycle = create_cycle(
            session=session,
            workspace_id=WS,
            name="Q1 2026",
            start_date=date(2026, 1, 5),
            end_date=date(2026, 3, 31),
        )
        teams = [create_team(session=session, workspace_id=WS, name=f"Team {i}") for i in range(3)]
        for n, (key, level, _parent) in enumerate(generated.rows):
            made = create_objective(
                session=session,
                workspace_id=WS,
                cycle_id=cycle.id,
                owner_id=f"U{n:04d}",
                title=f"Objective {key}",
                # Company objectives say their why; a personal one has no team, like a
                # company one: only its stored level tells them apart.
                description="Serves the mission." if level is Level.COMPANY else "",
                team_id=teams[n % 3].id if level is Level.TEAM else None,
                level=level,
                key_results=[KRSpec(f"{key} measure", KRKind.INCREASE, 10, start_value=0)],
                now=NOW,
            )
            ids[key] = made.id  # type: ignore[assignment]
        for key, _level, parent in generated.rows:  # parents exist by now, in any order
            if parent is not None:
                align_objective(
                    session=session, workspace_id=WS, objective_id=ids[key], parent_id=ids[parent]
                )
        session.commit()

    alignment = AlignmentService(engine, clock=lambda: NOW)
    report = alignment.report(workspace_id=WS, channel_id="C0NONE", argument="all")
    assert isinstance(report, AlignmentReport)
    total = 3 + 24 + 40
    # orphans at both levels, and objectives under an orphan: every case is exercised
    assert set(generated.orphans.values()) == {Level.TEAM, Level.PERSONAL}
    assert generated.under_orphans
    assert report.objectives == total
    assert report.laddered == total - len(generated.orphans) - len(generated.under_orphans)
    assert report.counts.get(Gap.NO_WHY, 0) == 0
    assert report.counts[Gap.ORPHAN] == len(generated.orphans)
    assert {i.objective_id for i in report.items if i.gap is Gap.ORPHAN} == {
        ids[key] for key in generated.orphans
    }
    assert report.orphans_by_level == {
        level: sum(1 for found in generated.orphans.values() if found is level)
        for level in (Level.TEAM, Level.PERSONAL)
    }

    # Home's company objectives are the company level's: no personal objective among them,
    # and the totals count the same three.
    with Session(engine) as session:
        company = load_shown_tree(
            session=session, workspace_id=WS, today=NOW.date(), limit=100, company_only=True
        )
    assert sorted(o.title for o in company.objectives) == [f"Objective C{i}" for i in range(3)]
    assert company.total_objectives == 3
