"""Schema migrations with Alembic, configured in code so no alembic.ini is needed."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


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


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # env.py runs on this very engine (and its connection), so in-memory databases work too.
    config.attributes["engine"] = engine
    return config


def scripts() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config)


def head_revision() -> str:
    head = scripts().get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision`; refuses a database newer than this code."""
    current = current_revision(engine)
    if current is not None and current not in {r.revision for r in scripts().walk_revisions()}:
        raise SchemaTooNew(
            f"The database is at schema revision {current}, which this version of Ladder does "
            "not know: it was upgraded by a newer Ladder. Run that version, or restore a backup."
        )
    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str) -> None:
    command.downgrade(alembic_config(engine), revision)
