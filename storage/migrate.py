"""Schema migrations with Alembic, configured in code so no alembic.ini is needed.

Every start-up upgrades, and nearly every start-up finds the database already at head. That
case costs one SELECT and a read of the migration files' headers (`revision_graph`): Alembic
itself (importing it, loading and running every migration script) is only brought in when
there is something to do, or something to refuse.
"""

from __future__ import annotations

import ast
import logging
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from storage.db import READ_ONLY

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version"  # Alembic's default, where it stores the revision


# Tables that live in Ladder's database but belong to a library that creates them itself.
SCHEDULER_JOB_TABLE = "apscheduler_jobs"
# slack_sdk's SQLAlchemy installation and OAuth state stores (OAuth mode). Migration 0003
# creates them from the stores' own table definitions; they are not SQLModel tables, so the
# model comparison skips them and a test compares them with slack_sdk's metadata instead.
SLACK_INSTALLATIONS_TABLE = "slack_installations"
SLACK_BOTS_TABLE = "slack_bots"
SLACK_OAUTH_STATES_TABLE = "slack_oauth_states"
SLACK_TABLES = frozenset({SLACK_INSTALLATIONS_TABLE, SLACK_BOTS_TABLE, SLACK_OAUTH_STATES_TABLE})
FOREIGN_TABLES = frozenset({SCHEDULER_JOB_TABLE}) | SLACK_TABLES


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Autogenerate and schema comparisons ignore the foreign tables (and their indexes)."""
    if type_ == "table":
        return name not in FOREIGN_TABLES
    table = getattr(obj, "table", None)
    return getattr(table, "name", None) not in FOREIGN_TABLES


class SchemaTooNew(RuntimeError):
    """The database was upgraded by a newer Ladder than this one."""


def alembic_config(engine: Engine | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # env.py runs on this very engine (and its connection), so in-memory databases work too.
    config.attributes["engine"] = engine
    return config


def scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


@cache
def revision_graph() -> dict[str, tuple[str, ...]]:
    """Each migration's revision and the revisions it follows, read from the files' top-level
    assignments (`revision = …`, `down_revision = …`) without importing them or Alembic."""
    graph: dict[str, tuple[str, ...]] = {}
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        values: dict[str, object] = {}
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            target: ast.expr
            if isinstance(node, ast.AnnAssign) and node.value is not None:
                target, value = node.target, node.value
            elif isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
            else:
                continue
            if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
                values[target.id] = ast.literal_eval(value)
        revision, down = values.get("revision"), values.get("down_revision")
        if isinstance(revision, str):
            graph[revision] = (
                (down,)
                if isinstance(down, str)
                else tuple(down)
                if isinstance(down, tuple | list)
                else ()
            )
    return graph


def cheap_head() -> str | None:
    """The one head of the migration files (None if there is not exactly one)."""
    graph = revision_graph()
    followed = {down for downs in graph.values() for down in downs}
    heads = [revision for revision in graph if revision not in followed]
    return heads[0] if len(heads) == 1 else None


def head_revision() -> str:
    head = cheap_head() or scripts().get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision stored in the database (None: never migrated), in one plain SELECT."""
    # Read-only: on SQLite it then takes no write lock (storage.db).
    with engine.execution_options(**{READ_ONLY: True}).connect() as connection:
        try:
            rows = connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
        except DBAPIError:  # no such table: never migrated
            return None
    if len(rows) != 1:  # none, or several heads: let Alembic sort it out
        return None if not rows else ",".join(sorted(r[0] for r in rows))
    return str(rows[0][0])


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision`; refuses a database newer than this code.

    Already at head (the usual start-up): nothing is imported or run beyond one SELECT."""
    current = current_revision(engine)
    if revision == "head" and current is not None and current == cheap_head():
        return
    graph = revision_graph()
    if current is not None and not all(r in graph for r in current.split(",")):
        raise SchemaTooNew(
            f"The database is at schema revision {current}, which this version of Ladder does "
            "not know: it was upgraded by a newer Ladder. Run that version, or restore a backup."
        )
    from alembic import command

    log.debug("upgrading the database schema from %s to %s", current or "nothing", revision)
    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(engine), revision)
