"""Render `/okr status`, `/okr mine` and the App Home of a 25-objective company as Block Kit JSON.

Used to draw docs/screens/status/*.png (with /work/shared/tools/blockkit-preview):

    PYTHONPATH=. .venv/bin/python scripts/render_status_screens.py OUT_DIR

Not part of the app or its tests.
"""

from __future__ import annotations

import inspect
import json
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from bot.blocks import home as home_blocks
from bot.blocks import tree as tree_blocks
from bot.okr.kinds import KRKind, UnitKind
from bot.okr.validate import KRSpec
from storage.checkins import record_check_in
from storage.cycles import close_cycle, create_cycle
from storage.db import make_engine
from storage.migrate import upgrade
from storage.models import KeyResult
from storage.objectives import create_objective
from storage.teams import create_team
from storage.tree import load_tree
from storage.workspaces import ensure_workspace, update_workspace
from tests.factories import MISSION, VISION

WS = "T0ACME"
NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)
PEOPLE = {
    "U0CEO": "Maya Chen",
    "U0DEV": "Dev Patel",
    "U0EVE": "Eve Okafor",
    "U0SAM": "Sam Rivera",
    "U0LIN": "Lin Wu",
}
OWNERS = list(PEOPLE)

TOPS = [
    ("Launch a new communication platform", None),
    ("Enhance customer support", None),
    ("Grow revenue in Europe", None),
    ("Make Acme a great place to work", None),
    ("Ship a reliable platform", "Platform"),
]
CHILDREN = {
    0: [
        ("Ship the mobile app", "Platform"),
        ("Open the public API", "Platform"),
        ("Launch the desktop client", "Platform"),
        ("Reach 1M active users", "Growth"),
        ("Win the first 100 paying teams", "Growth"),
    ],
    1: [
        ("Answer every ticket within a day", "Support"),
        ("Build a self-service help center", "Support"),
        ("Cut escalations in half", "Support"),
        ("Raise CSAT to 95%", "Support"),
    ],
    2: [
        ("Open the Berlin office", "Growth"),
        ("Sign 20 enterprise customers", "Growth"),
        ("Localize the product in 5 languages", "Platform"),
        ("Hire a European sales team", "Growth"),
    ],
    3: [
        ("Hire 15 engineers", None),
        ("Run a quarterly offsite", None),
        ("Launch a mentoring program", None),
    ],
    4: [
        ("Reach 99.9% uptime", "Platform"),
        ("Cut p95 latency to 100 ms", "Platform"),
        ("Automate every deploy", "Platform"),
    ],
}


def _krs(i: int) -> list[KRSpec]:
    return [
        KRSpec(f"Reach {10 * (i + 1)}k weekly users", KRKind.INCREASE, 10_000 * (i + 1), 0),
        KRSpec(
            "Cut p95 latency",
            KRKind.DECREASE,
            100,
            start_value=250,
            unit=UnitKind.DURATION,
            unit_label="ms",
        ),
    ]


def seed(session: Session) -> dict[str, Any]:
    ensure_workspace(session=session, workspace_id=WS, name="Acme Tech")
    update_workspace(session=session, workspace_id=WS, vision=VISION, mission=MISSION)
    cycle = create_cycle(
        session=session,
        workspace_id=WS,
        name="Q1 2026",
        start_date=date(2026, 1, 1),
        end_date=date(2026, 3, 31),
    )
    teams = {
        name: create_team(session=session, workspace_id=WS, name=name).id
        for name in ("Platform", "Growth", "Support")
    }
    n = 0
    progress = [0.9, 0.2, 0.6, 0.75, 0.1, 0.5, 0.35, 0.95, 0.0, 0.65, 0.45, 0.8, 0.3]

    def make(title: str, team: str | None, parent: int | None) -> int:
        nonlocal n
        owner = OWNERS[n % len(OWNERS)] if team != "Platform" else ["U0DEV", "U0EVE"][n % 2]
        objective = create_objective(
            session=session,
            workspace_id=WS,
            cycle_id=cycle.id,
            owner_id=owner,
            title=title,
            team_id=teams[team] if team else None,
            parent_id=parent,
            key_results=_krs(n),
            now=NOW - timedelta(days=70),
        )
        session.flush()
        p = progress[n % len(progress)]
        krs = session.exec(select(KeyResult).where(KeyResult.objective_id == objective.id))
        for kr in krs.all():
            value = kr.start_value + (kr.target_value - kr.start_value) * p
            record_check_in(
                session=session,
                workspace_id=WS,
                key_result_id=kr.id,
                author_id=owner,
                value=value,
                period_start=date(2026, 3, 16),
                now=NOW - timedelta(days=n % 9),
                confidence=[8, 5, 3][n % 3],
            )
        n += 1
        return objective.id  # type: ignore[return-value]

    for i, (title, team) in enumerate(TOPS):
        top = make(title, team, None)
        for child_title, child_team in CHILDREN[i]:
            make(child_title, child_team, top)
    session.commit()
    return {"cycle": cycle.id, "teams": teams}


def _call(build: Any, **kwargs: Any) -> dict:
    """Old and new builders: pass only what the function takes."""
    taken = inspect.signature(build).parameters
    return build(**{k: v for k, v in kwargs.items() if k in taken})


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/screens.db")
        upgrade(engine)
        with Session(engine, expire_on_commit=False) as session:
            seeded = seed(session)
        with Session(engine) as session:
            today = NOW.date()
            company = load_tree(session=session, workspace_id=WS, today=today)
            platform = load_tree(
                session=session, workspace_id=WS, today=today, team_id=seeded["teams"]["Platform"]
            )
            mine = load_tree(session=session, workspace_id=WS, today=today, owner_id="U0DEV")
            company_only = load_tree(
                session=session, workspace_id=WS, today=today, company_only=True
            )
            screens = {
                "status-all": _call(
                    tree_blocks.build_status_message,
                    tree=company,
                    scope="all objectives",
                    now=NOW,
                    names=PEOPLE,
                ),
                "status-team": _call(
                    tree_blocks.build_status_message,
                    tree=platform,
                    scope="Platform",
                    now=NOW,
                    names=PEOPLE,
                ),
                "mine": _call(
                    tree_blocks.build_mine_message,
                    tree=mine,
                    user_id="U0DEV",
                    now=NOW,
                    names=PEOPLE,
                ),
                "home": _call(
                    home_blocks.build_home,
                    mine=mine,
                    user_id="U0DEV",
                    team_name="Platform",
                    team_tree=platform,
                    company_tree=company_only,
                    now=NOW,
                    names=PEOPLE,
                ),
            }
            if hasattr(tree_blocks, "build_objective_view"):  # ⋯ › Open on a collapsed status
                top = company.roots[0]
                screens["objective-view"] = tree_blocks.build_objective_view(
                    tree=company, objective=top, now=NOW, names=PEOPLE
                )
        with Session(engine, expire_on_commit=False) as session:
            close_cycle(session=session, workspace_id=WS, cycle_id=seeded["cycle"], now=NOW)
            session.commit()
        with Session(engine) as session:
            after_close = load_tree(session=session, workspace_id=WS, today=NOW.date())
            try:  # the service's fallback: the last closed cycle when no open one has any
                from bot.services.trees import open_or_last_closed

                after_close = open_or_last_closed(
                    limit=50, session=session, workspace_id=WS, today=NOW.date()
                )
            except ImportError:  # before: the open cycles only
                pass
            screens["status-after-close"] = _call(
                tree_blocks.build_status_message,
                tree=after_close,
                scope="all objectives",
                now=NOW,
                names=PEOPLE,
            )
        engine.dispose()
    for name, payload in screens.items():
        (out / f"{name}.json").write_text(json.dumps(payload, ensure_ascii=False, indent=1))
        print(out / f"{name}.json")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "screens-out"))
