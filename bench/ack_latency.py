"""Ack latency and follow-up time of `/okr` commands on the production server, with and
without 200 slow clients connected.

    .venv/bin/python -m bench.ack_latency            # full: 1,000 / 10,000 objectives
    .venv/bin/python -m bench.ack_latency --quick    # smoke run, well under a minute

`python -m bot serve` (waitress, bot/server.py) runs as a subprocess on a pre-filled SQLite
file, its Web API client pointed at a Slack stand-in in this process, once per
WEB_CONCURRENCY setting measured: 1 (one process serves: like for like with the bare apps)
and 2 (Ladder's default: a parent forks two web processes that share the listening socket).
Clients send v0-signed slash commands as Slack does: `/okr status` in a channel linked to a
team, `/okr status all` and `/okr new`, each client waiting for its follow-up (the
response_url post or views.open) before its next command, so "concurrency" is the number of
interactions in flight. Measured per request: the ack (HTTP response time seen by the client)
and the follow-up (from sending the command until the stand-in recorded the answer).

The baselines are bare Bolt apps that only ack, one process each. Two are served the same
way as Ladder (bench/bare_app.py on `bot.server.run_waitress`): one with Bolt's defaults, one
answering at its ack as Ladder runs Bolt (process_before_response=True). The third is the
other way to serve Bolt: an AsyncApp answering at its ack on uvicorn
(bench/bare_async_app.py). A fourth, in the slow-client scenario only, is the server Ladder
left: the bare app on gunicorn gthread (bench/bare_gthread_app.py), its acks bounded at
Slack's 3 s. A baseline whose server is not installed (the `bench` extra) is left out and
named in the results.

The slow-client scenario: 200 connections to 127.0.0.1, each holding a partial request open
(the request line and a few headers, then one more header line about every second, never the
end of the headers) for the whole measurement, while clients send commands as above.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import sqlite3
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
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
    socket_count,
    start_server,
    summary_ms,
    table,
    verdict,
    write_results,
)
from bench.data import BENCH_WORKSPACE, fill_workspace, sqlite_engine
from tests.support.slack_sender import SlackSender
from tests.support.slow_clients import MAX_CONNECTIONS, SlowClients

KINDS = ("status_channel", "status_all", "new")
# The bare apps answer only `/okr new` with a Slack call (its modal): the one follow-up they have.
BARE_FOLLOW_UPS = ("new",)
FOLLOW_UP_TIMEOUT = 120.0
LARGE = 10_000
# (a) Ladder's ack next to the bare apps', at COMPARED objectives, one web process each.
COMPARED = 1_000
ACK_RATIO_TARGET = 1.3
ACK_TARGET_MS = 100.0
NEAR_DEADLINE_S = 1.0  # "never near 3 s": the slowest ack must stay under a third of it
# (b) follow-up p99 at COMPARED objectives with FOLLOW_UP_CLIENTS clients.
FOLLOW_UP_TARGET_S = 2.0
FOLLOW_UP_CLIENTS = 10
# (c) ack p99 with SLOW_CLIENTS slowloris connections held open.
SLOW_CLIENTS = 200
SLOW_ACK_TARGET_MS = 200.0
SLOW_DRIP_S = 1.0  # one more header line per connection this often
MAX_SLOW_CLIENTS = MAX_CONNECTIONS  # the most --slow-clients accepts
SLACK_ACK_DEADLINE_S = 3.0  # Slack gives up on an ack after this long
ACK_TIMEOUT_S = 60.0  # how long a client waits for an ack (a result either way, not a hang)


@dataclass(frozen=True)
class Baseline:
    """A bare Bolt app that only acks, served in one process by `module` (`python -m`)."""

    module: str
    env: Mapping[str, str]
    label: str
    server: str
    requires: tuple[str, ...] = ()  # modules its server needs (the `bench` extra)
    compared: bool = True  # measured in the ack comparison (a); else slow clients only
    ratio_target: bool = False  # target (a), Ladder's ack ≤ 1.3× it, is against it
    ack_timeout: float = ACK_TIMEOUT_S  # the clients' bound on an ack
    slow_requests_per_client: int | None = None  # at most this many commands with slow clients


BASELINES: dict[str, Baseline] = {
    # Served like Ladder (waitress, `bot.server.run_waitress`): Bolt's defaults, and Bolt
    # answering when the ack function returns (process_before_response=True, Ladder's way).
    "bare": Baseline(
        "bench.bare_app",
        {"WEB_CONCURRENCY": "1"},
        "bare Bolt app (Bolt's defaults)",
        "waitress",
        ratio_target=True,
    ),
    "bare_at_ack": Baseline(
        "bench.bare_app",
        {"WEB_CONCURRENCY": "1", "BARE_ANSWER": "at_ack"},
        "bare Bolt app answering at its ack (Ladder's Bolt settings)",
        "waitress",
        ratio_target=True,
    ),
    # The other candidate: Bolt's AsyncApp on an ASGI server, answering at its ack as Ladder
    # would with async lazy listeners.
    "bare_async": Baseline(
        "bench.bare_async_app",
        {"WEB_CONCURRENCY": "1", "BARE_ANSWER": "at_ack"},
        "bare AsyncApp answering at its ack on uvicorn",
        "uvicorn",
        requires=("uvicorn", "aiohttp"),
    ),
    # The server Ladder left, with slow clients only: each holds a thread while it sends, so
    # acks are bounded at Slack's deadline and a few commands per client are enough.
    "gthread": Baseline(
        "bench.bare_gthread_app",
        {"WEB_CONCURRENCY": "1", "BARE_ANSWER": "at_ack"},
        "bare Bolt app answering at its ack on gunicorn gthread (16 threads)",
        "gunicorn gthread",
        requires=("gunicorn",),
        compared=False,
        ack_timeout=SLACK_ACK_DEADLINE_S,
        slow_requests_per_client=3,
    ),
}
# The baselines in the ack comparison (a), in the order they are shown.
BARES = [name for name, b in BASELINES.items() if b.compared]


@dataclass(frozen=True)
class SlowPlan:
    """The slow-client scenario: `connections` slowloris sockets while `clients` clients send
    `requests` commands; Ladder at `objectives` objectives."""

    connections: int
    clients: int
    requests: int
    objectives: int


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
    follow_up: Collection[str],
    think: float = 0.0,
    ack_timeout: float = ACK_TIMEOUT_S,
) -> list[Sample]:
    """`clients` threads share `requests` commands; closed loop on the whole interaction: a
    client waits for the follow-up of the kinds in `follow_up` before its next command.
    A client gives up on an ack after `ack_timeout` seconds (a failure, "no ack")."""
    samples: list[Sample] = []
    lock = threading.Lock()
    start = threading.Barrier(clients)
    errors: list[BaseException] = []

    def client(i: int) -> None:
        mine = requests // clients + (1 if i < requests % clients else 0)
        user = f"U0CLIENT{i:03d}"
        try:
            # Idle keep-alive connections are dropped after 1 s, as in earlier runs (so
            # figures stay comparable): a client waiting long for its follow-up opens a new
            # connection for its next command. (waitress keeps idle ones 60 s.)
            http = httpx.Client(timeout=ack_timeout, limits=httpx.Limits(keepalive_expiry=1.0))
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
                        kind in follow_up
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
        _attach_follow_ups(standin, [s for s in samples if s.kind in follow_up])
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
        elif s.key in standin.filled_at:  # opened as "Loading…", then filled
            s.follow_up = standin.filled_at[s.key] - s.sent_at
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


def _start(
    module: str, standin: WatchedStandIn, work: Path, *, code: Path | None = None, **env: str
) -> Server:
    """Spawned and serving. Ladder and bench.bare_app serve on waitress, whose request threads
    `wait_serving` sees start; the other servers (uvicorn, gunicorn) are ready once /healthz
    answers. The free port is looked up before the server binds it: if another process took
    it meanwhile (the server exits with EADDRINUSE), another port, at most twice more."""
    for attempt in range(3):
        settings = {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": standin.api_url,
            "PORT": str(free_port()),
            **env,
        }
        args = ["serve"] if module == "bot" else []
        # `code`: another checkout's `bot` (run from there: `python -m` looks in its cwd first)
        server = start_server(module, env=server_env(**settings), cwd=code or work, args=args)
        try:
            if module in ("bot", "bench.bare_app"):
                server.wait_serving()
            else:
                server.wait_healthy()
        except BaseException as error:
            server.stop()
            if attempt < 2 and "Address already in use" in str(error):
                continue
            raise
        return server
    raise AssertionError("unreachable")


def _warm_up(
    standin: WatchedStandIn, server: Server, fixture: Fixture, *, follow_up: Collection[str]
) -> None:
    """First requests pay for lazy imports and a cold page cache: not measured. With several
    web processes, several clients (a connection each) so that every process gets some."""
    clients = 1 if server.processes == 1 else 4 * server.processes
    run_cell(
        standin,
        server.events_url,
        fixture,
        clients=clients,
        requests=max(6, 2 * clients),
        follow_up=follow_up,
    )
    standin.reset()
    standin.forget_keys()


def _slow_cell(
    standin: WatchedStandIn,
    server: Server,
    fixture: Fixture,
    plan: SlowPlan,
    *,
    follow_up: Collection[str],
    think: float,
    ack_timeout: float = ACK_TIMEOUT_S,
    requests_per_client: int | None = None,
) -> dict[str, Any]:
    """Commands as in every cell, while `plan.connections` slow clients hold partial requests
    open from before the first command until after the last. `requests_per_client` caps the
    commands (for a server whose acks are expected to time out)."""
    requests = max(plan.requests, plan.clients)
    if requests_per_client is not None:
        requests = min(requests, requests_per_client * plan.clients)
    with SlowClients(server.port, plan.connections, drip_s=SLOW_DRIP_S) as slow:
        slow.wait_rounds(1)  # every connection was accepted and fed once before we start
        began = time.perf_counter()
        samples = run_cell(
            standin,
            server.events_url,
            fixture,
            clients=plan.clients,
            requests=requests,
            follow_up=follow_up,
            think=think,
            ack_timeout=ack_timeout,
        )
        wall = time.perf_counter() - began
        slow.wait_rounds(1)  # and fed again after the last command
        held_by_server = socket_count(server.web_pids())
        still_open = slow.still_open()
        rounds, lines, dropped = slow.rounds, slow.lines, len(slow.dropped)
    cell: dict[str, Any] = {
        "web_concurrency": server.processes,
        "clients": plan.clients,
        "requests": requests,
        "ack_timeout_s": ack_timeout,
        "all": summarize(samples),
        "by_kind": {k: summarize([s for s in samples if s.kind == k]) for k in KINDS}
        if follow_up
        else {},
        "wall_s": round(wall, 2),
        "slow": {
            "connections": plan.connections,
            "still_open_at_end": still_open,
            "dropped": dropped,
            "rounds": rounds,
            "header_lines_sent": lines,
            # the web processes' sockets: one listening socket each plus every connection
            # they accepted, so at least `still_open_at_end` more than the processes
            "server_sockets": held_by_server,
        },
        "violations": list(standin.violations),
    }
    standin.reset()
    standin.forget_keys()
    return cell


def missing(baseline: Baseline) -> str | None:
    """Why `baseline` cannot run here (its server is not installed), or None."""
    absent = [m for m in baseline.requires if importlib.util.find_spec(m) is None]
    if not absent:
        return None
    return f"not installed: {', '.join(absent)} (`.venv/bin/pip install -e '.[bench]'`)"


def _copy_database(source: Path, target: Path) -> None:
    """A copy of a filled SQLite file, so each server starts from the same data."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


def measure(
    *,
    sizes: Sequence[int],
    concurrency: Sequence[int],
    requests: int,
    large_requests: int,
    web_concurrency: Sequence[int],
    slow: SlowPlan | None,
    work: Path,
    think: float = 0.0,
    baselines: Sequence[str] = tuple(BASELINES),
    before: Path | None = None,
) -> dict[str, Any]:
    """`before`: a checkout of an earlier commit (`--before`), whose Ladder then runs right
    after this one's, on the same data, for each WEB_CONCURRENCY and size."""
    today = date.today()
    skipped = {name: why for name in baselines if (why := missing(BASELINES[name]))}
    chosen = [name for name in BASELINES if name in baselines and name not in skipped]
    if not slow:
        chosen = [name for name in chosen if BASELINES[name].compared]
    results: dict[str, Any] = {
        "baselines": {
            name: {"label": BASELINES[name].label, "server": BASELINES[name].server}
            for name in chosen
        },
        "skipped_baselines": skipped,
        **{name: {} for name in chosen if BASELINES[name].compared},
        "ladder": {f"wc{n}": {} for n in web_concurrency},
        **({"ladder_before": {f"wc{n}": {} for n in web_concurrency}} if before else {}),
        "slow_clients": {},
    }
    for name, why in skipped.items():
        print(f"{name}: left out, {why}", flush=True)
    users = max(*concurrency, slow.clients if slow else 1, 4 * max(web_concurrency))
    with WatchedStandIn() as standin:
        standin.add_workspace(BENCH_WORKSPACE, bot_token=BOT_TOKEN, team_name="Bench Co")
        for i in range(users):
            standin.add_user(
                BENCH_WORKSPACE, f"U0CLIENT{i:03d}", tz="UTC", tz_offset=0, tz_label="UTC"
            )

        bare_fixture = Fixture(team_channels=["C0TEAM0000"])
        for name in chosen:
            baseline = BASELINES[name]
            bare = _start(baseline.module, standin, work, **baseline.env)
            try:
                _warm_up(standin, bare, bare_fixture, follow_up=BARE_FOLLOW_UPS)
                for c in concurrency if baseline.compared else ():
                    n = max(requests, c)
                    samples = run_cell(
                        standin,
                        bare.events_url,
                        bare_fixture,
                        clients=c,
                        requests=n,
                        follow_up=BARE_FOLLOW_UPS,
                        think=think,
                    )
                    results[name][str(c)] = summarize(samples)
                    results[name][str(c)]["by_kind"] = {
                        k: summarize([s for s in samples if s.kind == k]) for k in KINDS
                    }
                    results[name][str(c)]["violations"] = list(standin.violations)
                    standin.reset()
                    print(f"{name} c={c:>3}: ack {results[name][str(c)]['ack']}", flush=True)
                if slow:
                    cell = _slow_cell(
                        standin,
                        bare,
                        bare_fixture,
                        slow,
                        follow_up=BARE_FOLLOW_UPS,
                        think=think,
                        ack_timeout=baseline.ack_timeout,
                        requests_per_client=baseline.slow_requests_per_client,
                    )
                    cell["server"] = baseline.server
                    results["slow_clients"][name] = cell
                    print(f"{name} slow: ack {cell['all']['ack']} {cell['slow']}", flush=True)
            finally:
                bare.stop()

        for size in sizes:
            filled_path = work / f"ladder-{size}.db"
            engine = sqlite_engine(filled_path)
            filled = fill_workspace(engine, objectives=size, today=today)
            engine.dispose()
            # Slack knows every owner: status and Home ask users.info for the names they show.
            for uid in filled.users:
                if standin.user(uid) is None:
                    standin.add_user(BENCH_WORKSPACE, uid, tz="UTC", tz_offset=0, tz_label="UTC")
            fixture = Fixture(team_channels=list(filled.channels.values()))
            for wc, (variant, code) in itertools.product(
                web_concurrency,
                [("ladder", None), *([("ladder_before", before)] if before else [])],
            ):
                path = work / f"{variant}-{size}-wc{wc}.db"
                _copy_database(filled_path, path)
                server = _start(
                    "bot",
                    standin,
                    work,
                    DATABASE_URL=f"sqlite:///{path}",
                    WEB_CONCURRENCY=str(wc),
                    code=code,
                )
                per_size: dict[str, Any] = {
                    "web_concurrency": wc,
                    "objectives": filled.objectives,
                    "key_results": filled.key_results,
                    "teams": len(filled.team_ids),
                    "by_concurrency": {},
                }
                try:
                    _warm_up(standin, server, fixture, follow_up=KINDS)
                    for c in concurrency:
                        n = max(large_requests if size >= LARGE else requests, c)
                        began = time.perf_counter()
                        samples = run_cell(
                            standin,
                            server.events_url,
                            fixture,
                            clients=c,
                            requests=n,
                            follow_up=KINDS,
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
                            f"{variant} wc{wc} {size:>6} c={c:>3}: ack {cell['all']['ack']} "
                            f"follow-up {cell['all']['follow_up']} "
                            f"failures {cell['all']['failures']}",
                            flush=True,
                        )
                    if slow and size == slow.objectives and code is None:
                        cell = _slow_cell(
                            standin, server, fixture, slow, follow_up=KINDS, think=think
                        )
                        cell["objectives"] = filled.objectives
                        results["slow_clients"][f"ladder_wc{wc}"] = cell
                        print(
                            f"ladder wc{wc} slow: ack {cell['all']['ack']} {cell['slow']}",
                            flush=True,
                        )
                finally:
                    server.stop()
                results[variant][f"wc{wc}"][str(size)] = per_size
    return results


# ----------------------------------------------------------------------------- report


def _bares(results: dict[str, Any]) -> list[str]:
    """The baselines measured in the ack comparison, in BARES order."""
    return [name for name in BARES if name in results]


def _slow_brief(cell: dict[str, Any]) -> str:
    """A baseline's ack p99 with slow clients, and its failed commands if any."""
    failed = sum(cell["all"]["failures"].values())
    text = f"p99 {fmt(cell['all']['ack']['p99_ms'], ' ms')}"
    return text + (f", {failed} of {cell['requests']} commands failed" if failed else "")


def _bare_p99(results: dict[str, Any], bare: str, c: str, kind: str = "all") -> float | None:
    cell = results.get(bare, {}).get(c, {})
    if kind != "all":
        cell = cell.get("by_kind", {}).get(kind, {})
    p99: float | None = cell.get("ack", {}).get("p99_ms")
    return p99


def _ratio(p99: float | None, bare_p99: float | None) -> float | None:
    return round(p99 / bare_p99, 2) if p99 is not None and bare_p99 else None


def _times(ratio: float | None) -> str:
    return "–" if ratio is None else f"{ratio:.2f}×"


def _wc_label(name: str) -> str:
    """ "wc2" -> "WEB_CONCURRENCY=2"."""
    return f"WEB_CONCURRENCY={name.removeprefix('wc')}"


def _compared_size(results: dict[str, Any]) -> str | None:
    """The objectives the figures compare at: COMPARED if measured, else the smallest."""
    sizes = sorted({int(s) for per_wc in results["ladder"].values() for s in per_wc})
    if not sizes:
        return None
    return str(COMPARED if COMPARED in sizes else sizes[0])


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """(a) ack vs the bare apps, (b) follow-up, (c) slow clients, then the absolute acks."""
    ratios: list[dict[str, Any]] = []
    follow_ups: list[dict[str, Any]] = []
    absolute: list[dict[str, Any]] = []
    for wc, per_wc in results["ladder"].items():
        for size, per_size in per_wc.items():
            for c, cell in per_size["by_concurrency"].items():
                p99 = cell["all"]["ack"]["p99_ms"]
                if int(size) == COMPARED and wc == "wc1":
                    for bare in _bares(results):
                        if not BASELINES[bare].ratio_target:
                            continue  # another server: shown, not a target
                        bare_p99 = _bare_p99(results, bare, c)
                        ratio = _ratio(p99, bare_p99)
                        label = BASELINES[bare].label
                        ratios.append(
                            {
                                "target": f"ack p99 ≤ {ACK_RATIO_TARGET}× the {label}"
                                f", 1,000 objectives, c={c}, one web process each",
                                "measured": f"{fmt(p99, ' ms')} vs {fmt(bare_p99, ' ms')} "
                                f"({ratio}×)",
                                "ok": ratio is not None and ratio <= ACK_RATIO_TARGET,
                            }
                        )
                if int(size) == COMPARED and int(c) == FOLLOW_UP_CLIENTS:
                    fu = cell["all"]["follow_up"]["p99_ms"]
                    follow_ups.append(
                        {
                            "target": f"follow-up p99 < {FOLLOW_UP_TARGET_S:.0f} s at 1,000 "
                            f"objectives, c={c}, {_wc_label(wc)}",
                            "measured": fmt(fu, " ms"),
                            "ok": fu is not None
                            and fu < FOLLOW_UP_TARGET_S * 1000
                            and not cell["all"]["failures"],
                        }
                    )
                if int(size) == COMPARED:
                    absolute.append(
                        {
                            "target": f"ack p99 < {ACK_TARGET_MS:.0f} ms at 1,000 objectives, "
                            f"c={c}, {_wc_label(wc)}",
                            "measured": fmt(p99, " ms"),
                            "ok": p99 is not None and p99 < ACK_TARGET_MS,
                        }
                    )
                if int(size) >= LARGE:
                    worst = cell["all"]["ack"]["max_ms"]
                    absolute.append(
                        {
                            "target": f"slowest ack < {NEAR_DEADLINE_S:.0f} s (never near 3 s) "
                            f"at {int(size):,} objectives, c={c}, {_wc_label(wc)}",
                            "measured": f"{fmt(worst, ' ms')}; "
                            f"{cell['all']['acks_over_3s']} over 3 s",
                            "ok": worst is not None
                            and worst < NEAR_DEADLINE_S * 1000
                            and cell["all"]["acks_over_3s"] == 0,
                        }
                    )
    slow: list[dict[str, Any]] = []
    cells = results.get("slow_clients", {})
    bare_figures = ", ".join(
        f"{name} {_slow_brief(cell)}" for name, cell in cells.items() if name in BASELINES
    )
    for name, cell in cells.items():
        if not name.startswith("ladder_"):
            continue
        p99 = cell["all"]["ack"]["p99_ms"]
        held = cell["slow"]["still_open_at_end"]
        slow.append(
            {
                "target": f"ack p99 < {SLOW_ACK_TARGET_MS:.0f} ms with "
                f"{cell['slow']['connections']} slow clients connected, "
                f"{cell['objectives']:,} objectives, c={cell['clients']}, "
                f"{_wc_label(name.removeprefix('ladder_'))}",
                "measured": f"{fmt(p99, ' ms')} (bare apps: {bare_figures or '–'}); "
                f"{held} slow connections still open at the end",
                "ok": p99 is not None
                and p99 < SLOW_ACK_TARGET_MS
                and held == cell["slow"]["connections"]
                and not cell["all"]["failures"],
            }
        )
    return ratios + follow_ups + slow + absolute


def _figures(r: dict[str, Any]) -> list[str]:
    """The three figures the benchmark is for, side by side."""
    compared = _compared_size(r)
    wcs = list(r["ladder"])
    bares = _bares(r)
    lines = ["## The figures side by side", ""]
    if compared is not None:
        rows = []
        for c in sorted({int(c) for bare in bares for c in r.get(bare, {})}):
            p99s = {bare: _bare_p99(r, bare, str(c)) for bare in bares}
            ladder = {
                wc: r["ladder"][wc]
                .get(compared, {})
                .get("by_concurrency", {})
                .get(str(c), {})
                .get("all", {})
                .get("ack", {})
                .get("p99_ms")
                for wc in wcs
            }
            ratios = [_times(_ratio(ladder.get("wc1"), p99s[bare])) for bare in bares]
            rows.append(
                [
                    c,
                    *(fmt(p99s[bare]) for bare in bares),
                    *(fmt(ladder[wc]) for wc in wcs),
                    *ratios,
                ]
            )
        lines += [
            f"**(a) Ack p99 (ms), Ladder next to the bare Bolt apps, {int(compared):,} "
            f"objectives.** Target: Ladder with one web process ≤ {ACK_RATIO_TARGET}× the bare "
            "apps served as it is (waitress, one process too)"
            + "".join(
                f"{', ' if n else ': '}`{b}`"
                for n, b in enumerate(b for b in bares if BASELINES[b].ratio_target)
            )
            + "."
            + "".join(
                f" `{b}` ({BASELINES[b].label}) is the other way to serve Bolt, shown beside them."
                for b in bares
                if not BASELINES[b].ratio_target
            ),
            "",
            table(
                [
                    "clients",
                    *(f"{bare} ({BASELINES[bare].server})" for bare in bares),
                    *(f"Ladder {_wc_label(wc)}" for wc in wcs),
                    *(f"Ladder WEB_CONCURRENCY=1 / {bare}" for bare in bares),
                ],
                rows,
            ),
            "",
        ]
    rows = [
        [
            f"{int(size):,}",
            c,
            *(
                fmt(
                    r["ladder"][wc]
                    .get(size, {})
                    .get("by_concurrency", {})
                    .get(c, {})
                    .get("all", {})
                    .get("follow_up", {})
                    .get("p99_ms")
                )
                for wc in wcs
            ),
        ]
        for size in sorted({s for per_wc in r["ladder"].values() for s in per_wc}, key=int)
        for c in sorted(
            {c for per_wc in r["ladder"].values() for c in per_wc[size]["by_concurrency"]},
            key=int,
        )
    ]
    lines += [
        "**(b) Follow-up p99 (ms): command sent → the stand-in recorded the answer.** Target: "
        f"< {FOLLOW_UP_TARGET_S * 1000:,.0f} ms at 1,000 objectives with {FOLLOW_UP_CLIENTS} "
        "clients.",
        "",
        table(["objectives", "clients", *(_wc_label(wc) for wc in wcs)], rows),
        "",
    ]
    cells = r.get("slow_clients", {})
    if cells:
        any_cell = next(iter(cells.values()))
        rows = []
        for name, cell in cells.items():
            ack, slow = cell["all"]["ack"], cell["slow"]
            failures = ", ".join(f"{n} {why}" for why, n in cell["all"]["failures"].items())
            rows.append(
                [
                    f"{name} ({cell.get('server', '?')})"
                    if name in BASELINES
                    else f"Ladder {_wc_label(name.removeprefix('ladder_'))} (waitress)",
                    f"{cell['objectives']:,}" if "objectives" in cell else "–",
                    ack["n"],
                    *(fmt(ack[k]) for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms")),
                    fmt(cell["all"]["follow_up"]["p99_ms"]),
                    f"{slow['still_open_at_end']} / {slow['connections']}",
                    slow["server_sockets"],
                    failures or "0",
                ]
            )
        lines += [
            f"**(c) Ack (ms) with {any_cell['slow']['connections']} slow clients connected** "
            f"(each holds a partial request, one more header line every ~{SLOW_DRIP_S:.0f} s, "
            f"for the whole measurement), {any_cell['clients']} clients sending commands. "
            f"Target: p99 < {SLOW_ACK_TARGET_MS:.0f} ms.",
            "",
            table(
                [
                    "server",
                    "objectives",
                    "n",
                    "ack p50",
                    "ack p95",
                    "ack p99",
                    "ack max",
                    "follow-up p99",
                    "slow connections open at the end",
                    "server sockets",
                    "failures",
                ],
                rows,
            ),
            "",
            "Server sockets: open sockets of the server's processes (one listening socket each "
            "plus every connection accepted), counted while the slow clients were still "
            "connected: they were accepted by the server, not left in the kernel's backlog.",
            "",
        ]
        bounded = [
            (name, cell)
            for name, cell in cells.items()
            if cell.get("ack_timeout_s", ACK_TIMEOUT_S) < ACK_TIMEOUT_S
        ]
        for name, cell in bounded:
            lines += [
                f"`{name}` ({cell.get('server', '?')}): its clients gave up on an ack after "
                f"{cell['ack_timeout_s']:.0f} s (Slack's deadline) and sent "
                f"{cell['requests']} commands in all; an ack that did not come in time is a "
                "failure.",
                "",
            ]
    return lines


def markdown(data: dict[str, Any]) -> str:
    r = data["results"]
    lines = [
        "# Ack latency",
        "",
        f"Machine: {machine_line(data['machine'])}.",
        f"Command: `{data['command']}` ({data['wall_s']:,.0f} s)",
        "",
        "Closed loop: each client waits for its follow-up before sending its next command. "
        "Ack = HTTP response time at the client; follow-up = command sent → the stand-in "
        "recorded the response_url post (status) or views.open (new). Times in ms. "
        "All clients start at once: at 50 clients the first 50 commands arrive together.",
        "",
        "Servers: `python -m bot serve` (waitress, bot/server.py) with WEB_CONCURRENCY=1 (one "
        "process serves) and WEB_CONCURRENCY=2 (Ladder's default: a parent and two web "
        "processes sharing the listening socket); the bare Bolt apps, which do only what "
        "Slack requires (ack; for `/okr new` also open a one-field modal with the trigger), "
        "serve in one process: `bare` and `bare_at_ack` (bench/bare_app.py) on the same "
        "`bot.server.run_waitress`, `bare_async` (bench/bare_async_app.py: Bolt's AsyncApp) "
        "on uvicorn, and `gthread` (bench/bare_gthread_app.py: bench/bare_app.py on gunicorn "
        "gthread, the server Ladder left) with slow clients only.",
        "",
        *(
            [
                "Left out: "
                + "; ".join(f"`{name}`, {why}" for name, why in r["skipped_baselines"].items())
                + ".",
                "",
            ]
            if r.get("skipped_baselines")
            else []
        ),
        *_figures(r),
        "## Bare Bolt apps (one process)",
        "",
        "Each acks; for `/okr new` it also opens a one-field modal with the command's trigger "
        "(views.open), so `new` compares like for like: follow-up = command sent → the stand-in "
        "recorded the views.open.",
        "",
        "`bare`: Bolt's defaults (process_before_response=False: the listener runs in Bolt's "
        "pool, the request thread looks for its ack every 10 ms). `bare_at_ack`: "
        "process_before_response=True, Bolt answers when the ack function returns, as Ladder "
        "runs it. Both on waitress. `bare_async`: Bolt's AsyncApp with "
        "process_before_response=True on uvicorn (h11, asyncio), one event loop.",
        "",
        table(
            [
                "app",
                "server",
                "clients",
                "command",
                "n",
                "ack p50",
                "ack p95",
                "ack p99",
                "ack max",
                "follow-up p99",
            ],
            [
                [
                    bare,
                    BASELINES[bare].server,
                    c,
                    kind,
                    k["ack"]["n"],
                    *(fmt(k["ack"][q]) for q in ("p50_ms", "p95_ms", "p99_ms", "max_ms")),
                    fmt(k["follow_up"]["p99_ms"]),
                ]
                for bare in _bares(r)
                for c, s in r[bare].items()
                for kind, k in [("all", s), *s.get("by_kind", {}).items()]
            ],
        ),
    ]
    for wc, per_wc in r["ladder"].items():
        like_for_like = wc == "wc1"
        for size, per_size in per_wc.items():
            lines += [
                "",
                f"## Ladder, {_wc_label(wc)}, {int(size):,} objectives "
                f"({per_size['key_results']:,} KRs, {per_size['teams']} teams)",
                "",
            ]
            rows = []
            for c, cell in per_size["by_concurrency"].items():
                for kind, s in [("all", cell["all"]), *cell["by_kind"].items()]:
                    ack, fu = s["ack"], s["follow_up"]
                    # each command against the same command on the bare app
                    ratios = [
                        _times(_ratio(ack["p99_ms"], _bare_p99(r, bare, c, kind)))
                        for bare in _bares(r)
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
                            *(ratios if like_for_like else []),
                            fmt(fu["p50_ms"]),
                            fmt(fu["p95_ms"]),
                            fmt(fu["p99_ms"]),
                            failures,
                        ]
                    )
            header = [
                "clients",
                "command",
                "n",
                "ack p50",
                "ack p95",
                "ack p99",
                "ack max",
                *((f"p99 / {bare}" for bare in _bares(r)) if like_for_like else ()),
                "follow-up p50",
                "follow-up p95",
                "follow-up p99",
                "failures",
            ]
            lines.append(table(header, rows))
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


def _command_line(argv: Sequence[str]) -> str:
    """The command line, minus where files went (--out, --keep)."""
    shown: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("--out", "--keep"):
            skip = True
        elif not arg.startswith(("--out=", "--keep=")):
            shown.append(arg)
    return " ".join(["python -m bench.ack_latency", *shown])


def _before_after(results: dict[str, Any]) -> str:
    """Ack p99 (all commands, `/okr new`) and `/okr new`'s follow-up p99, this commit's
    Ladder beside `--before`'s and the bare apps, per concurrency."""
    rows = []
    for wc, per_size in results["ladder"].items():
        for size, per in per_size.items():
            for c, cell in per["by_concurrency"].items():
                old = results["ladder_before"][wc][size]["by_concurrency"][c]
                bare = {b: _bare_p99(results, b, c) for b in ("bare", "bare_at_ack")}
                row = [wc, size, c]
                for x in (old, cell):
                    row += [
                        fmt(x["all"]["ack"]["p99_ms"]),
                        fmt(x["by_kind"]["new"]["ack"]["p99_ms"]),
                        fmt(x["by_kind"]["new"]["follow_up"]["p99_ms"]),
                    ]
                row += [fmt(bare["bare"]), fmt(bare["bare_at_ack"])]
                row.append(
                    _times(
                        _ratio(
                            cell["all"]["ack"]["p99_ms"],
                            min(filter(None, bare.values()), default=None),
                        )
                    )
                )
                rows.append(row)
    header = [
        "ladder",
        "objectives",
        "clients",
        "before: ack p99",
        "before: new ack p99",
        "before: new form p99",
        "now: ack p99",
        "now: new ack p99",
        "now: new form p99",
        "bare ack p99",
        "bare_at_ack ack p99",
        "now ÷ fastest bare",
    ]
    return "\n\n## Before and after (`--before`)\n\n" + table(header, rows) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ack_latency", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny sizes")
    parser.add_argument("--sizes", type=int, nargs="+", default=[COMPARED, LARGE])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument(
        "--web-concurrency",
        type=int,
        nargs="+",
        default=[1, 2],
        help="WEB_CONCURRENCY settings Ladder runs with (default 1 2; 1 is compared with the "
        "bare apps, which serve in one process)",
    )
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
        "--slow-clients",
        type=int,
        default=SLOW_CLIENTS,
        help=f"slowloris connections in the slow-client scenario (default {SLOW_CLIENTS}; "
        "0 leaves the scenario out)",
    )
    parser.add_argument(
        "--slow-concurrency",
        type=int,
        default=FOLLOW_UP_CLIENTS,
        help=f"clients sending commands meanwhile (default {FOLLOW_UP_CLIENTS})",
    )
    parser.add_argument(
        "--slow-size",
        type=int,
        default=COMPARED,
        help=f"objectives Ladder has in that scenario; one of --sizes (default {COMPARED:,})",
    )
    parser.add_argument(
        "--baselines",
        nargs="*",
        choices=list(BASELINES),
        default=list(BASELINES),
        help="bare apps to measure beside Ladder (default: all; one whose server is not "
        "installed is left out and named in the results)",
    )
    parser.add_argument(
        "--think-ms",
        type=float,
        default=0.0,
        help="pause after each interaction before a client's next command (default 0: none)",
    )
    parser.add_argument(
        "--before",
        type=Path,
        help="a checkout of an earlier commit (e.g. `git worktree add --detach DIR <commit>`): "
        "its Ladder runs after this one's on the same data; its cells go to `ladder_before`",
    )
    parser.add_argument("--out", type=Path, help="results folder (default bench/results)")
    parser.add_argument(
        "--keep",
        type=Path,
        help="keep databases and server logs in this folder (default: a temp one)",
    )
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(raw)
    if args.quick:
        args.sizes, args.concurrency, args.requests, args.large_requests = [10], [1, 3], 6, 6
        args.slow_concurrency, args.slow_size = 3, 10
    if not 0 <= args.slow_clients <= MAX_SLOW_CLIENTS:
        parser.error(f"--slow-clients: 0 to {MAX_SLOW_CLIENTS}")
    if args.slow_clients and args.slow_size not in args.sizes:
        parser.error("--slow-size must be one of --sizes (or --slow-clients 0)")
    if any(not 1 <= wc <= 64 for wc in args.web_concurrency):
        parser.error("--web-concurrency: 1 to 64 processes")
    slow = (
        SlowPlan(
            connections=args.slow_clients,
            clients=args.slow_concurrency,
            requests=args.requests,
            objectives=args.slow_size,
        )
        if args.slow_clients
        else None
    )
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
            web_concurrency=args.web_concurrency,
            slow=slow,
            work=work,
            think=args.think_ms / 1000,
            baselines=args.baselines,
            before=args.before.resolve() if args.before else None,
        )
    data = {
        "machine": info,
        "command": _command_line(raw),
        "params": {k: v for k, v in vars(args).items() if k not in ("out", "keep")},
        "wall_s": round(time.perf_counter() - began, 1),
        "results": results,
    }
    data["targets"] = targets(results)
    text = markdown(data) + (_before_after(results) if args.before else "")
    json_path, md_path = write_results("ack_latency", data, text, out=args.out)
    print(md_path.read_text())
    print(f"written: {json_path} {md_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
