"""Engine and session setup. One engine per process; one session per handler call or job."""

from __future__ import annotations

import importlib
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool
from sqlmodel import Session, SQLModel, create_engine, select

from storage.errors import NotFound, TimedOut, Unavailable
from storage.models import Cycle, Team, table_of

READ_ONLY = "ladder_read_only"  # execution option: a session that only reads
# PostgreSQL's read_only_sql_transaction: a standby after a failover, or a read-only default.
# SQLite's read-only file or full disk is an OperationalError already.
READ_ONLY_SQLSTATE = "25006"
# How long SQLite waits for another writer's lock when no time limit is set.
SQLITE_BUSY_MS = 30_000
# A transaction under a time limit commits only with at least this much time left: the
# answer that says "saved" must still reach Slack in time after the commit.
COMMIT_MARGIN_S = 0.25

M = TypeVar("M", bound=SQLModel)
Named = TypeVar("Named", Team, Cycle)
_deadline: ContextVar[float | None] = ContextVar("ladder_db_deadline", default=None)


@contextmanager
def time_limit(seconds: float, *, since: float | None = None) -> Iterator[None]:
    """Database work inside ends within `seconds` or raises TimedOut (nothing committed):
    statements and lock waits are cut at the time left, and a transaction commits only
    with COMMIT_MARGIN_S to spare. For work whose answer has a deadline (Slack's 3 s).
    `since`: the time.monotonic() the limit counts from (default: now), e.g. when the
    request was read, so time spent waiting before is spent from the limit too."""
    start = time.monotonic() if since is None else min(since, time.monotonic())
    token = _deadline.set(start + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def time_left() -> float | None:
    """Seconds left of the current time limit (negative: spent), or None without one."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


def _time_left_ms() -> int | None:
    """Milliseconds until the current time limit (at least 1), or None without one."""
    left = time_left()
    return None if left is None else max(1, int(left * 1000))


def check_commit_time() -> None:
    """TimedOut unless the current time limit leaves COMMIT_MARGIN_S for the commit."""
    left = time_left()
    if left is not None and left < COMMIT_MARGIN_S:
        raise TimedOut("the time limit ran out before the commit")


def normalize_database_url(url: str) -> str:
    """Accept Heroku-style postgres:// URLs and pick the psycopg 3 driver for PostgreSQL."""
    url = url.strip()
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    make_url(url)  # raises ArgumentError on a malformed URL
    return url


def make_engine(url: str, *, echo: bool = False, **options: Any) -> Engine:
    """The process's engine. `options` go to create_engine for PostgreSQL (pool sizes,
    connect_args), e.g. for tests that bind a schema."""
    url = normalize_database_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        defaults: dict[str, Any] = {"pool_pre_ping": True, "pool_size": 20, "max_overflow": 10}
        engine = create_engine(url, echo=echo, **{**defaults, **options})

        @event.listens_for(engine, "begin")
        def _postgres_time_limit(connection: Connection) -> None:
            # Under a time limit, every statement (lock waits included) is cut at what is left.
            time_left = _time_left_ms()
            if time_left is not None:
                connection.exec_driver_sql(f"SET LOCAL statement_timeout = {time_left}")

        return engine

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
    def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
        # Foreign keys are off by default in SQLite and must be enabled per connection.
        # pysqlite's own transaction handling is disabled so SQLAlchemy's BEGIN is the real one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(connection: Connection) -> None:
        # IMMEDIATE takes the write lock up front: a deferred transaction that reads, then
        # writes, fails at once with "database is locked" when another writer got there
        # first (busy_timeout cannot help there). Writers queue instead; WAL keeps it cheap.
        # A read-only session (session_scope(read_only=True)) needs no lock: WAL readers see
        # a snapshot and never wait for a writer, so a long `/okr status all` blocks nobody.
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        # Under a time limit the wait for the write lock ends with what is left of it.
        busy_ms = _time_left_ms() or SQLITE_BUSY_MS
        info = connection.connection.info  # per DBAPI connection: set only when it changes
        if info.get("busy_ms", SQLITE_BUSY_MS) != busy_ms:
            connection.exec_driver_sql(f"PRAGMA busy_timeout={busy_ms}")
            info["busy_ms"] = busy_ms
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def dialect_module(dialect_name: str) -> ModuleType:
    """sqlalchemy.dialects.postgresql or .sqlite, for their INSERT … ON CONFLICT. Imported
    when first used: PostgreSQL's dialect package (~0.1 s) is start-up time SQLite never
    needs."""
    name = "postgresql" if dialect_name == "postgresql" else "sqlite"
    return importlib.import_module(f"sqlalchemy.dialects.{name}")


# Rows per executemany call: bounds the memory of one batch of parameters.
INSERT_BATCH = 10_000


def insert_ignoring_conflicts(session: Session, table: type[SQLModel], rows: list[dict]) -> int:
    """INSERT … ON CONFLICT DO NOTHING on SQLite and PostgreSQL; returns rows inserted.

    One statement executed for many rows (executemany, in batches of INSERT_BATCH): no
    parameter limit applies (PostgreSQL allows 65,535 per statement, SQLite 32,766), the
    statement is compiled once, and it measured 2.4-3.0× faster than one multi-row INSERT.
    Every row must have the same keys."""
    if not rows:
        return 0
    module = dialect_module(session.get_bind().dialect.name)
    # Without preserve_rowcount, psycopg's driver reports -1 for this INSERT: every plan
    # counted 0 on PostgreSQL. With it, both drivers sum the rows each execution inserted.
    statement = (
        module.insert(table_of(table))  # Core: no ORM bulk path
        .on_conflict_do_nothing()
        .execution_options(preserve_rowcount=True)
    )
    inserted = 0
    for start in range(0, len(rows), INSERT_BATCH):
        result = session.exec(statement, params=rows[start : start + INSERT_BATCH])
        inserted += max(result.rowcount or 0, 0)
    return inserted


def get_row(session: Session, model: type[M], row_id: int, *, workspace_id: str) -> M:
    """The workspace's row with this id: NotFound for another workspace's, as for none."""
    table = table_of(model)
    row = session.exec(
        select(model).where(table.c.workspace_id == workspace_id, table.c.id == row_id)
    ).first()
    if row is None:
        raise NotFound(f"{table.name.replace('_', ' ')} {row_id} not found")
    return row


def by_name(rows: Iterable[Named], name: str) -> Named | None:
    """The row whose name is `name`, ignoring case and surrounding space."""
    wanted = name.strip().casefold()
    return next((row for row in rows if row.name.casefold() == wanted), None)


@contextmanager
def session_scope(engine: Engine, *, read_only: bool = False) -> Iterator[Session]:
    """A session whose work commits on success and rolls back on any error.

    read_only: the session only reads (on SQLite it then takes no write lock).
    A database that cannot be reached, timed out or takes no writes raises Unavailable
    (storage.errors).
    """
    bind = engine.execution_options(**{READ_ONLY: True}) if read_only else engine
    try:
        with Session(bind, expire_on_commit=False) as session, session.begin():
            yield session
            check_commit_time()  # early; again after the roll-up's work (storage/rollup.py)
    except DBAPIError as error:
        unreachable = isinstance(error, OperationalError | InterfaceError)
        if not unreachable and getattr(error.orig, "sqlstate", None) != READ_ONLY_SQLSTATE:
            raise
        raise Unavailable(type(error.orig or error).__name__) from error
