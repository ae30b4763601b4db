"""How `/okr status all` scales: SQL statements, load time and render time by tree size.

    .venv/bin/python -m bench.status_scaling           # 10, 100, 1,000, 10,000 objectives
    .venv/bin/python -m bench.status_scaling --quick   # smoke run

The load is the service call behind the command (`TreeService.status(scope=status_scope("all"))`:
storage.tree.load_tree and the OKR roll-up); the render is `bot.blocks.tree.
build_status_message`. Statements are counted with an SQLAlchemy `before_cursor_execute`
listener (transaction control left out). Each size gets a fresh SQLite file with 5 KRs per
objective; times are medians of several runs after a warm-up. The plot
(bench/results/status_scaling.png) needs matplotlib: `pip install -e ".[bench]"`.
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

from bench.common import RESULTS, fmt, machine, machine_line, table, verdict, write_results
from bench.data import fill_workspace, sqlite_engine
from bot.blocks.tree import build_status_message, status_scope, status_scope_label
from bot.services.trees import StatusShown, TreeService
from storage.tree import LoadedTree

SIZES = (10, 100, 1_000, 10_000)
SLOPE_TARGET = 1.1  # log-log slope between the two largest sizes: 1.0 is linear


@contextmanager
def counting(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn, _cursor, statement, _params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        if not statement.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE", "COMMIT")):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _median_seconds(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    result = fn()  # warm-up: imports, statement cache, SQLite page cache
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times), result


def measure_size(engine: Engine, size: int, *, today: date, repeats: int) -> dict[str, Any]:
    filled = fill_workspace(engine, objectives=size, today=today)
    now = datetime.combine(today, datetime.min.time(), tzinfo=UTC).replace(hour=12)
    service = TreeService(engine, clock=lambda: now)
    out: dict[str, Any] = {"objectives": filled.objectives, "key_results": filled.key_results}
    channel = next(iter(filled.channels.values()))
    for scope, channel_id, argument in (("all", "", "all"), ("team", channel, "")):

        def load(channel_id: str = channel_id, argument: str = argument) -> tuple[LoadedTree, str]:
            found = service.status(
                workspace_id=filled.workspace_id,
                channel_id=channel_id,
                scope=status_scope(argument),
            )
            assert isinstance(found, StatusShown), found
            return found.tree, status_scope_label(found)

        with counting(engine) as statements:
            load()
        load_s, (tree, label) = _median_seconds(load, repeats)
        render_s, message = _median_seconds(
            lambda tree=tree, label=label: build_status_message(tree=tree, scope=label, now=now),
            repeats,
        )
        out[scope] = {
            "statements": len(statements),
            "statement_list": statements,
            "shown_objectives": len(tree.objectives),
            "load_ms": round(load_s * 1000, 2),
            "render_ms": round(render_s * 1000, 2),
            "total_ms": round((load_s + render_s) * 1000, 2),
            "us_per_objective": round((load_s + render_s) * 1e6 / max(1, len(tree.objectives)), 1),
            "blocks": len(message["blocks"]),
        }
    return out


def analyse(per_size: dict[str, Any]) -> list[dict[str, Any]]:
    sizes = sorted(per_size, key=int)
    counts = {per_size[s]["all"]["statements"] for s in sizes}
    team_counts = {per_size[s]["team"]["statements"] for s in sizes}
    checks: list[dict[str, Any]] = [
        {
            "target": "statement count constant (status all)",
            "measured": ", ".join(f"{int(s):,}: {per_size[s]['all']['statements']}" for s in sizes),
            "ok": len(counts) == 1,
        },
        {
            "target": "statement count constant (status in a team channel)",
            "measured": ", ".join(
                f"{int(s):,}: {per_size[s]['team']['statements']}" for s in sizes
            ),
            "ok": len(team_counts) == 1,
        },
    ]
    if len(sizes) >= 2:
        a, b = sizes[-2], sizes[-1]
        ta, tb = per_size[a]["all"]["total_ms"], per_size[b]["all"]["total_ms"]
        slope = math.log(tb / ta) / math.log(int(b) / int(a))
        checks.append(
            {
                "target": f"time grows no worse than linearly (log-log slope {int(a):,}→"
                f"{int(b):,} ≤ {SLOPE_TARGET})",
                "measured": f"slope {slope:.2f}; {per_size[a]['all']['us_per_objective']} → "
                f"{per_size[b]['all']['us_per_objective']} µs per objective",
                "ok": slope <= SLOPE_TARGET,
            }
        )
    return checks


def plot(per_size: dict[str, Any], path: Path, machine_text: str) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FuncFormatter, NullFormatter
    except ImportError:
        print('matplotlib is not installed (pip install -e ".[bench]"): no plot')
        return False
    sizes = sorted(per_size, key=int)
    xs = [int(s) for s in sizes]
    load = [per_size[s]["all"]["load_ms"] for s in sizes]
    render = [per_size[s]["all"]["render_ms"] for s in sizes]
    total = [per_size[s]["all"]["total_ms"] for s in sizes]
    per_obj = [per_size[s]["all"]["us_per_objective"] for s in sizes]
    statements = [per_size[s]["all"]["statements"] for s in sizes]

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.6))
    left.loglog(xs, total, "o-", color="#1f4e79", label="total (load + render)")
    left.loglog(xs, load, "s--", color="#2e86c1", label="load: service + SQL + roll-up")
    left.loglog(xs, render, "^--", color="#e67e22", label="render: Block Kit message")
    ref = total[-1] / xs[-1]
    left.loglog(xs, [ref * x for x in xs], ":", color="grey", label="linear (through largest)")
    for x, t, n in zip(xs, total, statements, strict=True):
        left.annotate(f"{n} SQL", (x, t), textcoords="offset points", xytext=(-14, 8), fontsize=8)
    left.set_xlabel("objectives in the workspace (5 KRs each)")
    left.set_ylabel("milliseconds (median)")
    left.set_title("/okr status all: time and SQL statements")
    left.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=8)

    right.semilogx(xs, per_obj, "o-", color="#1f4e79")
    for x, v in zip(xs, per_obj, strict=True):
        right.annotate(
            f"{v:,.0f} µs", (x, v), textcoords="offset points", xytext=(-16, 8), fontsize=8
        )
    right.set_ylim(0, max(per_obj) * 1.25)
    right.set_xlabel("objectives in the workspace")
    right.set_ylabel("µs per objective (total)")
    right.set_title("Cost per objective (flat or falling = linear or better)")
    right.grid(True, which="major", alpha=0.3)
    # Plain numbers (1,000), not powers of ten; room above the top labels.
    plain = FuncFormatter(lambda value, _pos: f"{value:,g}")
    for axis in (left.xaxis, left.yaxis, right.xaxis, right.yaxis):
        axis.set_major_formatter(plain)
        axis.set_minor_formatter(NullFormatter())
    left.set_ylim(top=max(total) * 2.5)

    fig.suptitle(machine_text, fontsize=8, y=0.02, va="bottom")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def markdown(data: dict[str, Any]) -> str:
    rows = []
    for size, r in data["results"].items():
        for scope in ("all", "team"):
            s = r[scope]
            rows.append(
                [
                    f"{int(size):,}",
                    scope,
                    f"{s['shown_objectives']:,}",
                    s["statements"],
                    fmt(s["load_ms"]),
                    fmt(s["render_ms"]),
                    fmt(s["total_ms"]),
                    fmt(s["us_per_objective"]),
                    s["blocks"],
                ]
            )
    return "\n".join(
        [
            "# Status render scaling",
            "",
            f"Machine: {machine_line(data['machine'])}.",
            f"Command: `{data['command']}`",
            "",
            "`/okr status all` (scope *all*) and `/okr status` in a channel linked to a team "
            "(scope *team*). Load = `TreeService.status` (SQL, result rows, roll-up); render = "
            "`build_status_message`. Medians in ms; statements exclude transaction control.",
            "",
            table(
                [
                    "objectives",
                    "scope",
                    "loaded objectives",
                    "SQL statements",
                    "load ms",
                    "render ms",
                    "total ms",
                    "µs / objective",
                    "blocks",
                ],
                rows,
            ),
            "",
            table(
                ["target", "measured", "result"],
                [[c["target"], c["measured"], verdict(c["ok"])] for c in data["checks"]],
            ),
            "",
            f"Plot: {data.get('plot') or 'not drawn (matplotlib missing)'}",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.status_scaling", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 10 and 100 objectives")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per size (median)")
    parser.add_argument("--out", type=Path, help="results folder (default bench/results)")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.repeats = [10, 100], 2
    info = machine()
    today = date.today()
    results: dict[str, Any] = {}
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ladder-bench-") as tmp:
        for size in args.sizes:
            engine = sqlite_engine(Path(tmp) / f"status-{size}.db")
            repeats = max(1, args.repeats if size < 10_000 else min(args.repeats, 3))
            results[str(size)] = measure_size(engine, size, today=today, repeats=repeats)
            engine.dispose()
            r = results[str(size)]["all"]
            print(
                f"{size:>6} objectives: {r['statements']} statements, load {r['load_ms']} ms, "
                f"render {r['render_ms']} ms, {r['us_per_objective']} µs/objective",
                flush=True,
            )
    out = args.out or RESULTS
    png = out / "status_scaling.png"
    data: dict[str, Any] = {
        "machine": info,
        "command": "python -m bench.status_scaling" + (" --quick" if args.quick else ""),
        "params": {"sizes": args.sizes, "repeats": args.repeats},
        "wall_s": round(time.perf_counter() - began, 1),
        "results": results,
        "checks": analyse(results),
    }
    if plot(results, png, f"Ladder bench · {machine_line(info)}"):
        data["plot"] = str(png.relative_to(out.parent) if out == RESULTS else png)
    json_path, md_path = write_results("status_scaling", data, markdown(data), out=args.out)
    print(md_path.read_text())
    print(f"written: {json_path} {md_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
