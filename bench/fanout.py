"""Check-in fan-out: the real outbox sender against Slack's rate ceiling, next to a naive loop.

    .venv/bin/python -m bench.fanout                   # 1,000 users (~2-3 minutes)
    .venv/bin/python -m bench.fanout --users 10000     # 10,000 users (~12 minutes)
    .venv/bin/python -m bench.fanout --quick           # smoke run

Every user owns one KR in an open cycle and has no cached profile, so planning looks profiles
up in Slack first. The stand-in answers every call after 200 ms and holds chat.postMessage to
20/s per workspace and 1/s per channel (429 + Retry-After beyond that); users.list and
users.info get their published tiers (2 and 4). The sender is `bot.jobs.sender.Sender` with
the Web API client of `bot.app.make_client` (its retry handlers included) and its pacer set to
the ceiling; `force=True` as `python -m bot checkins send` does. The clock is fixed on a
Wednesday 11:00 UTC with everyone in UTC, so working hours never hold a prompt back.

The naive sender is a loop posting one message after the other with the same client; being
sequential, its rate does not depend on the number of users, so it runs on a sample
(`--naive-users`) and its time for everyone is extrapolated (and labelled so).
"""

from __future__ import annotations

import argparse
import inspect
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

from slack_sdk import WebClient

from bench.common import (
    BOT_TOKEN,
    WatchedStandIn,
    fmt,
    machine,
    machine_line,
    table,
    verdict,
    write_results,
)
from bench.data import BENCH_WORKSPACE, fill_workspace, sqlite_engine
from bot.app import make_client
from bot.config import load_settings
from bot.jobs import sender as sender_module
from bot.services.delivery import DeliveryService
from tests.support.blockkit import validate_message

CEILING = 20.0  # chat.postMessage per second per workspace, as the stand-in enforces it
LATENCY = 0.2
RATE_TARGET = 0.9


def bench_day(today: date) -> datetime:
    """This week's Wednesday, 11:00 UTC: a working hour for people in UTC."""
    wednesday = today - timedelta(days=today.weekday()) + timedelta(days=2)
    return datetime.combine(wednesday, clock_time(11, 0), tzinfo=UTC)


def make_pacer(rate: float | None) -> Any:
    """Ladder's Pacer at `rate` per workspace and 1/s per channel; None: no pacing at all.

    Keyword names are looked up (per_workspace / rate_per_workspace) so the harness follows
    the pacer's signature."""
    from bot.jobs.pacing import Pacer

    names = inspect.signature(Pacer).parameters
    workspace = next(n for n in ("per_workspace", "rate_per_workspace") if n in names)
    channel = next(n for n in ("per_channel", "rate_per_channel") if n in names)
    return Pacer(**{workspace: rate, channel: 1.0 if rate else None})


def post_counts(standin: WatchedStandIn, users: Sequence[str]) -> dict[str, int]:
    """Successful chat.postMessage per intended user (or channel): exactly one each."""
    per_user = Counter(c.args.get("channel") for c in standin.calls("chat.postMessage") if c.ok)
    counts = [per_user.get(u, 0) for u in users]
    return {
        "users": len(users),
        "delivered": sum(1 for n in counts if n >= 1),
        "misses": sum(1 for n in counts if n == 0),
        "duplicates": sum(n - 1 for n in counts if n > 1),
        "strays": sum(n for u, n in per_user.items() if u not in set(users)),
    }


def _post_rate(standin: WatchedStandIn) -> float | None:
    """Messages per second between the first and the last accepted post."""
    times = sorted(c.at for c in standin.calls("chat.postMessage") if c.ok)
    if len(times) < 2 or times[-1] == times[0]:
        return None
    return (len(times) - 1) / (times[-1] - times[0])


def _standin(users: Sequence[str], latency: float) -> WatchedStandIn:
    standin = WatchedStandIn()
    standin.add_workspace(BENCH_WORKSPACE, bot_token=BOT_TOKEN, team_name="Bench Co")
    for uid in users:
        standin.add_user(BENCH_WORKSPACE, uid, tz="UTC", tz_offset=0, tz_label="UTC")
    standin.set_latency(None, latency)
    standin.set_ceiling("chat.postMessage", per_second=CEILING, per_channel_per_second=1.0)
    standin.set_tier("users.list", 2)
    standin.set_tier("users.info", 4)
    return standin


def _client(standin: WatchedStandIn) -> WebClient:
    settings = load_settings(
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": "0" * 32,
            "SLACK_API_URL": standin.api_url,
            "LADDER_SCHEDULER": "off",
        }
    )
    return make_client(settings)  # Ladder's client: RateLimitErrorRetryHandler and all


def run_sender(
    users: int, *, work: Path, latency: float, send_rate: float | None, label: str
) -> dict[str, Any]:
    """Plan (profile look-ups included), then `Sender.run`, on a fresh database and stand-in.

    send_rate None: the pacer lets everything through, as before pacing existed.
    """
    now = bench_day(date.today())
    engine = sqlite_engine(work / f"fanout-{users}-{label}.db")
    filled = fill_workspace(
        engine,
        objectives=max(1, users // 5),
        krs_per_objective=5 if users >= 5 else users,
        users=users,
        teams=max(1, users // 100),
        today=now.date(),
    )
    out: dict[str, Any] = {"key_results": filled.key_results}
    with _standin(filled.users, latency) as standin:
        client = _client(standin)
        service = DeliveryService(engine, clock=lambda: now)
        options: dict[str, Any] = {}
        if "pacer" in inspect.signature(sender_module.Sender).parameters:
            options["pacer"] = make_pacer(send_rate)
        sender = sender_module.Sender(service, lambda _workspace: client, **options)
        out["pacer"] = (
            "none (Sender takes no pacer)"
            if not options
            else f"{send_rate:g}/s per workspace, 1/s per channel"
            if send_rate
            else "off"
        )

        began = time.perf_counter()
        plan = service.plan(
            profiles=sender_module.lookup_profiles(lambda _workspace: client),
            workspace_id=BENCH_WORKSPACE,
            force=True,
        )
        out["planning"] = {
            "seconds": round(time.perf_counter() - began, 2),
            "planned": plan.planned,
            "profiles_refreshed": plan.refreshed,
            "users.list calls": len(standin.calls("users.list")),
            "users.info calls": len(standin.calls("users.info")),
            "429s": standin.ratelimited_count(),
        }
        standin.reset()

        began = time.perf_counter()
        report = sender.run(workspace_id=BENCH_WORKSPACE, force=True)
        seconds = time.perf_counter() - began
        counts = post_counts(standin, filled.users)
        first = next((c.args for c in standin.calls("chat.postMessage") if c.ok), None)
        out["sender"] = {
            "seconds": round(seconds, 2),
            "report": vars(report),
            "rate_per_s": round(counts["delivered"] / seconds, 2),
            "rate_vs_ceiling": round(counts["delivered"] / seconds / CEILING, 3),
            "steady_rate_per_s": _round(_post_rate(standin)),
            "429s": standin.ratelimited_count("chat.postMessage"),
            **counts,
            "message_problems": validate_message(first) if first else ["nothing sent"],
            "standin_violations": len(standin.violations),
        }
    engine.dispose()
    print(f"{users:>6} users, {label}: {out}", flush=True)
    return out


def run_naive(count: int, *, latency: float) -> dict[str, Any]:
    """One post after the other with Ladder's client, to channels of its own."""
    sample = [f"C0NAIVE{i:06d}" for i in range(count)]
    with _standin([], latency) as standin:
        client = _client(standin)
        began = time.perf_counter()
        for channel in sample:
            client.chat_postMessage(
                channel=channel,
                text="👋 Time for your weekly check-in.",
                blocks=[
                    {
                        "type": "section",
                        "text": {"type": "mrkdwn", "text": "👋 Time for your weekly check-in."},
                    }
                ],
                unfurl_links=False,
            )
        seconds = time.perf_counter() - began
        counts = post_counts(standin, sample)
        rate = counts["delivered"] / seconds if seconds else None
        out = {
            "sample_users": len(sample),
            "seconds": round(seconds, 2),
            "rate_per_s": _round(rate),
            "rate_vs_ceiling": _round(rate / CEILING if rate else None, 3),
            "429s": standin.ratelimited_count("chat.postMessage"),
            **counts,
        }
    print(f"naive: {out}", flush=True)
    return out


def run_size(
    users: int,
    *,
    work: Path,
    latency: float,
    send_rate: float,
    naive: dict[str, Any],
    unpaced: bool,
) -> dict[str, Any]:
    out: dict[str, Any] = {"users": users}
    out.update(run_sender(users, work=work, latency=latency, send_rate=send_rate, label="paced"))
    if unpaced:
        out["unpaced"] = run_sender(
            users, work=work, latency=latency, send_rate=None, label="unpaced"
        )
    rate = naive["rate_per_s"]
    out["naive"] = {
        **naive,
        "all_users_seconds_extrapolated": _round(users / rate if rate else None),
    }
    return out


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def checks(results: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for users, r in results.items():
        s = r["sender"]
        out += [
            {
                "target": f"{int(users):,} users: rate ≥ {RATE_TARGET} × ceiling",
                "measured": f"{s['rate_per_s']}/s = {s['rate_vs_ceiling']} × {CEILING:g}/s over "
                f"Sender.run ({s['steady_rate_per_s']}/s first → last post)",
                "ok": s["rate_vs_ceiling"] >= RATE_TARGET,
            },
            {
                "target": f"{int(users):,} users: no duplicates, no misses",
                "measured": f"{s['duplicates']} duplicates, {s['misses']} misses",
                "ok": s["duplicates"] == 0 and s["misses"] == 0,
            },
        ]
    return out


def _sender_row(users: str, label: str, r: dict[str, Any]) -> list[Any]:
    s, p = r["sender"], r["planning"]
    return [
        f"{int(users):,}",
        f"{label}, pacer {r['pacer']}",
        f"{p['seconds']} s ({p['users.list calls']} users.list, {p['users.info calls']} "
        f"users.info calls; {p['429s']} answered 429)",
        fmt(s["seconds"], " s"),
        f"{s['rate_per_s']}/s ({s['rate_vs_ceiling']:.0%})",
        s["429s"],
        s["duplicates"],
        s["misses"],
    ]


def markdown(data: dict[str, Any]) -> str:
    rows = []
    for users, r in data["results"].items():
        rows.append(_sender_row(users, "Ladder sender", r))
        if "unpaced" in r:
            rows.append(_sender_row(users, "Ladder sender", r["unpaced"]))
        n = r["naive"]
        rows.append(
            [
                f"{int(users):,}",
                f"naive loop ({n['sample_users']:,}-message sample)",
                "–",
                f"{fmt(n['seconds'], ' s')} (all {int(users):,}: "
                f"~{fmt(n['all_users_seconds_extrapolated'], ' s')})",
                f"{n['rate_per_s']}/s ({(n['rate_vs_ceiling'] or 0):.0%})",
                n["429s"],
                n["duplicates"],
                n["misses"],
            ]
        )
    return "\n".join(
        [
            "# Check-in fan-out",
            "",
            f"Machine: {machine_line(data['machine'])}.",
            f"Command: `{data['command']}`",
            "",
            f"Stand-in: {data['params']['latency_s'] * 1000:.0f} ms per call; chat.postMessage "
            f"ceiling {CEILING:g}/s per workspace and 1/s per channel; users.list Tier 2, "
            "users.info Tier 4 (profile look-ups during planning). Rate = people reached / "
            "sending wall time (`Sender.run`); planning is reported apart.",
            "",
            table(
                [
                    "users",
                    "sender",
                    "planning",
                    "sending",
                    "rate (of ceiling)",
                    "429s",
                    "duplicates",
                    "misses",
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


def argv_shown(args: argparse.Namespace) -> list[str]:
    shown = []
    if args.users != [1_000]:
        shown += ["--users", *map(str, args.users)]
    if args.unpaced:
        shown.append("--unpaced")
    return shown


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.fanout", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 20 users, 10 ms latency")
    parser.add_argument("--users", type=int, nargs="+", default=[1_000])
    parser.add_argument("--naive-users", type=int, default=300, help="naive loop sample size")
    parser.add_argument(
        "--send-rate", type=float, default=CEILING, help="pacer rate (default: the ceiling)"
    )
    parser.add_argument(
        "--unpaced", action="store_true", help="also run the sender with pacing off (429-driven)"
    )
    parser.add_argument("--out", type=Path, help="results folder (default bench/results)")
    args = parser.parse_args(argv)
    latency = LATENCY
    if args.quick:
        args.users, args.naive_users, latency = [20], 5, 0.01
    info = machine()
    began = time.perf_counter()
    results: dict[str, Any] = {}
    naive = run_naive(min(args.naive_users, *args.users), latency=latency)
    with tempfile.TemporaryDirectory(prefix="ladder-bench-") as tmp:
        for users in args.users:
            results[str(users)] = run_size(
                users,
                work=Path(tmp),
                latency=latency,
                send_rate=args.send_rate,
                naive=naive,
                unpaced=args.unpaced,
            )
    command = "python -m bench.fanout" + (
        " --quick" if args.quick else " ".join(["", *argv_shown(args)])
    )
    data = {
        "machine": info,
        "command": command,
        "params": {"users": args.users, "naive_users": args.naive_users, "latency_s": latency},
        "wall_s": round(time.perf_counter() - began, 1),
        "results": results,
        "checks": checks(results),
    }
    name = (
        "fanout"
        if args.users == [1_000] or args.quick
        else f"fanout-{'-'.join(map(str, args.users))}"
    )
    json_path, md_path = write_results(name, data, markdown(data), out=args.out)
    print(md_path.read_text())
    print(f"written: {json_path} {md_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
