"""Ladder's command line: `python -m bot [command]` (also installed as `ladder`)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from dotenv import load_dotenv

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
        if command == "db":
            return _db(settings, args.action)
        if command == "serve":
            return _serve(settings)
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


def _serve(settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    upgrade(engine)
    log.info("database ready at schema %s", current_revision(engine))
    settings = load_settings(require_slack=True)  # now the Slack tokens must be there
    from bot.server import serve  # imported late: `db` commands need no Slack libraries

    serve(settings, engine)
    return 0


if __name__ == "__main__":
    sys.exit(main())
