"""Can the database be written? The probe behind /healthz.

`SELECT 1` still answers when nothing can be saved: a full disk, a database file or
filesystem gone read-only, a PostgreSQL server that turned read-only (a standby after a
failover, default_transaction_read_only). Every command writes, so the health check writes
too: one row of `ladder_health`, rewritten with the time of the check, in a transaction of
its own that commits.

What it catches on SQLite: in WAL mode every commit appends to the -wal file, so once the
disk has no room for it to grow the probe fails as the commands do ("database or disk is
full"). A write that fits in space the -wal file already holds still succeeds; so do the
commands then. On PostgreSQL a data disk that is full while the WAL still has room is not
seen: rewriting one row needs no new block (a command inserting rows would fail).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from storage.db import dialect_module
from storage.models import LadderHealth, table_of

# The row every check rewrites: one row in all, whatever the number of processes.
CHECK_NAME = "write_check"


def check_writable(engine: Engine, *, now: datetime) -> None:
    """Write `now` into the health row and commit; returns once the commit succeeded.

    One statement, INSERT … ON CONFLICT (name) DO UPDATE, in its own short transaction:
    safe to run at once from any number of threads and processes on SQLite and PostgreSQL
    (no unique violation when several create the row together; on SQLite the write lock
    queues them, on PostgreSQL the row lock does). Like any writer it waits for the write
    lock (on SQLite up to busy_timeout, 30 s): a caller that must answer sooner bounds the
    wait itself.

    Raises what SQLAlchemy raises, unwrapped: sqlalchemy.exc.OperationalError for a full disk
    ("database or disk is full"; "disk I/O error" when a write is refused otherwise), a
    read-only SQLite file ("attempt to write a readonly database") or a server that cannot
    be reached, sqlalchemy.exc.InternalError for a read-only PostgreSQL transaction, and so
    on; all are sqlalchemy.exc.SQLAlchemyError. Nothing is left half done: the transaction
    rolls back. The caller (/healthz) treats any exception as "not healthy".

    `now` must be timezone-aware, as every stored time.
    """
    table = table_of(LadderHealth)
    module = dialect_module(engine.dialect.name)
    insert = module.insert(table).values(name=CHECK_NAME, checked_at=now)
    statement = insert.on_conflict_do_update(
        index_elements=[table.c.name], set_={"checked_at": insert.excluded.checked_at}
    )
    with engine.begin() as connection:  # on SQLite: BEGIN IMMEDIATE (storage.db)
        connection.execute(statement)
