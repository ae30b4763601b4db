"""Shared fixtures: databases on SQLite and PostgreSQL.

PostgreSQL tests use LADDER_TEST_POSTGRES_URL (default: the local server at 127.0.0.1:5432,
user postgres, database test) and a fresh schema per test run. Without a reachable server
they skip with the reason, except under CI (CI=true) or LADDER_REQUIRE_POSTGRES=1, where they
fail: CI must run them.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, SQLModel

from storage.db import make_engine
from storage.migrate import SLACK_TABLES, upgrade

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_url() -> str:
    return os.environ.get("LADDER_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def postgres_required() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true") or bool(
        os.environ.get("LADDER_REQUIRE_POSTGRES")
    )


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once; each test gets a copy."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # closing the last connection checkpoints the WAL into the file
    assert not path.with_name("template.db-wal").exists()
    return path


@contextmanager
def fresh_postgres_schema(prefix: str, **engine_options: Any) -> Iterator[Engine]:
    """An engine bound to a new, empty PostgreSQL schema, dropped afterwards. Skips with a
    reason when no server is reachable, and fails instead under CI."""
    url = postgres_url()
    try:
        admin = make_engine(url)
        with admin.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except Exception as error:
        message = f"PostgreSQL not reachable at {url}: {error.__class__.__name__}: {error}"
        if postgres_required():
            pytest.fail(f"{message} (required under CI)")
        pytest.skip(f"{message}. Start PostgreSQL or set LADDER_TEST_POSTGRES_URL.")
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    engine = make_engine(
        admin.url.render_as_string(hide_password=False),
        connect_args={"options": f"-csearch_path={schema}"},
        **engine_options,
    )
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_schema_engine() -> Iterator[Engine]:
    """An engine bound to a fresh schema for this test run, migrated to head."""
    with fresh_postgres_schema("ladder_test", pool_size=10, max_overflow=10) as engine:
        upgrade(engine)
        yield engine


def _truncate_all(engine: Engine) -> None:
    names = [t.name for t in SQLModel.metadata.sorted_tables] + sorted(SLACK_TABLES)
    tables = ", ".join(f'"{name}"' for name in names)
    # TRUNCATE locks the tables one by one: a transaction still ending from the test before
    # (a listener's work after its ack) can hold one it then waits behind, and PostgreSQL
    # breaks the cycle by failing one side. That side is this cleanup: try again.
    for attempt in range(5):
        try:
            with engine.begin() as connection:
                connection.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
            return
        except OperationalError as error:
            if "deadlock detected" not in str(error) or attempt == 4:
                raise


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty database: every storage test runs on both backends."""
    if request.param == "sqlite":
        path = tmp_path / "ladder.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        engine = make_engine(f"sqlite:///{path}")
        yield engine
        engine.dispose()
    else:
        engine = request.getfixturevalue("postgres_schema_engine")
        _truncate_all(engine)
        yield engine


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


class StatementCounter:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.statements: list[str] = []

    def _record(self, _conn, _cursor, statement, _params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        if not statement.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE")):
            self.statements.append(statement)

    def __enter__(self) -> StatementCounter:
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_statements(engine: Engine):  # type: ignore[no-untyped-def]
    return lambda: StatementCounter(engine)
