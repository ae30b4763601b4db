"""storage.health.check_writable, the probe behind /healthz: it writes, on SQLite and
PostgreSQL, from many threads at once; and it fails where `SELECT 1` still answers: a full
disk, a file that cannot grow, a read-only database.

The full-disk tests run in a child process: one fills a real (tiny tmpfs) filesystem, mounted
in a user and mount namespace of its own, so needs `unshare` and skips without it; the other
caps the size a file may grow to (RLIMIT_FSIZE), which would hit pytest's own files too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, select

from storage.db import READ_ONLY, make_engine
from storage.health import CHECK_NAME, check_writable
from storage.models import LadderHealth

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def stored(engine: Engine) -> list[tuple[str, datetime]]:
    with Session(engine) as session:
        return [(h.name, h.checked_at) for h in session.exec(select(LadderHealth)).all()]


def select_1(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT 1")).scalar_one())


@pytest.fixture
def sqlite_path(tmp_path: Path, sqlite_template: Path) -> Path:
    path = tmp_path / "ladder.db"
    shutil.copy(sqlite_template, path)
    return path


# ------------------------------------------------------------------ SQLite and PostgreSQL


def test_a_check_stores_now_and_the_next_one_overwrites_it(engine: Engine) -> None:
    check_writable(engine, now=NOW)
    assert stored(engine) == [(CHECK_NAME, NOW)]
    later = NOW + timedelta(seconds=5)
    check_writable(engine, now=later)
    assert stored(engine) == [(CHECK_NAME, later)]


def test_eight_threads_checking_at_once_all_succeed(engine: Engine) -> None:
    """They race to create the row (the table starts empty), then to rewrite it."""
    threads, rounds = 8, 5
    start = threading.Barrier(threads)

    def run(thread: int) -> None:
        start.wait(timeout=10)
        for round in range(rounds):
            check_writable(engine, now=NOW + timedelta(seconds=round * threads + thread))

    assert stored(engine) == []
    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(run, i) for i in range(threads)]
        errors = [repr(f.exception(timeout=60)) for f in futures if f.exception(timeout=60)]
    assert errors == []
    [(name, checked_at)] = stored(engine)
    assert name == CHECK_NAME
    assert NOW <= checked_at < NOW + timedelta(seconds=threads * rounds)


# ------------------------------------------------------------------ read-only databases


@contextmanager
def sqlite_read_only(path: Path, how: str) -> Iterator[Engine]:
    """make_engine's engine (its pragmas, BEGIN IMMEDIATE) on a database it cannot write:
    the file opened read-only (mode=ro), or the connection made read-only (query_only)."""
    engine = make_engine(f"sqlite:///{path}")
    if how == "mode=ro":

        @event.listens_for(engine, "do_connect")
        def _open_read_only(dialect, record, cargs, cparams) -> None:  # type: ignore[no-untyped-def]
            cargs[:] = [f"file:{path}?mode=ro"]
            cparams["uri"] = True

    else:

        @event.listens_for(engine, "connect")
        def _query_only(dbapi_connection, record) -> None:  # type: ignore[no-untyped-def]
            dbapi_connection.execute("PRAGMA query_only=ON")

    try:
        yield engine
    finally:
        engine.dispose()


@pytest.mark.parametrize("how", ["mode=ro", "query_only"])
def test_sqlite_read_only_fails_the_check_while_select_1_answers(
    sqlite_path: Path, how: str
) -> None:
    writable = make_engine(f"sqlite:///{sqlite_path}")
    check_writable(writable, now=NOW)
    writable.dispose()

    with sqlite_read_only(sqlite_path, how) as engine:
        reader = engine.execution_options(**{READ_ONLY: True})  # BEGIN, not BEGIN IMMEDIATE
        assert select_1(reader) == 1
        assert stored(reader) == [(CHECK_NAME, NOW)]
        if how == "mode=ro":  # the SELECT 1 of today's /healthz answers
            assert select_1(engine) == 1
        # (With query_only its BEGIN IMMEDIATE is refused already, so it would fail too.)
        with pytest.raises(sa.exc.OperationalError, match="attempt to write a readonly database"):
            check_writable(engine, now=NOW + timedelta(minutes=1))
        assert select_1(reader) == 1  # the pool's connections still serve reads
    writable = make_engine(f"sqlite:///{sqlite_path}")
    assert stored(writable) == [(CHECK_NAME, NOW)]
    writable.dispose()


@pytest.mark.postgres
def test_postgres_read_only_fails_the_check_while_select_1_answers(
    postgres_schema_engine: Engine,
) -> None:
    """As on a standby after a failover, or with default_transaction_read_only set."""
    with postgres_schema_engine.connect() as connection:
        schema = connection.execute(text("SELECT current_schema()")).scalar_one()
    options = f"-csearch_path={schema} -cdefault_transaction_read_only=on"
    engine = sa.create_engine(postgres_schema_engine.url, connect_args={"options": options})
    try:
        assert select_1(engine) == 1
        with pytest.raises(SQLAlchemyError, match="read-only transaction"):
            check_writable(engine, now=NOW)
        assert select_1(engine) == 1
    finally:
        engine.dispose()


# ------------------------------------------------------------------ SQLite: a full disk


def full_disk_child(db: str, how: str) -> None:
    """Runs in a child process. Checks once (the -wal file now exists and holds the row),
    makes the disk full, checks again and reads, makes room, checks a third time; prints
    what happened as JSON."""
    import errno
    import resource

    engine = make_engine(f"sqlite:///{db}")
    check_writable(engine, now=NOW)
    wal = Path(f"{db}-wal")
    seen: dict[str, Any] = {"wal_bytes": wal.stat().st_size}
    filler = Path(db).with_name("filler")
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)

    if how == "tmpfs":  # fill the filesystem, to the last byte
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
        for size in (1 << 16, 1 << 10, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
        os.close(fd)
        seen["free_bytes"] = shutil.disk_usage(Path(db).parent).free
    else:  # no regular file may grow past the -wal file's present size
        resource.setrlimit(resource.RLIMIT_FSIZE, (wal.stat().st_size, limit[1]))

    try:
        seen["select_1"] = select_1(engine)
        try:
            check_writable(engine, now=NOW + timedelta(minutes=1))
            seen["error"] = None
        except sa.exc.OperationalError as error:
            seen["error"] = [error.orig.sqlite_errorname, str(error.orig)]  # type: ignore[union-attr]
        seen["stored_while_full"] = [[n, t.isoformat()] for n, t in stored(engine)]
    finally:
        if how == "tmpfs":
            filler.unlink()
        else:
            resource.setrlimit(resource.RLIMIT_FSIZE, limit)

    check_writable(engine, now=NOW + timedelta(minutes=2))  # room again: healthy again
    seen["stored_after"] = [[n, t.isoformat()] for n, t in stored(engine)]
    engine.dispose()
    print(json.dumps(seen))


def run_child(prefix: list[str], db: Path, how: str) -> dict[str, Any]:
    code = f"from tests.storage.test_health import full_disk_child; full_disk_child({str(db)!r}, {how!r})"
    done = subprocess.run(
        [*prefix, sys.executable, "-c", code],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, (done.stdout, done.stderr)
    return json.loads(done.stdout.splitlines()[-1])


def assert_failed_while_full(seen: dict[str, Any], error: list[str]) -> None:
    assert seen["select_1"] == 1  # the old /healthz would have said ok
    assert seen["error"] == error
    assert seen["stored_while_full"] == [[CHECK_NAME, NOW.isoformat()]]  # nothing half-written
    later = (NOW + timedelta(minutes=2)).isoformat()
    assert seen["stored_after"] == [[CHECK_NAME, later]]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="tmpfs and namespaces: Linux")
def test_sqlite_on_a_full_disk_fails_the_check_while_select_1_answers(
    tmp_path: Path, sqlite_path: Path
) -> None:
    """A real full filesystem: a 1 MiB tmpfs, mounted in a user and mount namespace of the
    child's own (no privileges needed where unprivileged user namespaces are allowed)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    prefix = [
        "unshare",
        "--user",
        "--map-root-user",
        "--mount",
        "sh",
        "-c",
        'mount -t tmpfs -o size=1m tmpfs "$0" && cp "$1" "$0/ladder.db" && shift && exec "$@"',
        str(mount),
        str(sqlite_path),
    ]
    if shutil.which("unshare") is None:
        pytest.skip("no unshare (util-linux) here")
    probe = subprocess.run([*prefix, "true"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs in a user namespace here: {probe.stderr.strip()}")

    seen = run_child(prefix, mount / "ladder.db", "tmpfs")
    assert seen["free_bytes"] == 0
    assert_failed_while_full(seen, ["SQLITE_FULL", "database or disk is full"])


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_sqlite_when_the_wal_file_cannot_grow_fails_the_check(sqlite_path: Path) -> None:
    """Runs everywhere: the kernel refuses to let the -wal file grow (EFBIG, which SQLite
    reports as an I/O error where a full disk's ENOSPC is "database or disk is full")."""
    seen = run_child([], sqlite_path, "rlimit")
    assert_failed_while_full(seen, ["SQLITE_IOERR_WRITE", "disk I/O error"])
