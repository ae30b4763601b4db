"""Footprint: cold start and peak memory of `python -m bot serve` on a big workspace.

    .venv/bin/python -m bench.footprint           # 10,000 people, 10,000 objectives, 50,000 KRs
    .venv/bin/python -m bench.footprint --quick   # smoke run

The database is filled first; then the production server starts as a subprocess against the
Slack stand-in, with Ladder's default WEB_CONCURRENCY (2: a parent that binds the listening
socket, forks two web processes serving it with waitress, and then only supervises them;
`--web-concurrency N` to try others, 1 = one process serves). Cold start = process spawned →
/healthz answers 200 (the first web process up), and → the first signed `/okr status` is
acknowledged; measured over several starts. After serving a handful of `/okr status` (team and
all) and Home tab requests, each on a new connection as Slack sends them (so they spread over
the web processes), peak RSS (VmHWM), RSS and PSS are read from /proc for every process of
the server's tree (Linux only) and summed. RSS counts pages the processes share
(copy-on-write after the fork) once per process; PSS splits them, so the PSS sum is what the
tree really costs.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    BOT_TOKEN,
    SECRET,
    Server,
    WatchedStandIn,
    cpu_seconds,
    fmt,
    free_port,
    machine,
    machine_line,
    memory_of,
    server_env,
    start_server,
    table,
    verdict,
    write_results,
)
from bench.data import BENCH_WORKSPACE, fill_workspace, sqlite_engine
from tests.support.slack_sender import SlackSender

RSS_TARGET_MB = 250.0
START_TARGET_S = 2.0
FOLLOW_UP_TIMEOUT = 60.0


def _first_ack(server: Server, standin: WatchedStandIn, channel: str) -> float:
    """Seconds from spawn until a first signed `/okr status` is acknowledged."""
    with SlackSender(server.events_url, SECRET, standin, team_id=BENCH_WORKSPACE) as sender:
        answer = sender.slash_command("status", user_id="U0B0000000", channel_id=channel)
        done = time.perf_counter() - server.started_at
        if answer.status_code != 200:
            raise RuntimeError(f"first /okr status answered {answer.status_code}: {answer.text}")
        if not standin.wait_key(f"response:{sender.last_response_url}", timeout=FOLLOW_UP_TIMEOUT):
            raise RuntimeError("no answer to the first /okr status")
    return done


def _serve_a_handful(
    server: Server, standin: WatchedStandIn, channels: list[str], users: list[str]
) -> dict[str, int]:
    """/okr status (team, all) and Home for a few people, each answered before the next."""
    served = {"status_team": 0, "status_all": 0, "home": 0}
    # A new connection per request, as Slack sends them: each is accepted by whichever web
    # process gets to it first, so the handful spreads over them.
    http = httpx.Client(timeout=60, limits=httpx.Limits(max_keepalive_connections=0))
    with (
        http,
        SlackSender(
            server.events_url, SECRET, standin, team_id=BENCH_WORKSPACE, client=http
        ) as sender,
    ):
        for i in range(3):
            for text, channel, kind in (
                ("status", channels[i % len(channels)], "status_team"),
                ("status all", "C0GENERAL", "status_all"),
            ):
                answer = sender.slash_command(text, user_id=users[i], channel_id=channel)
                assert answer.status_code == 200, answer.text
                if not standin.wait_key(
                    f"response:{sender.last_response_url}", timeout=FOLLOW_UP_TIMEOUT
                ):
                    raise RuntimeError(f"no answer to /okr {text}")
                served[kind] += 1
            before = len(standin.calls("views.publish"))
            assert sender.app_home_opened(user_id=users[i]).status_code == 200
            standin.wait_for("views.publish", count=before + 1, timeout=FOLLOW_UP_TIMEOUT)
            served["home"] += 1
    refused = [c.error for c in standin.calls() if not c.ok and c.method != "auth.test"]
    if refused:
        raise RuntimeError(f"Slack refused answers: {refused[:5]}")
    return served


def _names(server: Server, pids: list[int]) -> dict[int, str]:
    """ "server" when one process serves; else "parent" and "worker <pid>"."""
    if server.processes == 1:
        return {pid: "server" if pid == server.proc.pid else f"child {pid}" for pid in pids}
    return {pid: "parent" if pid == server.proc.pid else f"worker {pid}" for pid in pids}


def measure(
    *, people: int, objectives: int, starts: int, work: Path, web_concurrency: int | None = None
) -> dict[str, Any]:
    path = work / "footprint.db"
    engine = sqlite_engine(path)
    began = time.perf_counter()
    filled = fill_workspace(
        engine, objectives=objectives, today=date.today(), users=people, people=people
    )
    fill_s = time.perf_counter() - began
    engine.dispose()
    channels = list(filled.channels.values())
    result: dict[str, Any] = {
        "people": people,
        "objectives": filled.objectives,
        "key_results": filled.key_results,
        "database_mb": round(path.stat().st_size / 1024 / 1024, 1),
        "fill_s": round(fill_s, 1),
        "starts": [],
    }
    with WatchedStandIn() as standin:
        standin.add_workspace(BENCH_WORKSPACE, bot_token=BOT_TOKEN, team_name="Bench Co")
        # Every owner: status and Home ask Slack for the names of the owners they show.
        for uid in filled.users:
            standin.add_user(BENCH_WORKSPACE, uid, tz="UTC", tz_offset=0, tz_label="UTC")
        for n in range(starts):
            env = server_env(
                SLACK_BOT_TOKEN=BOT_TOKEN,
                SLACK_SIGNING_SECRET=SECRET,
                SLACK_API_URL=standin.api_url,
                DATABASE_URL=f"sqlite:///{path}",
                PORT=str(free_port()),
                **({"WEB_CONCURRENCY": str(web_concurrency)} if web_concurrency else {}),
            )
            server = start_server("bot", env=env, cwd=work, args=["serve"])
            result["web_concurrency"] = server.processes
            try:
                healthy = server.wait_healthy()
                acked = _first_ack(server, standin, channels[0])
                start = {"healthz_s": round(healthy, 3), "first_ack_s": round(acked, 3)}
                if n == starts - 1:  # the last start also serves and is measured
                    server.wait_serving()  # every web process, not only the first one up
                    pids = server.pids()
                    cpu_before = {pid: cpu_seconds(pid) or 0.0 for pid in pids}
                    start["served"] = _serve_a_handful(server, standin, channels, filled.users)
                    names = _names(server, pids)
                    memory = {}
                    for pid in pids:
                        memory[names[pid]] = {
                            **memory_of(pid),
                            # CPU time spent while serving the handful: shows which served
                            "cpu_s_serving": round((cpu_seconds(pid) or 0.0) - cpu_before[pid], 2),
                        }
                    result["memory"] = memory
                    result["processes"] = len(pids)
                result["starts"].append(start)
                print(f"start {n + 1}: {start}", flush=True)
            finally:
                server.stop()
    totals = {
        key: round(sum(m[key] or 0 for m in result["memory"].values()), 1)
        for key in ("peak_rss_mb", "rss_mb", "pss_mb")
    }
    result["memory_total"] = totals
    acks = [s["first_ack_s"] for s in result["starts"]]
    health = [s["healthz_s"] for s in result["starts"]]
    result["cold_start"] = {
        "healthz_median_s": round(statistics.median(health), 3),
        "first_ack_median_s": round(statistics.median(acks), 3),
        "first_ack_max_s": round(max(acks), 3),
    }
    return result


def _tree(r: dict[str, Any]) -> str:
    workers = r["processes"] - 1
    if r["web_concurrency"] == 1:
        return "the one server process"
    return f"parent + {workers} worker{'s' if workers != 1 else ''}"


def checks(r: dict[str, Any]) -> list[dict[str, Any]]:
    total = r["memory_total"]
    return [
        {
            "target": f"peak memory < {RSS_TARGET_MB:.0f} MB (sum over {_tree(r)})",
            "measured": f"peak RSS sum {total['peak_rss_mb']} MB (PSS now {total['pss_mb']} MB)",
            "ok": total["peak_rss_mb"] < RSS_TARGET_MB,
        },
        {
            "target": f"cold start < {START_TARGET_S:.0f} s (spawn → first /okr status acked)",
            "measured": f"median {r['cold_start']['first_ack_median_s']} s, max "
            f"{r['cold_start']['first_ack_max_s']} s over {len(r['starts'])} starts",
            "ok": r["cold_start"]["first_ack_max_s"] < START_TARGET_S,
        },
    ]


def markdown(data: dict[str, Any]) -> str:
    r = data["results"]
    memory_rows = [
        [
            name,
            fmt(m["peak_rss_mb"]),
            fmt(m["rss_mb"]),
            fmt(m["pss_mb"]),
            fmt(m["cpu_s_serving"], " s"),
        ]
        for name, m in r["memory"].items()
    ]
    t = r["memory_total"]
    memory_rows.append(["**sum**", fmt(t["peak_rss_mb"]), fmt(t["rss_mb"]), fmt(t["pss_mb"]), ""])
    return "\n".join(
        [
            "# Footprint",
            "",
            f"Machine: {machine_line(data['machine'])}.",
            f"Command: `{data['command']}`",
            "",
            f"Database: {r['people']:,} people, {r['objectives']:,} objectives, "
            f"{r['key_results']:,} KRs (SQLite, {r['database_mb']} MB).",
            "",
            table(
                ["start", "spawn → /healthz 200", "spawn → first /okr status acked"],
                [
                    [i + 1, fmt(s["healthz_s"], " s"), fmt(s["first_ack_s"], " s")]
                    for i, s in enumerate(r["starts"])
                ],
            ),
            "",
            f"Server: WEB_CONCURRENCY={r['web_concurrency']}, {r['processes']} process(es) "
            f"({_tree(r)}).",
            "",
            "Memory after serving 3 × `/okr status` (team), 3 × `/okr status all`, 3 × Home, "
            "each on a new connection (MB; CPU = the process's CPU time during those requests):",
            "",
            table(
                ["process", "peak RSS (VmHWM)", "RSS now", "PSS now", "CPU serving"],
                memory_rows,
            ),
            "",
            table(
                ["target", "measured", "result"],
                [[c["target"], c["measured"], verdict(c["ok"])] for c in data["checks"]],
            ),
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.footprint", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: a small database, one start"
    )
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--objectives", type=int, default=10_000)
    parser.add_argument("--starts", type=int, default=3, help="cold starts to time")
    parser.add_argument(
        "--web-concurrency",
        type=int,
        help="WEB_CONCURRENCY for the server (default: unset, Ladder's default of 2)",
    )
    parser.add_argument("--out", type=Path, help="results folder (default bench/results)")
    args = parser.parse_args(argv)
    if args.quick:
        args.people, args.objectives, args.starts = 50, 20, 1
    info = machine()
    with tempfile.TemporaryDirectory(prefix="ladder-bench-") as tmp:
        results = measure(
            people=args.people,
            objectives=args.objectives,
            starts=args.starts,
            work=Path(tmp),
            web_concurrency=args.web_concurrency,
        )
    data = {
        "machine": info,
        "command": "python -m bench.footprint"
        + (" --quick" if args.quick else "")
        + (f" --web-concurrency {args.web_concurrency}" if args.web_concurrency else ""),
        "params": {
            "people": args.people,
            "objectives": args.objectives,
            "starts": args.starts,
            "web_concurrency": args.web_concurrency,
        },
        "results": results,
        "checks": checks(results),
    }
    json_path, md_path = write_results("footprint", data, markdown(data), out=args.out)
    print(md_path.read_text())
    print(f"written: {json_path} {md_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
