from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.exc import ArgumentError, IntegrityError
from sqlmodel import Session, SQLModel, select

from storage.db import (
    insert_ignoring_conflicts,
    make_engine,
    normalize_database_url,
    session_scope,
)
from storage.errors import Unavailable
from storage.migrate import SchemaTooNew, current_revision, head_revision, include_object, upgrade
from storage.models import Objective, Person, Workspace
from storage.workspaces import ensure_workspace


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db:5432/app", "postgresql+psycopg://u:p@db:5432/app"),
        ("postgresql://u@db/app", "postgresql+psycopg://u@db/app"),
        ("postgresql+psycopg://u@db/app", "postgresql+psycopg://u@db/app"),
        ("sqlite:///data/ladder.db", "sqlite:///data/ladder.db"),
    ],
)
def test_heroku_style_urls_use_psycopg3(given: str, expected: str) -> None:
    assert normalize_database_url(given) == expected


def test_malformed_url_is_refused() -> None:
    with pytest.raises(ArgumentError):
        normalize_database_url("not a url")


def test_migrations_build_exactly_the_models(engine: sa.Engine) -> None:
    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": include_object}
        )
        differences = compare_metadata(context, SQLModel.metadata)
    if engine.dialect.name == "sqlite":
        differences = [d for d in differences if not _inline_reference(d)]
    assert differences == []


def _inline_reference(difference: tuple) -> bool:
    """key_result.carried_from_id's foreign key was added inline by migration 0008 (SQLite can
    add a column with REFERENCES, not a constraint afterwards), and SQLAlchemy's SQLite
    reflection does not read an inline reference's ON DELETE: it then reads as removed and
    added again. What the database enforces is checked below, from PRAGMA foreign_key_list."""
    action, constraint = difference[0], difference[1]
    return (
        action in ("remove_fk", "add_fk")
        and constraint.table.name == "key_result"
        and [c.name for c in constraint.columns] == ["carried_from_id"]
    )


def test_carried_from_is_a_set_null_reference(engine: sa.Engine) -> None:
    """ON DELETE SET NULL on both databases (on SQLite, as PRAGMA foreign_key_list tells)."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            keys = connection.exec_driver_sql("PRAGMA foreign_key_list(key_result)").all()
        [(on_delete,)] = [(k[6],) for k in keys if k[3] == "carried_from_id"]
        assert on_delete == "SET NULL"
    inspector = sa.inspect(engine)
    [fk] = [
        f
        for f in inspector.get_foreign_keys("key_result")
        if f["constrained_columns"] == ["carried_from_id"]
    ]
    assert fk["referred_table"] == "key_result"


def test_sqlite_enforces_foreign_keys_and_uses_wal(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/nested/dir/ladder.db")
    upgrade(engine)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    with pytest.raises(IntegrityError), Session(engine) as session:
        session.add(Objective(workspace_id="T404", cycle_id=999, owner_id="U1", title="x"))
        session.commit()


def test_upgrade_is_idempotent_and_refuses_a_newer_database(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/ladder.db")
    upgrade(engine)
    upgrade(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = 'ffff_future'")
    with pytest.raises(SchemaTooNew, match="newer Ladder"):
        upgrade(engine)


def test_session_scope_rolls_back_on_error(engine: sa.Engine) -> None:
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        session.add(Workspace(team_id="T1"))
        session.flush()
        raise RuntimeError("boom")
    with Session(engine) as session:
        assert session.get(Workspace, "T1") is None


def test_a_database_that_takes_no_writes_is_unavailable_and_reads_go_on(
    engine: sa.Engine,
) -> None:
    # SQLite on a full disk or a read-only file; PostgreSQL as a standby after a failover.
    with session_scope(engine) as session:
        ensure_workspace(session=session, workspace_id="T1")
    read_only = (
        "PRAGMA query_only=ON"
        if engine.dialect.name == "sqlite"
        else "SET default_transaction_read_only = on"
    )

    def take_no_writes(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(read_only)
        cursor.close()
        dbapi_connection.commit()

    sa.event.listen(engine, "connect", take_no_writes)
    engine.dispose()
    try:
        with session_scope(engine, read_only=True) as session:
            assert session.get(Workspace, "T1") is not None
        with pytest.raises(Unavailable), session_scope(engine) as session:
            session.add(Workspace(team_id="T2"))
    finally:  # the fixture's cleanup writes: no read-only connection left behind
        sa.event.remove(engine, "connect", take_no_writes)
        engine.dispose()


def test_timestamps_come_back_timezone_aware(engine: sa.Engine) -> None:
    with session_scope(engine) as session:
        session.add(Workspace(team_id="T1"))
    with Session(engine) as session:
        workspace = session.get(Workspace, "T1")
        assert workspace is not None
        assert workspace.created_at.tzinfo is not None


def test_inserting_more_rows_than_one_statement_can_bind(engine: sa.Engine) -> None:
    """12,000 people × 7 columns = 84,000 values: over PostgreSQL's 65,535 and SQLite's 32,766
    bound parameters per statement (a first check-in plan at 10,000 people failed so)."""
    users = [f"U{n:07d}" for n in range(12_000)]
    rows = [Person(workspace_id="T0BIG", user_id=u).model_dump() for u in users]
    assert len(rows[0]) * len(rows) > 65_535
    with session_scope(engine) as session:
        ensure_workspace(session=session, workspace_id="T0BIG")
        assert insert_ignoring_conflicts(session, Person, rows) == len(users)
    with session_scope(engine) as session:  # every conflict ignored, the new one counted
        again = [*rows[:5_000], Person(workspace_id="T0BIG", user_id="U9999999").model_dump()]
        assert insert_ignoring_conflicts(session, Person, again) == 1
    with Session(engine) as session:
        stored = session.exec(select(Person.user_id).where(Person.workspace_id == "T0BIG")).all()
    assert sorted(stored) == [*users, "U9999999"]


def test_a_time_limit_counts_from_when_its_work_arrived() -> None:
    """`since`: the limit started when the request was read, not when the work began; a
    `since` in the future counts from now (a limit is never longer than its seconds)."""
    import time

    from storage.db import time_left, time_limit

    assert time_left() is None
    arrived = time.monotonic() - 0.5
    with time_limit(2.0, since=arrived):
        left = time_left()
        assert left is not None and left <= 1.5
    with time_limit(2.0, since=time.monotonic() + 60):
        left = time_left()
        assert left is not None and 1.0 < left <= 2.0
    assert time_left() is None


def test_no_commit_once_the_roll_up_spent_the_time_limit(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The roll-up's hooks run inside the commit: work they make late is rolled back, not
    committed after a form's answer said it timed out (a new cadence rebuilds every status)."""
    import storage.db
    import storage.rollup
    from storage.db import time_limit
    from storage.errors import TimedOut
    from storage.workspaces import get_workspace, update_workspace

    with session_scope(engine) as session:
        ensure_workspace(session=session, workspace_id="T1")
    rebuild = storage.rollup.rebuild_workspace

    def rebuild_spending_the_limit(**kwargs: Any) -> None:
        rebuild(**kwargs)
        monkeypatch.setattr(storage.db, "time_left", lambda: storage.db.COMMIT_MARGIN_S / 2)

    monkeypatch.setattr(storage.rollup, "rebuild_workspace", rebuild_spending_the_limit)
    with time_limit(2.0), pytest.raises(TimedOut), session_scope(engine) as session:
        update_workspace(session=session, workspace_id="T1", checkin_cadence_weeks=2)
    monkeypatch.undo()  # time flows again
    with session_scope(engine, read_only=True) as session:
        assert get_workspace(session=session, workspace_id="T1").checkin_cadence_weeks == 1
