"""`/okr status all` CPU per message against its floor, at 1,000 / 10,000 / 50,000 objectives.

    .venv/bin/python -m bench.status_floor            # 1,000, 10,000 and 50,000 objectives
    .venv/bin/python -m bench.status_floor --quick    # smoke run: 100 and 1,000

For each size, one SQLite file (bench.data.fill_workspace, 5 KRs per objective; the stored
roll-up built once with storage.rollup.rebuild_workspace, as the migration's backfill does)
and, in the same run, side by side:
- *message*: what serves `/okr status all`: `TreeService.status` (stored roll-up, the shown
  objectives in tree order, their KRs, the view's totals) + `build_status_message`;
- *floor*: the same message from objectives whose ids are known beforehand: workspace,
  cycles, teams, those objectives by primary key, their KRs, KR health, render. No ordering,
  no totals: nothing cheaper shows the same screen;
- *whole tree* (the code before, for reference): `storage.tree.load_tree` of everything and
  the core roll-up of the whole tree + render.
CPU seconds (time.process_time: the machine is shared), medians; statements counted with a
`before_cursor_execute` listener. Peak RSS comes from a child process that imports only the
bot, opens the database, serves five status messages and reports its peak (VmHWM), against
the same child's peak before its first message.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from bench.common import fmt, machine, machine_line, table, verdict, write_results
from bench.data import fill_workspace, sqlite_engine
from bench.status_scaling import counting
from bot.blocks.tree import build_status_message, status_scope, status_scope_label
from bot.okr.rollup import StatusDays, status_on
from bot.okr.tree import ObjectiveHealth, TreeHealth, Window, evaluate_kr
from bot.services.trees import StatusShown, TreeService
from storage.models import Cycle, KeyResult, Objective, Team, Workspace
from storage.rollup import rebuild_workspace
from storage.tree import LoadedTree, load_shown_tree, load_tree, status_rules

SIZES = (1_000, 10_000, 50_000)
FLOOR_RATIO = 3.0
FLAT_RATIO = 1.5  # message CPU at the largest size / at the smallest: flat, not linear
RSS_MB = 200.0


def cpu_median(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    result = fn()  # warm-up
    times = []
    for _ in range(repeats):
        began = time.process_time()
        result = fn()
        times.append(time.process_time() - began)
    return statistics.median(times), result


def floor_tree(session: Session, workspace_id: str, ids: list[int], today: date) -> LoadedTree:
    """The shown objectives by primary key with their KRs: the least any loader must read."""
    workspace = session.get(Workspace, workspace_id)
    assert workspace is not None
    cycles = {
        c.id: c for c in session.exec(select(Cycle).where(Cycle.workspace_id == workspace_id))
    }
    teams = {t.id: t for t in session.exec(select(Team).where(Team.workspace_id == workspace_id))}
    columns = Objective.__table__.columns  # type: ignore[attr-defined]
    objectives = session.execute(sa.select(*columns).where(columns.id.in_(ids))).all()
    kr_columns = KeyResult.__table__.columns  # type: ignore[attr-defined]
    krs = session.execute(
        sa.select(*kr_columns)
        .where(kr_columns.objective_id.in_(ids), kr_columns.archived_at.is_(None))
        .order_by(kr_columns.objective_id, kr_columns.position)
    ).all()
    rules = status_rules(workspace)
    cycle_of = {o.id: o.cycle_id for o in objectives}
    windows = {c.id: Window(c.start_date, c.end_date) for c in cycles.values()}
    kr_health = {
        kr.id: evaluate_kr(kr, window=windows[cycle_of[kr.objective_id]], today=today, rules=rules)
        for kr in krs
    }
    # Objective health as stored: the floor does not roll anything up either.
    health = {
        o.id: ObjectiveHealth(
            progress=o.rollup_progress,
            expected=0.5,
            status=status_on(
                StatusDays(bool(o.rollup_rated), o.rollup_at_risk_on, o.rollup_off_track_on), today
            ),
        )
        for o in objectives
    }
    return LoadedTree(
        workspace=workspace,
        cycles=cycles,  # type: ignore[arg-type]
        teams=teams,  # type: ignore[arg-type]
        objectives=objectives,  # type: ignore[arg-type]
        key_results=krs,  # type: ignore[arg-type]
        health=TreeHealth(
            objectives=health, krs=kr_health, children={}, roots=[o.id for o in objectives]
        ),
    )


def measure(
    engine: sa.Engine, size: int, *, today: date, repeats: int, whole: bool
) -> dict[str, Any]:
    began = time.process_time()
    filled = fill_workspace(engine, objectives=size, today=today, rollup=False)
    fill_s = time.process_time() - began
    began = time.process_time()
    with engine.begin() as connection:
        rebuild_workspace(connection=connection, workspace_id=filled.workspace_id)
    rebuild_s = time.process_time() - began
    now = datetime.combine(today, datetime.min.time(), tzinfo=UTC).replace(hour=12)
    service = TreeService(engine, clock=lambda: now)

    def message() -> dict:
        found = service.status(
            workspace_id=filled.workspace_id, channel_id="", scope=status_scope("all")
        )
        assert isinstance(found, StatusShown), found
        return build_status_message(tree=found.tree, scope=status_scope_label(found), now=now)

    with counting(engine) as statements:
        shown_message = message()
    message_s, shown_message = cpu_median(message, repeats)
    with Session(engine) as session:
        probe = load_shown_tree(
            session=session, workspace_id=filled.workspace_id, today=today, limit=50
        )
        ids = [o.id for o, _ in probe.walk()][:47]

    def floor() -> dict:
        with Session(engine) as session:
            tree = floor_tree(session, filled.workspace_id, ids, today)
            return build_status_message(tree=tree, scope="all objectives", now=now)

    floor_s, _ = cpu_median(floor, repeats)
    out: dict[str, Any] = {
        "objectives": filled.objectives,
        "key_results": filled.key_results,
        "fill_cpu_s": round(fill_s, 2),
        "rollup_rebuild_cpu_s": round(rebuild_s, 2),
        "statements": len(statements),
        "message_cpu_ms": round(message_s * 1000, 2),
        "floor_cpu_ms": round(floor_s * 1000, 2),
        "ratio_to_floor": round(message_s / floor_s, 2),
        "blocks": len(shown_message["blocks"]),
    }
    if whole:

        def whole_tree() -> dict:
            with Session(engine) as session:
                tree = load_tree(session=session, workspace_id=filled.workspace_id, today=today)
                return build_status_message(tree=tree, scope="all objectives", now=now)

        whole_s, _ = cpu_median(whole_tree, 1)
        out["whole_tree_cpu_ms"] = round(whole_s * 1000, 1)
    return out


# The serving process's share of the work, with only what the bot imports (no bench code).
RSS_CHILD = """
import json, resource, sys
from datetime import UTC, date, datetime
from bot.blocks.tree import build_status_message, status_scope, status_scope_label
from bot.services.settings import SettingsService
from bot.services.trees import TreeService
from storage.db import make_engine

def mb():
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork + exec.
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)

engine = make_engine("sqlite:///" + sys.argv[1])
now = datetime.combine(date.today(), datetime.min.time(), tzinfo=UTC).replace(hour=12)
service = TreeService(engine, clock=lambda: now)
SettingsService(engine, clock=lambda: now).statements(workspace_id="T0BENCH")  # connected, warm
before = mb()
for _ in range(5):
    found = service.status(workspace_id="T0BENCH", channel_id="", scope=status_scope("all"))
    build_status_message(tree=found.tree, scope=status_scope_label(found), now=now)
print(json.dumps({"rss_before_mb": before, "peak_rss_mb": mb()}))
"""


def rss_of_serving(path: Path) -> dict[str, float]:
    """Peak RSS of a fresh process serving five `/okr status all` from `path`."""
    child = subprocess.run(
        [sys.executable, "-c", RSS_CHILD, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    return json.loads(child.stdout.strip().splitlines()[-1])


def markdown(data: dict[str, Any]) -> str:
    rows = [
        [
            f"{int(size):,}",
            f"{r['key_results']:,}",
            r["statements"],
            fmt(r["floor_cpu_ms"]),
            fmt(r["message_cpu_ms"]),
            f"{r['ratio_to_floor']}×",
            fmt(r.get("whole_tree_cpu_ms")),
            fmt(r["rss"]["rss_before_mb"]),
            fmt(r["rss"]["peak_rss_mb"]),
            fmt(r["rollup_rebuild_cpu_s"]),
        ]
        for size, r in data["results"].items()
    ]
    return "\n".join(
        [
            "# `/okr status all` against its floor",
            "",
            f"Machine: {machine_line(data['machine'])}.",
            f"Command: `{data['command']}`",
            "",
            "CPU ms per message (process time, median); *floor* = the shown objectives read by "
            "primary key with their KRs, KR health and render; *message* = what serves the "
            "command (stored roll-up, first objectives in tree order, totals); *whole tree* = "
            "the previous code (load and roll up everything). RSS from a child process serving "
            "five messages. Rebuild = the backfill of the stored roll-up (once, at migration).",
            "",
            table(
                [
                    "objectives",
                    "KRs",
                    "SQL statements",
                    "floor ms",
                    "message ms",
                    "message / floor",
                    "whole tree ms",
                    "RSS before MB",
                    "peak RSS MB",
                    "rebuild s",
                ],
                rows,
            ),
            "",
            table(
                ["target", "measured", "result"],
                [[c["target"], c["measured"], verdict(c["ok"])] for c in data["checks"]],
            ),
        ]
    )


def analyse(results: dict[str, Any]) -> list[dict[str, Any]]:
    sizes = sorted(results, key=int)
    first, last = results[sizes[0]], results[sizes[-1]]
    return [
        {
            "target": f"message ≤ {FLOOR_RATIO}× floor at each size",
            "measured": ", ".join(f"{int(s):,}: {results[s]['ratio_to_floor']}×" for s in sizes),
            "ok": all(results[s]["ratio_to_floor"] <= FLOOR_RATIO for s in sizes),
        },
        {
            "target": f"flat in objectives not shown (largest / smallest ≤ {FLAT_RATIO})",
            "measured": f"{last['message_cpu_ms']} / {first['message_cpu_ms']} ms = "
            f"{last['message_cpu_ms'] / first['message_cpu_ms']:.2f} for "
            f"{int(sizes[-1]) // int(sizes[0])}× the objectives",
            "ok": last["message_cpu_ms"] / first["message_cpu_ms"] <= FLAT_RATIO,
        },
        {
            "target": "statements per message constant",
            "measured": ", ".join(f"{int(s):,}: {results[s]['statements']}" for s in sizes),
            "ok": len({results[s]["statements"] for s in sizes}) == 1,
        },
        {
            "target": f"peak RSS < {RSS_MB:.0f} MB at the largest size, not growing with the tree",
            "measured": ", ".join(
                f"{int(s):,}: {results[s]['rss']['peak_rss_mb']} MB" for s in sizes
            ),
            "ok": last["rss"]["peak_rss_mb"] < RSS_MB
            and last["rss"]["peak_rss_mb"] - first["rss"]["peak_rss_mb"] < 10,
        },
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.status_floor", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--no-whole", action="store_true", help="skip the whole-tree reference")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.repeats = [100, 1_000], 5
    info = machine()
    today = date.today()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="ladder-bench-") as tmp:
        for size in args.sizes:
            path = Path(tmp) / f"status-{size}.db"
            engine = sqlite_engine(path)
            results[str(size)] = r = measure(
                engine, size, today=today, repeats=args.repeats, whole=not args.no_whole
            )
            engine.dispose()  # the last connection to close folds the WAL into the file
            r["rss"] = rss_of_serving(path)
            print(f"{size:>6}: {r}", flush=True)
    data: dict[str, Any] = {
        "machine": info,
        "command": "python -m bench.status_floor" + (" --quick" if args.quick else ""),
        "params": {"sizes": args.sizes, "repeats": args.repeats},
        "results": results,
        "checks": analyse(results),
    }
    json_path, md_path = write_results("status_floor", data, markdown(data), out=args.out)
    print(md_path.read_text())
    print(f"written: {json_path} {md_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
