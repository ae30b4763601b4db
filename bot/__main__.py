"""Ladder's command line: `python -m bot [command]` (also installed as `ladder`)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from dotenv import find_dotenv, load_dotenv
from sqlalchemy import Engine

from bot.config import ConfigError, Settings, load_settings
from bot.logs import configure_logging, redact, secrets_of
from bot.services.retention import StillActive
from storage.db import make_engine
from storage.errors import NotFound, Refused
from storage.migrate import SchemaTooNew, current_revision, head_revision, upgrade

if TYPE_CHECKING:
    from bot.jobs.sender import ClientFor

log = logging.getLogger("ladder")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ladder", description=__doc__)
    parser.add_argument("--version", action="version", version=f"ladder {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="command")

    def command(name: str, text: str) -> argparse.ArgumentParser:
        """A subcommand whose `-h` says what it does, not only how to call it."""
        return commands.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")

    serve = command("serve", "upgrade the database and serve the Slack app (default)")
    serve.set_defaults(run=_serve)
    mode = serve.add_mutually_exclusive_group()
    mode.add_argument(
        "--http",
        dest="mode",
        action="store_const",
        const="http",
        help="serve HTTP on $PORT even if SLACK_APP_TOKEN is set (default: Socket Mode if set)",
    )
    mode.add_argument(
        "--socket-mode",
        dest="mode",
        action="store_const",
        const="socket",
        help="serve over Socket Mode; fails without SLACK_APP_TOKEN",
    )
    db = command("db", "upgrade the database schema to this version's, or show where it is")
    db.add_argument("action", choices=["upgrade", "current"], help="upgrade to head / show it")
    db.set_defaults(run=_db)
    command(
        "clock",
        "run the one scheduler process: weekly check-in prompts, reminders and team digests, "
        "each at its local time; run exactly one, when `serve` runs with LADDER_SCHEDULER=off",
    ).set_defaults(run=_clock)
    checkins = command(
        "checkins", "send this period's weekly check-in prompts and digests now, once each"
    )
    checkins.add_argument("action", choices=["send"], help="send this period's prompts now")
    checkins.set_defaults(run=_checkins)
    checkins.add_argument("--workspace", help="only this workspace (team id, T…)")
    checkins.add_argument(
        "--reclaim-after",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="resend claims older than this (a crashed sender's); default 120",
    )
    schedule = command("schedule", "print the next check-in prompt times")
    schedule.add_argument("--users", action="store_true", help="also per user")
    schedule.set_defaults(run=_schedule)
    schedule.add_argument("--workspace", help="only this workspace (team id, T…)")
    purge = command(
        "purge", "delete the data of workspaces uninstalled longer than LADDER_RETENTION_DAYS"
    )
    purge.add_argument(
        "--workspace", help="only this uninstalled workspace (team id, T…), however recent"
    )
    purge.add_argument("--dry-run", action="store_true", help="count what would be deleted")
    purge.set_defaults(run=_purge)
    export = command("export", "write a workspace's OKRs as YAML or CSV")
    export.add_argument("--workspace", help="team id (T…); default: the only one")
    export.add_argument("--format", choices=["yaml", "csv"], help="default: --output's extension")
    export.add_argument("--output", metavar="FILE", help="default: standard output")
    export.set_defaults(run=_export)
    load = command("import", "read OKRs from a YAML or CSV file: all or nothing")
    load.add_argument("file", metavar="FILE")
    load.set_defaults(run=_import)
    load.add_argument("--workspace", help="team id (T…); default: the one the file names")
    load.add_argument("--format", choices=["yaml", "csv"], help="default: the file's extension")
    load.add_argument(
        "--replace", action="store_true", help="delete the workspace's OKRs and history first"
    )
    sources = command(
        "sources",
        "data sources: test a KR's source once (records nothing), pull what is due now, or "
        "manage a workspace's allow-list of hosts",
    )
    sources.add_argument(
        "action", choices=["test", "sync", "allow", "disallow", "hosts"], help="what to do"
    )
    sources.add_argument(
        "target", nargs="?", help="test: the key result's id; allow/disallow: the host name"
    )
    sources.add_argument("--workspace", help="team id (T…); sync: only this one")
    sources.set_defaults(run=_sources)
    return parser


# Settings that switch a mode on by merely existing: Bolt turns on its own OAuth flow when
# SLACK_CLIENT_ID and SLACK_CLIENT_SECRET are in the environment, even empty.
EMPTY_MEANS_UNSET = ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "SLACK_APP_TOKEN")


def load_env_file() -> None:
    """The .env of the folder Ladder runs in (or above it), never the one next to its code:
    real environment variables win over it, and a setting left empty counts as unset."""
    load_dotenv(find_dotenv(usecwd=True), override=False)
    for name in EMPTY_MEANS_UNSET:
        if not os.environ.get(name, "x").strip():
            del os.environ[name]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ladder")
    except PackageNotFoundError:  # run from a checkout without `pip install -e .`
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    load_env_file()
    args = _parser().parse_args(argv)
    run: Command = getattr(args, "run", _serve)  # no subcommand: serve
    try:
        settings = load_settings(require_slack=False)
        configure_logging(settings.log_level, settings.log_format, secrets=secrets_of(settings))
        logging.getLogger("alembic").setLevel(logging.WARNING)  # Ladder logs the outcome
        return run(settings, args)
    except (ConfigError, SchemaTooNew) as error:
        for line in str(error).splitlines():  # one line per bad setting
            print(f"ladder: {redact(line)}", file=sys.stderr)  # a token pasted in the wrong place
        return 2
    except (NotFound, Refused, StillActive) as error:  # the command refused: nothing done
        print(f"ladder: {error}", file=sys.stderr)
        return 1


Command = Callable[[Settings, argparse.Namespace], int]


def _with_slack(settings: Settings) -> tuple[Settings, Engine, ClientFor]:
    """For the commands that message Slack: the database ready, then Slack's settings."""
    engine = _ready_engine(settings)
    from bot.app import workspace_clients

    settings = load_settings(require_slack=True)
    return settings, engine, workspace_clients(settings, engine)


def _clock(settings: Settings, args: argparse.Namespace) -> int:
    from bot.jobs.runtime import run_clock

    run_clock(*_with_slack(settings))
    return 0


def _checkins(settings: Settings, args: argparse.Namespace) -> int:
    from bot.jobs.runtime import send_checkins

    report = send_checkins(
        *_with_slack(settings),
        workspace_id=args.workspace,
        reclaim_after=timedelta(seconds=args.reclaim_after),
    )
    print(
        f"check-ins: {report.sent - report.digests - report.reflections} prompts and "
        f"reminders sent, {report.digests} digests posted, {report.reflections} "
        f"reflection requests sent, {report.recovered} already there, "
        f"{report.failed} failed, {report.deferred} deferred"
    )
    return 0


def _db(settings: Settings, args: argparse.Namespace) -> int:
    engine = make_engine(settings.database_url)
    if args.action == "upgrade":
        upgrade(engine)
    print(f"database schema: {current_revision(engine)} (code: {head_revision()})")
    return 0


def _ready_engine(settings: Settings) -> Engine:
    engine = make_engine(settings.database_url)
    upgrade(engine)
    log.info("database ready at schema %s", current_revision(engine))
    return engine


def _schedule(settings: Settings, args: argparse.Namespace) -> int:
    from bot.services.schedule_report import schedule_lines

    engine = _ready_engine(settings)
    for line in schedule_lines(
        engine, now=datetime.now(UTC), workspace_id=args.workspace, per_user=args.users
    ):
        print(line)
    return 0


def _purge(settings: Settings, args: argparse.Namespace) -> int:
    from bot.services.retention import purge_expired, purge_inactive

    engine = _ready_engine(settings)
    workspace_id, dry_run = args.workspace, args.dry_run
    report = (
        purge_inactive(engine, workspace_id=workspace_id, dry_run=dry_run)
        if workspace_id
        else purge_expired(
            engine, now=datetime.now(UTC), retention=settings.retention, dry_run=dry_run
        )
    )
    for line in report.lines():
        print(line)
    return 0


def _export(settings: Settings, args: argparse.Namespace) -> int:
    from bot.services.transfer import Format, export_text, list_workspaces

    fmt = args.format or (Format.of_path(args.output) if args.output else None)
    if fmt is None:
        raise ConfigError("say --format yaml or --format csv (or an --output FILE.yaml/.csv)")
    engine = _ready_engine(settings)
    workspace_id = args.workspace
    if workspace_id is None:
        known = list_workspaces(engine)
        if len(known) != 1:
            which = ", ".join(known) if known else "none yet"
            raise ConfigError(f"say which workspace with --workspace (in the database: {which})")
        workspace_id = known[0]
    exported = export_text(engine, workspace_id=workspace_id, fmt=Format(fmt))
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="") as out:
            out.write(exported.text)
    else:
        sys.stdout.write(exported.text)
    print(
        f"exported {workspace_id}: {exported.objectives} objectives, "
        f"{exported.key_results} key results, {exported.check_ins} check-ins",
        file=sys.stderr,  # stdout may be the export itself
    )
    return 0


def _import(settings: Settings, args: argparse.Namespace) -> int:
    from bot.services.transfer import Format, ImportRefused, import_text, slack_email_lookup

    fmt = args.format or Format.of_path(args.file)
    if fmt is None:
        raise ConfigError(f"{args.file}: say --format yaml or --format csv")
    try:
        with open(args.file, encoding="utf-8-sig", newline="") as source:
            text = source.read()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read {args.file}: {error}") from error
    engine = _ready_engine(settings)
    lookup = None
    if settings.slack_bot_token:  # owners given by email are looked up in Slack
        from bot.client import make_client

        lookup = slack_email_lookup(make_client(settings))
    elif settings.slack_client_id and args.workspace:  # OAuth: that workspace's installation
        from bot.app import workspace_clients

        lookup = slack_email_lookup(workspace_clients(settings, engine)(args.workspace))
    try:
        report = import_text(
            engine,
            text,
            fmt=Format(fmt),
            now=datetime.now(UTC),
            workspace_id=args.workspace,
            replace=args.replace,
            lookup_email=lookup,
        )
    except ImportRefused as refused:
        for problem in refused.problems:
            where = f"{args.file}:{problem.line}" if problem.line else args.file
            print(f"{where}: {problem.message}", file=sys.stderr)
        print(f"ladder: nothing imported ({len(refused.problems)} problems)", file=sys.stderr)
        return 1
    print(report.summary())
    return 0


def _sources(settings: Settings, args: argparse.Namespace) -> int:
    from bot.jobs.sources import make_source_service

    engine = _ready_engine(settings)
    # No Slack client: the command line reports failures itself instead of DMing owners.
    service = make_source_service(engine, None)
    try:
        if args.action == "test":
            return _sources_test(service, args.target)
        if args.action == "sync":
            report = service.sync_due(workspace_id=args.workspace)
            print(
                f"data sources: {report.pulled} pulled, {report.recorded} recorded, "
                f"{report.unchanged} unchanged, {report.failed} failed in {report.seconds:.1f}s"
            )
            for kr_id, reason in sorted(report.failures.items()):
                print(f"  KR {kr_id}: {reason}")
            return 1 if report.failed else 0
        if not args.workspace:
            raise ConfigError(f"`sources {args.action}` needs --workspace T…")
        if args.action == "hosts":
            for host in sorted(service.allowed_hosts(workspace_id=args.workspace)):
                print(host)
            return 0
        if not args.target:
            raise ConfigError(f"`sources {args.action}` needs the host name")
        if args.action == "allow":
            added = service.allow_host(
                workspace_id=args.workspace, host=args.target, added_by="cli"
            )
            print(f"{args.target}: {'allowed' if added else 'already allowed'}")
        else:
            removed = service.disallow_host(workspace_id=args.workspace, host=args.target)
            print(f"{args.target}: {'removed' if removed else 'was not on the list'}")
        return 0
    finally:
        service.fetcher.close()


def _sources_test(service: Any, target: str | None) -> int:
    def format_value(value: float) -> str:
        return f"{value:,.6g}"

    if not target or not target.isdigit():
        raise ConfigError("`sources test` needs the key result's id, e.g. `sources test 12`")
    kr_id = int(target)
    workspace_id = service.workspace_of(key_result_id=kr_id)
    result = service.test(workspace_id=workspace_id, key_result_id=kr_id)
    current = "none" if result.current_value is None else format_value(result.current_value)
    if result.reading is None:
        print(f"KR {kr_id}: the source fails: {result.reason} (the value stays {current})")
        return 1
    reading = result.reading
    scaled = f" (read {reading.raw:g}, scaled)" if reading.raw != reading.value else ""
    if result.would_record:
        print(f"KR {kr_id}: would record {format_value(reading.value)}{scaled}; now {current}")
    else:
        print(
            f"KR {kr_id}: reads {format_value(reading.value)}{scaled}, unchanged: nothing to record"
        )
    print(f"  from {reading.url}")
    return 0


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    mode: str | None = getattr(args, "mode", None)
    # The database first: even without Slack tokens yet, a first run leaves it ready.
    engine = make_engine(settings.database_url)
    upgrade(engine)
    settings = load_settings(require_slack=True)  # then a broken config stops with one line
    if mode == "socket" and settings.slack_app_token is None:
        raise ConfigError(
            "SLACK_APP_TOKEN is not set: `serve --socket-mode` needs an app-level token "
            "(xapp-…, scope connections:write) from Basic Information > App-Level Tokens"
        )
    if mode == "http":
        if settings.slack_signing_secret is None:
            raise ConfigError(
                "SLACK_SIGNING_SECRET is not set: `serve --http` needs it to verify requests "
                "(Basic Information > App Credentials)"
            )
        settings = settings.model_copy(update={"slack_app_token": None})
    log.info("database ready at schema %s", current_revision(engine))
    from bot.server import serve  # imported late: `db` commands need no Slack libraries

    serve(settings, engine)
    return 0


if __name__ == "__main__":
    sys.exit(main())
