"""What it costs to build each modal Ladder opens, without Slack: the service call that loads
the form's data plus the Block Kit render, on a filled workspace (one process, no
contention). It decides which openers open "Loading…" at the ack and fill it after
(bot/listeners `open_loading`): those whose build is measurably costly.

    .venv/bin/python -m bench.modal_build            # 1,000 objectives
    .venv/bin/python -m bench.modal_build --quick    # smoke run
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench.common import fmt, machine, machine_line, table, write_results
from bench.data import BENCH_WORKSPACE, fill_workspace, sqlite_engine
from bot.app import make_deps
from bot.blocks.dialogs import build_align_modal, build_archive_modal, build_checkin_modal
from bot.blocks.objective_modal import build_objective_form
from bot.blocks.settings import build_settings_modal
from bot.blocks.tree import build_objective_view
from bot.listeners import Deps


def _builders(deps: Deps, owner: str, objective_id: int) -> dict[str, Any]:
    def yes() -> bool:
        return True

    now = datetime.now(UTC)

    def checkin(**where: Any) -> dict:
        krs = deps.checkins.checkin_targets(
            workspace_id=BENCH_WORKSPACE, user_id=owner, is_admin=yes, **where
        )
        return build_checkin_modal(krs=krs, origin={}, sources={}, now=now)

    def with_parent(build: Callable[..., dict], children: bool) -> dict:
        objective, parent, kids = deps.objectives.objective_with_parent(
            workspace_id=BENCH_WORKSPACE, user_id=owner, objective_id=objective_id, is_admin=yes
        )
        if children:
            return build(objective=objective, children=kids, parent=parent)
        return build(objective=objective, parent=parent)

    def view() -> dict:
        tree, objective = deps.trees.objective_tree(
            workspace_id=BENCH_WORKSPACE, objective_id=objective_id
        )
        return build_objective_view(tree=tree, objective=objective, now=now, names={})

    return {
        "/okr new": lambda: build_objective_form(
            deps.objectives.new_objective_form(
                workspace_id=BENCH_WORKSPACE, user_id=owner, title="x"
            )
        ),
        "Edit (objective)": lambda: build_objective_form(
            deps.objectives.edit_objective_form(
                workspace_id=BENCH_WORKSPACE, user_id=owner, objective_id=objective_id, is_admin=yes
            )
        ),
        "Check in (objective)": lambda: checkin(objective_id=objective_id),
        "View (objective)": view,
        "/okr checkin (all mine)": checkin,
        "Align": lambda: with_parent(build_align_modal, children=False),
        "Archive": lambda: with_parent(build_archive_modal, children=True),
        "/okr settings": lambda: build_settings_modal(
            workspace=deps.settings.load(workspace_id=BENCH_WORKSPACE, is_admin=yes)
        ),
    }


def measure(objectives: int, runs: int, work: Path) -> dict[str, Any]:
    engine = sqlite_engine(work / "modal_build.db")
    fill_workspace(engine, objectives=objectives, today=date.today())
    with engine.connect() as connection:
        objective_id, owner = connection.execute(
            text("SELECT id, owner_id FROM objective WHERE workspace_id = :w ORDER BY id DESC"),
            {"w": BENCH_WORKSPACE},
        ).first()  # type: ignore[misc]
    deps = make_deps(engine, clock=lambda: datetime.now(UTC))
    results: dict[str, Any] = {}
    for name, build in _builders(deps, owner, objective_id).items():
        view = build()  # warm-up
        times = []
        for _ in range(runs):
            began = time.perf_counter()
            build()
            times.append((time.perf_counter() - began) * 1000)
        results[name] = {
            "median_ms": round(statistics.median(times), 2),
            "max_ms": round(max(times), 2),
            "view_bytes": len(json.dumps(view)),
        }
        print(f"{name}: {results[name]}", flush=True)
    engine.dispose()
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.modal_build", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny sizes")
    parser.add_argument("--objectives", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--out", type=Path, help="results folder (default bench/results)")
    args = parser.parse_args(argv)
    if args.quick:
        args.objectives, args.runs = 10, 2
    info = machine()
    with tempfile.TemporaryDirectory(prefix="ladder-bench-") as tmp:
        results = measure(args.objectives, args.runs, Path(tmp))
    data = {"machine": info, "params": {"objectives": args.objectives, "runs": args.runs}}
    data["results"] = results
    rows = [
        [name, fmt(r["median_ms"]), fmt(r["max_ms"]), f"{r['view_bytes']:,}"]
        for name, r in results.items()
    ]
    markdown = (
        f"# Modal build cost ({args.objectives:,} objectives)\n\n{machine_line(info)}\n\n"
        + table(["modal", "median ms", "max ms", "view bytes"], rows)
        + "\n"
    )
    json_path, md_path = write_results("modal_build", data, markdown, out=args.out)
    print(markdown)
    print(f"written: {json_path} {md_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
