"""Data source sync round: 1,000 connected KRs against a local source answering in 200 ms.

The real SourceService (one shared httpx client, the address guard, a thread pool of
LADDER_SOURCES_CONCURRENCY, LADDER_SOURCES_PER_HOST per host) pulls every KR's source once
per round, against a loopback server that sleeps 200 ms before each answer and counts how
many requests it holds at once, in all and per host. Two layouts: every source on one host
(the per-host limit is the bound) and sources spread over four loopback hosts (127.0.0.1-4:
the global concurrency is the bound). Two rounds each: the first records a value for every
KR, the second a changed one. Checks: a round finishes well within the hourly interval;
requests in flight never exceed the limits; every KR got exactly one check-in per round.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from bench.common import fmt, machine, machine_line, summary_ms, table, verdict, write_results
from bench.data import fill_workspace, sqlite_engine
from bot.services.sources import SourceService
from bot.sources.fetch import Fetcher, FetchPolicy
from storage import sources as source_store
from storage.db import session_scope
from storage.models import CheckIn, KeyResult

WORKSPACE = "T0BENCH"
INTERVAL_S = 3600.0  # the default schedule: hourly
TODAY = date(2026, 3, 4)


class SlowSource:
    """Answers GET /kr/<id> with {"value": <round>} after `latency` seconds; counts what it
    holds at once (in all and per Host header)."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.value = 0
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.by_host: dict[str, int] = defaultdict(int)
        self.max_by_host: dict[str, int] = defaultdict(int)
        self.requests = 0
        source = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                host = self.headers.get("Host", "").split(":")[0]
                with source.lock:
                    source.requests += 1
                    source.in_flight += 1
                    source.by_host[host] += 1
                    source.max_in_flight = max(source.max_in_flight, source.in_flight)
                    source.max_by_host[host] = max(source.max_by_host[host], source.by_host[host])
                    value = source.value
                try:
                    time.sleep(source.latency)
                    body = json.dumps({"value": value}).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                finally:
                    with source.lock:
                        source.in_flight -= 1
                        source.by_host[host] -= 1

        self.server = ThreadingHTTPServer(("0.0.0.0", 0), Handler)
        self.server.daemon_threads = True
        self.server.request_queue_size = 256
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def reset_counts(self) -> None:
        with self.lock:
            self.max_in_flight = 0
            self.max_by_host.clear()
            self.requests = 0

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Clock:
    def __init__(self) -> None:
        self.now = datetime.combine(TODAY, datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)

    def __call__(self) -> datetime:
        return self.now


class AckProbe:
    """Ladder's Slack app served in this process (as with WEB_CONCURRENCY=1 and the
    scheduler on: the worst case, the sync's threads share the interpreter with the acks),
    asked `/okr help` one request after another; each answer's time is an ack."""

    def __init__(self, engine: Any) -> None:
        from tests.slack.conftest import (
            ACME,
            ACME_TOKEN,
            CEO,
            TestClock,
            serve_ladder,
            single_workspace_settings,
        )
        from tests.support.slack_standin import SlackStandIn

        self.user = CEO
        self._standin = SlackStandIn()
        self._standin.__enter__()
        self._standin.add_workspace(ACME, bot_token=ACME_TOKEN, team_name="Acme Tech")
        self._standin.add_user(ACME, CEO, name="ceo", is_admin=True)
        settings = single_workspace_settings(self._standin)
        self._serving = serve_ladder(settings, self._standin, engine, TestClock(datetime.now(UTC)))
        self.ladder = self._serving.__enter__()

    def ack_s(self) -> float:
        began = time.perf_counter()
        response = self.ladder.acme.slash_command("help", user_id=self.user)
        elapsed = time.perf_counter() - began
        assert response.status_code == 200, response.text
        return elapsed

    def close(self) -> None:
        self.ladder.wait_idle(30)
        self._serving.__exit__(None, None, None)
        self._standin.__exit__(None, None, None)


def acks_during(probe: AckProbe, work: Any, *, baseline: int) -> dict[str, Any]:
    """Ack times alone (`baseline` requests), then while `work()` runs in another thread."""
    alone = [probe.ack_s() for _ in range(baseline)]
    done = threading.Event()
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(work())
        finally:
            done.set()

    threading.Thread(target=run, daemon=True).start()
    during: list[float] = []
    while not done.is_set():
        during.append(probe.ack_s())
    return {
        "alone": summary_ms(alone),
        "during_sync": summary_ms(during),
        "report": outcome[0] if outcome else None,
    }


def run_layout(
    *,
    work: Path,
    krs: int,
    hosts: int,
    latency: float,
    concurrency: int,
    per_host: int,
    measure_acks: bool = False,
) -> dict[str, Any]:
    engine = sqlite_engine(work / f"sources-{hosts}.db")
    fill_workspace(
        engine, objectives=krs // 5, today=TODAY, workspace_id=WORKSPACE, checked_in_share=0.0
    )
    server = SlowSource(latency)
    host_names = [f"127.0.0.{i + 1}" for i in range(hosts)]
    clock = Clock()
    with session_scope(engine) as session:
        kr_ids = list(session.exec(select(KeyResult.id).order_by(KeyResult.id)).all())[:krs]
        for host in host_names:
            source_store.allow_host(
                session=session, workspace_id=WORKSPACE, host=host, added_by="bench", now=clock()
            )
        for i, kr_id in enumerate(kr_ids):
            assert kr_id is not None
            source_store.save_source(
                session=session,
                workspace_id=WORKSPACE,
                key_result_id=kr_id,
                kind="json",
                url=f"http://{host_names[i % hosts]}:{server.port}/kr/{kr_id}",
                expression="value",
                created_by="bench",
                now=clock(),
            )
    fetcher = Fetcher(
        FetchPolicy(max_connections=concurrency, total_timeout=30, read_timeout=10), environ={}
    )
    service = SourceService(
        engine, fetcher=fetcher, clock=clock, concurrency=concurrency, per_host=per_host
    )
    rounds = []
    acks: dict[str, Any] | None = None
    probe = AckProbe(engine) if measure_acks else None
    try:
        for n in (1, 2):
            server.value = n % 2  # 1 then 0: valid for every kind (milestones too), new each round
            server.reset_counts()
            cpu_began = time.process_time()
            if probe is not None and n == 2:
                acks = acks_during(probe, service.sync_due, baseline=100)
                report = acks.pop("report")
            else:
                report = service.sync_due()
            wall = report.seconds  # the round alone (not the acks measured before it)
            cpu = time.process_time() - cpu_began  # the process's: the acks' too, if measured
            with Session(engine) as session:
                check_ins = session.exec(select(sa.func.count()).select_from(CheckIn)).one()
            rounds.append(
                {
                    "round": n,
                    "wall_s": round(wall, 2),
                    "cpu_s": round(cpu, 2),
                    "pulled": report.pulled,
                    "recorded": report.recorded,
                    "failed": report.failed,
                    "failures_sample": list(report.failures.values())[:3],
                    "requests": server.requests,
                    "max_in_flight": server.max_in_flight,
                    "max_per_host": max(server.max_by_host.values(), default=0),
                    "check_ins_total": check_ins,
                }
            )
            clock.now += timedelta(hours=1)  # the next round is due
    finally:
        if probe is not None:
            probe.close()
        fetcher.close()
        server.close()
        engine.dispose()
    bound = min(concurrency, per_host * hosts)
    return {
        "krs": len(kr_ids),
        "hosts": hosts,
        "latency_s": latency,
        "concurrency": concurrency,
        "per_host": per_host,
        "ideal_s": round(len(kr_ids) * latency / bound, 2),  # n × latency / what may run at once
        "rounds": rounds,
        "acks": acks,
    }


def checks(results: dict[str, Any]) -> dict[str, bool]:
    out: dict[str, bool] = {}
    for name, layout in results.items():
        rounds = layout["rounds"]
        out[f"{name}: round within the interval"] = all(r["wall_s"] < INTERVAL_S for r in rounds)
        out[f"{name}: concurrency bounded"] = all(
            r["max_in_flight"] <= layout["concurrency"] for r in rounds
        )
        out[f"{name}: per-host bounded"] = all(
            r["max_per_host"] <= layout["per_host"] for r in rounds
        )
        out[f"{name}: every KR recorded once per round, nothing failed"] = all(
            r["pulled"] == r["recorded"] == layout["krs"] and r["failed"] == 0 for r in rounds
        )
        if layout.get("acks"):
            acks = layout["acks"]
            # Acks stay far from Slack's 3 s while a round runs beside them in one process.
            out[f"{name}: ack p99 during a round < 1 s"] = (
                acks["during_sync"]["p99_ms"] is not None and acks["during_sync"]["p99_ms"] < 1000
            )
    return out


def markdown(data: dict[str, Any]) -> str:
    rows = []
    for name, layout in data["results"].items():
        for r in layout["rounds"]:
            rows.append(
                [
                    name,
                    r["round"],
                    layout["krs"],
                    f"{layout['concurrency']} / {layout['per_host']}",
                    fmt(r["wall_s"], " s"),
                    fmt(layout["ideal_s"], " s"),
                    f"{r['wall_s'] / INTERVAL_S:.2%}",
                    f"{r['max_in_flight']} / {r['max_per_host']}",
                    r["recorded"],
                    r["failed"],
                    fmt(r["cpu_s"], " s"),
                ]
            )
    lines = [
        "# Data source sync round",
        "",
        f"`{data['command']}` on {machine_line(data['machine'])}.",
        "",
        f"Each source answers after {data['params']['latency_s'] * 1000:.0f} ms. "
        "Ideal = KRs × latency / (what may run at once).",
        "",
        table(
            [
                "layout",
                "round",
                "KRs",
                "concurrency / per host",
                "round took",
                "ideal",
                "of the 1 h interval",
                "max in flight / per host",
                "recorded",
                "failed",
                "CPU",
            ],
            rows,
        ),
    ]
    ack_rows = [
        [
            name,
            when,
            a["n"],
            fmt(a["p50_ms"], " ms"),
            fmt(a["p99_ms"], " ms"),
            fmt(a["max_ms"], " ms"),
        ]
        for name, layout in data["results"].items()
        if layout.get("acks")
        for when, a in layout["acks"].items()
    ]
    if ack_rows:
        lines += [
            "",
            "Ack of `/okr help` by Ladder's app served in the same process as the round "
            "(as with WEB_CONCURRENCY=1 and the scheduler on; by default the scheduler runs "
            "in the parent process, apart from the web processes), one request at a time:",
            "",
            table(["layout", "", "acks", "p50", "p99", "max"], ack_rows),
        ]
    lines += [
        "",
        table(["check", "verdict"], [[k, verdict(v)] for k, v in data["checks"].items()]),
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.sources", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 50 KRs, 20 ms")
    parser.add_argument("--krs", type=int, default=1_000)
    parser.add_argument("--latency", type=float, default=0.2, help="seconds per answer")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--per-host", type=int, default=4)
    parser.add_argument("--out", type=Path, help="results folder (default bench/results)")
    args = parser.parse_args(argv)
    if args.quick:
        args.krs, args.latency = 50, 0.02
    info = machine()
    began = time.perf_counter()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="ladder-bench-") as tmp:
        for hosts in (1, 4):
            results[f"{hosts} host{'s' if hosts > 1 else ''}"] = run_layout(
                work=Path(tmp),
                krs=args.krs,
                hosts=hosts,
                latency=args.latency,
                concurrency=args.concurrency,
                per_host=args.per_host,
                measure_acks=hosts == 4,  # the busiest round: 16 pulls at once
            )
    data = {
        "machine": info,
        "command": "python -m bench.sources" + (" --quick" if args.quick else ""),
        "params": {
            "krs": args.krs,
            "latency_s": args.latency,
            "concurrency": args.concurrency,
            "per_host": args.per_host,
        },
        "wall_s": round(time.perf_counter() - began, 1),
        "results": results,
        "checks": checks(results),
    }
    json_path, md_path = write_results("sources", data, markdown(data), out=args.out)
    print(md_path.read_text())
    print(f"written: {json_path} {md_path}")
    return 0 if all(data["checks"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
