"""Engine and session setup. One engine per process; one session per handler call or job."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel, create_engine

DEFAULT_DATABASE_URL = "sqlite:///data/ladder.db"
READ_ONLY = "ladder_read_only"  # execution option: a session that only reads


def normalize_database_url(url: str) -> str:
    """Accept Heroku-style postgres:// URLs and pick the psycopg 3 driver for PostgreSQL."""
    url = url.strip()
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    make_url(url)  # raises ArgumentError on a malformed URL
    return url


def make_engine(url: str = DEFAULT_DATABASE_URL, *, echo: bool = False) -> Engine:
    url = normalize_database_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=20, max_overflow=10)

    database = parsed.database or ""
    in_memory = database in ("", ":memory:")
    if not in_memory:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        echo=echo,
        connect_args={"check_same_thread": False, "timeout": 30},
        # An in-memory database exists per connection, so every session must share one.
        poolclass=StaticPool if in_memory else None,
        # A connection per listener thread (bot/app.py LISTENER_THREADS) plus the scheduler's.
        **({} if in_memory else {"pool_size": 20, "max_overflow": 10}),
    )

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # Foreign keys are off by default in SQLite and must be enabled per connection.
        # pysqlite's own transaction handling is disabled so SQLAlchemy's BEGIN is the real one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(connection) -> None:  # type: ignore[no-untyped-def]
        # IMMEDIATE takes the write lock up front: a deferred transaction that reads, then
        # writes, fails at once with "database is locked" when another writer got there
        # first (busy_timeout cannot help there). Writers queue instead; WAL keeps it cheap.
        # A read-only session (session_scope(read_only=True)) needs no lock: WAL readers see
        # a snapshot and never wait for a writer, so a long `/okr status all` blocks nobody.
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def insert_ignoring_conflicts(session: Session, table: type[SQLModel], rows: list[dict]) -> int:
    """INSERT … ON CONFLICT DO NOTHING on SQLite and PostgreSQL; returns rows inserted."""
    if not rows:
        return 0
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = module.insert(table).values(rows).on_conflict_do_nothing()
    # Without preserve_rowcount, psycopg's driver reports -1 for this INSERT: every plan
    # counted 0 on PostgreSQL.
    result = session.execute(statement.execution_options(preserve_rowcount=True))
    return max(result.rowcount or 0, 0)  # type: ignore[attr-defined]


@contextmanager
def session_scope(engine: Engine, *, read_only: bool = False) -> Iterator[Session]:
    """A session whose work commits on success and rolls back on any error.

    read_only: the session only reads (on SQLite it then takes no write lock).
    """
    bind = engine.execution_options(**{READ_ONLY: True}) if read_only else engine
    with Session(bind, expire_on_commit=False) as session, session.begin():
        yield session
