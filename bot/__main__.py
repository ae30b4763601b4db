"""Ladder's command line: `python -m bot [command]` (also installed as `ladder`)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from dotenv import load_dotenv
from sqlalchemy import Engine

from bot.config import ConfigError, Settings, load_settings
from storage.db import make_engine
from storage.migrate import SchemaTooNew, current_revision, head_revision, upgrade

log = logging.getLogger("ladder")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ladder", description=__doc__)
    commands = parser.add_subparsers(dest="command", metavar="command")
    commands.add_parser("serve", help="upgrade the database and serve the Slack app (default)")
    db = commands.add_parser("db", help="database schema")
    db.add_argument("action", choices=["upgrade", "current"], help="upgrade to head / show it")
    commands.add_parser(
        "clock", help="run the one scheduler process (when `serve` runs with LADDER_SCHEDULER=off)"
    )
    checkins = commands.add_parser("checkins", help="weekly check-in prompts")
    checkins.add_argument("action", choices=["send"], help="send this period's prompts now")
    checkins.add_argument("--workspace", help="only this workspace (team id, T…)")
    checkins.add_argument(
        "--reclaim-after",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="resend claims older than this (a crashed sender's); default 120",
    )
    schedule = commands.add_parser("schedule", help="print the next check-in prompt times")
    schedule.add_argument("--users", action="store_true", help="also per user")
    schedule.add_argument("--workspace", help="only this workspace (team id, T…)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    load_dotenv(override=False)  # real environment variables win over .env
    args = _parser().parse_args(argv)
    command = args.command or "serve"
    try:
        settings = load_settings(require_slack=False)
        logging.basicConfig(
            level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
        )
        logging.getLogger("alembic").setLevel(logging.WARNING)  # Ladder logs the outcome
        if command == "db":
            return _db(settings, args.action)
        if command == "serve":
            return _serve(settings)
        if command == "schedule":
            return _schedule(settings, workspace_id=args.workspace, per_user=args.users)
        if command in ("clock", "checkins"):
            engine = _ready_engine(settings)
            settings = load_settings(require_slack=True)
            from bot.jobs.runtime import run_clock, send_checkins

            if command == "clock":
                run_clock(settings, engine)
                return 0
            report = send_checkins(
                settings,
                engine,
                workspace_id=args.workspace,
                reclaim_after=timedelta(seconds=args.reclaim_after),
            )
            print(
                f"check-ins: {report.sent} sent, {report.recovered} already there, "
                f"{report.failed} failed, {report.deferred} deferred"
            )
            return 0
    except (ConfigError, SchemaTooNew) as error:
        print(f"ladder: {error}", file=sys.stderr)
        return 2
    raise AssertionError(f"unhandled command {command}")


def _db(settings: Settings, action: str) -> int:
    engine = make_engine(settings.database_url)
    if action == "upgrade":
        upgrade(engine)
    print(f"database schema: {current_revision(engine)} (code: {head_revision()})")
    return 0


def _ready_engine(settings: Settings) -> Engine:
    engine = make_engine(settings.database_url)
    upgrade(engine)
    log.info("database ready at schema %s", current_revision(engine))
    return engine


def _schedule(settings: Settings, *, workspace_id: str | None, per_user: bool) -> int:
    from bot.services.schedule_report import schedule_lines

    engine = _ready_engine(settings)
    for line in schedule_lines(
        engine, now=datetime.now(UTC), workspace_id=workspace_id, per_user=per_user
    ):
        print(line)
    return 0


def _serve(settings: Settings) -> int:
    # The database first: even without Slack tokens yet, a first run leaves it ready.
    engine = make_engine(settings.database_url)
    upgrade(engine)
    settings = load_settings(require_slack=True)  # then a broken config stops with one line
    log.info("database ready at schema %s", current_revision(engine))
    from bot.server import serve  # imported late: `db` commands need no Slack libraries

    serve(settings, engine)
    return 0


if __name__ == "__main__":
    sys.exit(main())
