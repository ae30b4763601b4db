"""Ack latency and follow-up time of `/okr` commands on the production server.

    .venv/bin/python -m bench.ack_latency            # full: 10 / 1,000 / 10,000 objectives
    .venv/bin/python -m bench.ack_latency --quick    # smoke run, a few seconds

`python -m bot serve` (gunicorn, gthread) runs as a subprocess on a pre-filled SQLite file, its
Web API client pointed at a Slack stand-in in this process. Clients send v0-signed slash
commands as Slack does: `/okr status` in a channel linked to a team, `/okr status all` and
`/okr new`, each client waiting for its follow-up (the response_url post or views.open) before
its next command, so "concurrency" is the number of interactions in flight. Measured per
request: the ack (HTTP response time seen by the client) and the follow-up (from sending the
command until the stand-in recorded the answer). The baselines are two bare Bolt apps that
only ack, served the same way: one with Bolt's defaults, one answering at its ack as Ladder
runs Bolt (process_before_response=True).
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    BOT_TOKEN,
    SECRET,
    Server,
    WatchedStandIn,
    fmt,
    free_port,
    machine,
    machine_line,
    server_env,
    start_server,
    summary_ms,
    table,
    verdict,
    write_results,
)
from bench.data import BENCH_WORKSPACE, fill_workspace, sqlite_engine
from tests.support.slack_sender import SlackSender

KINDS = ("status_channel", "status_all", "new")
FOLLOW_UP_TIMEOUT = 120.0
ACK_TARGET_MS = 100.0
ACK_RATIO_TARGET = 1.3
LARGE = 10_000
NEAR_DEADLINE_S = 1.0
# The baselines: Bolt's defaults, and Bolt answering when the listener returns
# (process_before_response=True, how Ladder runs it).
BARES: dict[str, dict[str, str]] = {
    "bare": {},
    "bare_at_ack": {"BARE_ANSWER": "at_ack"},
}  # "never near 3 s": the slowest ack must stay under a third of it


@dataclass
class Sample:
    kind: str
    sent_at: float  # time.monotonic(), the stand-in's clock
    ack: float | None  # seconds; None = no HTTP answer
    status: int | None
    key: str
    follow_up: float | None = None
    failure: str | None = None


@dataclass
class Fixture:
    """What the clients need about the workspace under test."""

    team_channels: list[str]
    unlinked_channel: str = "C0GENERAL"


def _command(kind: str, client: int, step: int, fixture: Fixture) -> tuple[str, str]:
    team_channel = fixture.team_channels[(client + step) % len(fixture.team_channels)]
    if kind == "status_channel":
        return "status", team_channel
    if kind == "status_all":
        return "status all", fixture.unlinked_channel
    return f"new Benchmark objective {client}-{step}", team_channel


def run_cell(
    standin: WatchedStandIn,
    url: str,
    fixture: Fixture,
    *,
    clients: int,
    requests: int,
    follow_up: bool,
    think: float = 0.0,
) -> list[Sample]:
    """`clients` threads share `requests` commands; closed loop on the whole interaction."""
    samples: list[Sample] = []
    lock = threading.Lock()
    start = threading.Barrier(clients)
    errors: list[BaseException] = []

    def client(i: int) -> None:
        mine = requests // clients + (1 if i < requests % clients else 0)
        user = f"U0CLIENT{i:03d}"
        try:
            # gunicorn drops idle keep-alive connections after 2 s; a client that reuses one
            # just then reads a reset, which would count as a lost ack. Expire them sooner.
            http = httpx.Client(timeout=60, limits=httpx.Limits(keepalive_expiry=1.0))
            with (
                http,
                SlackSender(url, SECRET, standin, team_id=BENCH_WORKSPACE, client=http) as sender,
            ):
                start.wait()
                for step in range(mine):
                    kind = KINDS[(i + step) % len(KINDS)]
                    text, channel = _command(kind, i, step, fixture)
                    sent = time.monotonic()
                    try:
                        answer = sender.slash_command(text, user_id=user, channel_id=channel)
                        ack, status = sender.last_ack_seconds, answer.status_code
                    except Exception as error:  # a timeout is a result, not a crash
                        ack, status = None, None
                        failure = f"no ack: {type(error).__name__}"
                    else:
                        failure = None if status == 200 else f"HTTP {status}"
                    key = (
                        f"trigger:{sender.last_trigger_id}"
                        if kind == "new"
                        else f"response:{sender.last_response_url}"
                    )
                    sample = Sample(kind, sent, ack, status, key, failure=failure)
                    if (
                        follow_up
                        and failure is None
                        and not standin.wait_key(key, timeout=FOLLOW_UP_TIMEOUT)
                    ):
                        sample.failure = f"no follow-up within {FOLLOW_UP_TIMEOUT:.0f}s"
                    with lock:
                        samples.append(sample)
                    if think:
                        time.sleep(think)  # a person reading the answer (--think-ms)
        except BaseException as error:
            errors.append(error)
            start.abort()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    if follow_up:
        _attach_follow_ups(standin, samples)
    return samples


def _attach_follow_ups(standin: WatchedStandIn, samples: list[Sample]) -> None:
    """Follow-up = stand-in record time − send time; a refused answer is a failure."""
    posted = {f"response:{p.url}": p.at for p in standin.responses}
    opened: dict[str, tuple[float, str | None]] = {}
    for call in standin.calls("views.open"):
        opened[f"trigger:{call.args.get('trigger_id')}"] = (
            call.at,
            None if call.ok else str(call.error or call.status),
        )
    for s in samples:
        if s.failure is not None:
            continue
        if s.key in posted:
            s.follow_up = posted[s.key] - s.sent_at
        elif s.key in opened:
            at, error = opened[s.key]
            if error is None:
                s.follow_up = at - s.sent_at
            else:
                s.failure = f"views.open refused: {error}"
        else:
            s.failure = "follow-up refused by Slack"


def summarize(samples: Sequence[Sample]) -> dict[str, Any]:
    failures: dict[str, int] = defaultdict(int)
    for s in samples:
        if s.failure:
            failures[s.failure] += 1
    return {
        "ack": summary_ms([s.ack for s in samples if s.ack is not None]),
        "follow_up": summary_ms([s.follow_up for s in samples if s.follow_up is not None]),
        "failures": dict(failures),
        "acks_over_3s": sum(1 for s in samples if s.ack is None or s.ack > 3.0),
    }


def _start(module: str, standin: WatchedStandIn, work: Path, **env: str) -> Server:
    settings = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": standin.api_url,
        "PORT": str(free_port()),
        **env,
    }
    args = ["serve"] if module == "bot" else []
    server = start_server(module, env=server_env(**settings), cwd=work, args=args)
    server.wait_healthy()
    return server


def _warm_up(standin: WatchedStandIn, server: Server, fixture: Fixture, *, follow_up: bool) -> None:
    """First requests pay for auth.test, lazy imports and a cold page cache: not measured."""
    run_cell(standin, server.events_url, fixture, clients=1, requests=6, follow_up=follow_up)
    standin.reset()
    standin.forget_keys()


def measure(
    *,
    sizes: Sequence[int],
    concurrency: Sequence[int],
    requests: int,
    large_requests: int,
    work: Path,
    think: float = 0.0,
) -> dict[str, Any]:
    today = date.today()
    results: dict[str, Any] = {**{name: {} for name in BARES}, "ladder": {}}
    with WatchedStandIn() as standin:
        standin.add_workspace(BENCH_WORKSPACE, bot_token=BOT_TOKEN, team_name="Bench Co")
        for i in range(max(concurrency)):
            standin.add_user(
                BENCH_WORKSPACE, f"U0CLIENT{i:03d}", tz="UTC", tz_offset=0, tz_label="UTC"
            )

        bare_fixture = Fixture(team_channels=["C0TEAM0000"])
        for name, env in BARES.items():
            bare = _start("bench.bare_app", standin, work, **env)
            try:
                _warm_up(standin, bare, bare_fixture, follow_up=False)
                for c in concurrency:
                    n = max(requests, c)
                    samples = run_cell(
                        standin,
                        bare.events_url,
                        bare_fixture,
                        clients=c,
                        requests=n,
                        follow_up=False,
                        think=think,
                    )
                    results[name][str(c)] = summarize(samples)
                    results[name][str(c)]["violations"] = list(standin.violations)
                    standin.reset()
                    print(f"{name} c={c:>3}: ack {results[name][str(c)]['ack']}", flush=True)
            finally:
                bare.stop()

        for size in sizes:
            path = work / f"ladder-{size}.db"
            engine = sqlite_engine(path)
            filled = fill_workspace(engine, objectives=size, today=today)
            engine.dispose()
            fixture = Fixture(team_channels=list(filled.channels.values()))
            server = _start("bot", standin, work, DATABASE_URL=f"sqlite:///{path}")
            per_size: dict[str, Any] = {
                "objectives": filled.objectives,
                "key_results": filled.key_results,
                "teams": len(filled.team_ids),
                "by_concurrency": {},
            }
            try:
                _warm_up(standin, server, fixture, follow_up=True)
                for c in concurrency:
                    n = max(large_requests if size >= LARGE else requests, c)
                    began = time.perf_counter()
                    samples = run_cell(
                        standin,
                        server.events_url,
                        fixture,
                        clients=c,
                        requests=n,
                        follow_up=True,
                        think=think,
                    )
                    cell: dict[str, Any] = {
                        "all": summarize(samples),
                        "by_kind": {
                            k: summarize([s for s in samples if s.kind == k]) for k in KINDS
                        },
                        "wall_s": round(time.perf_counter() - began, 2),
                        "violations": list(standin.violations),
                    }
                    per_size["by_concurrency"][str(c)] = cell
                    standin.reset()
                    standin.forget_keys()
                    print(
                        f"ladder {size:>6} c={c:>3}: ack {cell['all']['ack']} "
                        f"follow-up {cell['all']['follow_up']} failures {cell['all']['failures']}",
                        flush=True,
                    )
            finally:
                server.stop()
            results["ladder"][str(size)] = per_size
    return results


BARE_LABELS = {
    "bare": "bare Bolt app (Bolt's defaults)",
    "bare_at_ack": "bare Bolt app answering at its ack (Ladder's Bolt settings)",
}


def _p99(results: dict[str, Any], bare: str, c: str) -> float | None:
    p99: float | None = results.get(bare, {}).get(c, {}).get("ack", {}).get("p99_ms")
    return p99


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for size, per_size in results["ladder"].items():
        for c, cell in per_size["by_concurrency"].items():
            p99 = cell["all"]["ack"]["p99_ms"]
            if int(size) == 1_000:
                for bare in BARES:
                    bare_p99 = _p99(results, bare, c)
                    ratio = round(p99 / bare_p99, 2) if p99 is not None and bare_p99 else None
                    out.append(
                        {
                            "target": f"ack p99 ≤ {ACK_RATIO_TARGET}× the {BARE_LABELS[bare]}, "
                            f"1,000 objectives, c={c}",
                            "measured": f"{fmt(p99, ' ms')} vs {fmt(bare_p99, ' ms')} ({ratio}×)",
                            "ok": ratio is not None and ratio <= ACK_RATIO_TARGET,
                        }
                    )
                out.append(
                    {
                        "target": f"ack p99 < {ACK_TARGET_MS:.0f} ms at 1,000 objectives, c={c}",
                        "measured": fmt(p99, " ms"),
                        "ok": p99 is not None and p99 < ACK_TARGET_MS,
                    }
                )
            if int(size) >= LARGE:
                worst = cell["all"]["ack"]["max_ms"]
                out.append(
                    {
                        "target": f"slowest ack < {NEAR_DEADLINE_S:.0f} s (never near 3 s) at "
                        f"{int(size):,} objectives, c={c}",
                        "measured": f"{fmt(worst, ' ms')}; {cell['all']['acks_over_3s']} over 3 s",
                        "ok": worst is not None
                        and worst < NEAR_DEADLINE_S * 1000
                        and cell["all"]["acks_over_3s"] == 0,
                    }
                )
    return out


def markdown(data: dict[str, Any]) -> str:
    r = data["results"]
    lines = [
        "# Ack latency",
        "",
        f"Machine: {machine_line(data['machine'])}.",
        f"Command: `{data['command']}`",
        "",
        "Closed loop: each client waits for its follow-up before sending its next command. "
        "Ack = HTTP response time at the client; follow-up = command sent → the stand-in "
        "recorded the response_url post (status) or views.open (new). Times in ms. "
        "All clients start at once: at 50 clients the first 50 commands arrive together.",
        "",
        "## Bare Bolt apps (acks only)",
        "",
        "`bare`: Bolt's defaults (process_before_response=False: the listener runs in Bolt's "
        "pool, the request thread looks for its ack every 10 ms). `bare_at_ack`: "
        "process_before_response=True, Bolt answers when the listener returns, as Ladder runs "
        "it (bench/bare_app.py).",
        "",
        table(
            ["app", "clients", "n", "ack p50", "ack p95", "ack p99", "ack max"],
            [
                [
                    bare,
                    c,
                    s["ack"]["n"],
                    *(fmt(s["ack"][k]) for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms")),
                ]
                for bare in BARES
                for c, s in r.get(bare, {}).items()
            ],
        ),
    ]
    for size, per_size in r["ladder"].items():
        lines += [
            "",
            f"## Ladder, {int(size):,} objectives ({per_size['key_results']:,} KRs, "
            f"{per_size['teams']} teams)",
            "",
        ]
        rows = []
        for c, cell in per_size["by_concurrency"].items():
            bare_p99s = [_p99(r, bare, c) for bare in BARES]
            for kind, s in [("all", cell["all"]), *cell["by_kind"].items()]:
                ack, fu = s["ack"], s["follow_up"]
                ratios = [
                    f"{ack['p99_ms'] / bare_p99:.2f}×"
                    if kind == "all" and ack["p99_ms"] and bare_p99
                    else ""
                    for bare_p99 in bare_p99s
                ]
                failures = ", ".join(f"{n} {why}" for why, n in s["failures"].items()) or "0"
                rows.append(
                    [
                        c,
                        kind,
                        ack["n"],
                        fmt(ack["p50_ms"]),
                        fmt(ack["p95_ms"]),
                        fmt(ack["p99_ms"]),
                        fmt(ack["max_ms"]),
                        *ratios,
                        fmt(fu["p50_ms"]),
                        fmt(fu["p95_ms"]),
                        fmt(fu["p99_ms"]),
                        failures,
                    ]
                )
        lines.append(
            table(
                [
                    "clients",
                    "command",
                    "n",
                    "ack p50",
                    "ack p95",
                    "ack p99",
                    "ack max",
                    "p99 / bare",
                    "p99 / bare_at_ack",
                    "follow-up p50",
                    "follow-up p95",
                    "follow-up p99",
                    "failures",
                ],
                rows,
            )
        )
    lines += [
        "",
        "## Targets",
        "",
        table(
            ["target", "measured", "result"],
            [[t["target"], t["measured"], verdict(t["ok"])] for t in data["targets"]],
        ),
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ack_latency", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny sizes")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 1_000, LARGE])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument(
        "--requests", type=int, default=300, help="commands per concurrency level (default 300)"
    )
    parser.add_argument(
        "--large-requests",
        type=int,
        default=60,
        help=f"commands per level at ≥{LARGE:,} objectives (default 60)",
    )
    parser.add_argument(
        "--think-ms",
        type=float,
        default=0.0,
        help="pause after each interaction before a client's next command (default 0: none)",
    )
    parser.add_argument("--out", type=Path, help="results folder (default bench/results)")
    parser.add_argument(
        "--keep",
        type=Path,
        help="keep databases and server logs in this folder (default: a temp one)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.concurrency, args.requests, args.large_requests = [10], [1, 3], 6, 6
    command = "python -m bench.ack_latency" + (" --quick" if args.quick else "")
    if args.think_ms:
        command += f" --think-ms {args.think_ms:g}"
    info = machine()
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ladder-bench-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        results = measure(
            sizes=args.sizes,
            concurrency=args.concurrency,
            requests=args.requests,
            large_requests=args.large_requests,
            work=work,
            think=args.think_ms / 1000,
        )
    data = {
        "machine": info,
        "command": command,
        "params": {k: v for k, v in vars(args).items() if k not in ("out", "keep")},
        "wall_s": round(time.perf_counter() - began, 1),
        "results": results,
    }
    data["targets"] = targets(results)
    json_path, md_path = write_results("ack_latency", data, markdown(data), out=args.out)
    print(md_path.read_text())
    print(f"written: {json_path} {md_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
