"""What Slack is told about a form equals what is stored.

A form is answered with the outcome of its save: saved (an empty 200, the modal closes), or
errors shown in the modal and nothing saved. Slack gives up on an answer after 3 s, and then
shows the person an error: whatever took longer than that must not have been saved either.
Tried with the database's write lock held past Slack's deadline, and with many people
submitting at once while a busy loop per core competes for the CPU.
"""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from bot.okr.kinds import KRKind
from bot.okr.validate import KRSpec
from storage.cycles import create_cycle
from storage.models import CheckIn, KeyResult
from storage.objectives import create_objective
from storage.workspaces import ensure_workspace
from tests.slack.conftest import ACME, Ladder

SLACK_GIVES_UP_S = 3.0
PEOPLE = [f"U0W{n:02d}" for n in range(6)]
ROUNDS = 4


def _seed(ladder: Ladder) -> dict[str, int]:
    """One objective with one KR (0 → 1,000) for each of PEOPLE; their KR ids."""
    now = ladder.clock.now
    for user in PEOPLE:
        ladder.standin.add_user(ACME, user, name=user.lower())
    with Session(ladder.engine, expire_on_commit=False) as session:
        ensure_workspace(session=session, workspace_id=ACME, name="Acme Tech")
        cycle = create_cycle(
            session=session,
            workspace_id=ACME,
            name="Now",
            start_date=now.date() - timedelta(days=30),
            end_date=now.date() + timedelta(days=60),
        )
        for user in PEOPLE:
            create_objective(
                session=session,
                workspace_id=ACME,
                cycle_id=cycle.id,  # type: ignore[arg-type]
                owner_id=user,
                title=f"Goals of {user}",
                key_results=[KRSpec(f"Metric of {user}", KRKind.INCREASE, 1000, start_value=0)],
                now=now - timedelta(days=1),
            )
        session.commit()
        rows = session.exec(select(KeyResult.owner_id, KeyResult.id)).all()
    return {owner: kr_id for owner, kr_id in rows}


_opening = threading.Lock()  # one modal opened at a time: matched to its opener by count


def _open_check_in(ladder: Ladder, user: str, kr_id: int) -> dict[str, Any]:
    """`/okr checkin`: the modal Slack opened for `user` (it shows their one KR)."""
    with _opening:
        before = len(ladder.standin.calls("views.open"))
        assert ladder.acme.slash_command("checkin", user_id=user).status_code == 200
        opened = ladder.standin.wait_for("views.open", count=before + 1, timeout=30)[-1]
    assert opened.ok, opened.response
    view = opened.response["view"]
    assert f"value:{kr_id}" in [b.get("block_id") for b in view["blocks"]]
    return view


@dataclass
class Told:
    value: float
    saved: bool  # what Slack was told, as the person sees it
    seconds: float


def _submit(ladder: Ladder, view: dict[str, Any], user: str, kr_id: int, value: float) -> Told:
    block = f"value:{kr_id}"
    [element] = [b["element"] for b in view["blocks"] if b.get("block_id") == block]
    started = time.monotonic()
    try:
        answer = ladder.acme.view_submission(
            view, user_id=user, values={block: {element["action_id"]: str(value)}}
        )
    except httpx.TimeoutException:  # Slack would have given up long before
        return Told(value, saved=False, seconds=time.monotonic() - started)
    seconds = time.monotonic() - started
    assert answer.status_code == 200, (answer.status_code, answer.text)  # never a 500
    if answer.text:
        errors = answer.json()["errors"]
        assert set(errors) == {"note"} and "nothing was saved" in errors["note"], errors
    # Past Slack's deadline the person sees an error, whatever the answer said.
    return Told(value, saved=answer.text == "" and seconds < SLACK_GIVES_UP_S, seconds=seconds)


def _stored(ladder: Ladder, kr_id: int) -> tuple[float | None, list[float | None]]:
    with Session(ladder.engine) as session:
        kr = session.get_one(KeyResult, kr_id)
        rows = session.exec(select(CheckIn.value).where(CheckIn.key_result_id == kr_id)).all()
        return kr.current_value, list(rows)


@contextmanager
def _write_lock_held(engine: sa.Engine) -> Iterator[None]:
    """Another writer holds the check-in tables until the block ends."""
    if engine.dialect.name == "sqlite":
        connection = sqlite3.connect(str(engine.url.database), isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            connection.execute("ROLLBACK")
            connection.close()
        return
    with engine.connect() as connection:
        connection.exec_driver_sql("LOCK TABLE key_result, check_in IN EXCLUSIVE MODE")
        try:
            yield
        finally:
            connection.rollback()


@pytest.mark.slack_deadline
def test_a_form_that_cannot_save_in_time_says_so_and_saves_nothing(ladder: Ladder) -> None:
    kr_ids = _seed(ladder)
    user = PEOPLE[0]
    view = _open_check_in(ladder, user, kr_ids[user])
    with _write_lock_held(ladder.engine):
        told = _submit(ladder, view, user, kr_ids[user], 420)
    assert not told.saved and told.seconds < SLACK_GIVES_UP_S  # told in time: not saved
    assert _stored(ladder, kr_ids[user]) == (None, [])  # and nothing was
    # The modal is still open with the error under the note: submitting again saves.
    told = _submit(ladder, view, user, kr_ids[user], 420)
    assert told.saved
    assert _stored(ladder, kr_ids[user]) == (420.0, [420.0])


def _busy_loop(stop: Any) -> None:
    while not stop.is_set():
        pass


@contextmanager
def _cpu_contention() -> Iterator[None]:
    """A process per core that spins until the block ends."""
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    spinners = [
        context.Process(target=_busy_loop, args=(stop,)) for _ in range(os.cpu_count() or 2)
    ]
    for spinner in spinners:
        spinner.start()
    try:
        yield
    finally:
        stop.set()
        for spinner in spinners:
            spinner.join(timeout=10)
            if spinner.is_alive():
                spinner.kill()


@pytest.mark.slow_faults
def test_under_cpu_contention_every_answer_matches_the_database(ladder: Ladder) -> None:
    kr_ids = _seed(ladder)
    views = {user: _open_check_in(ladder, user, kr_ids[user]) for user in PEOPLE}
    told: dict[str, list[Told]] = {user: [] for user in PEOPLE}
    start = threading.Barrier(len(PEOPLE))

    def person(user: str) -> None:
        start.wait(timeout=10)
        for round_ in range(ROUNDS):
            value = float(1 + PEOPLE.index(user) * 100 + round_)  # unique per submission
            answer = _submit(ladder, views[user], user, kr_ids[user], value)
            told[user].append(answer)
            if answer.saved and round_ < ROUNDS - 1:
                # Saved: Slack closed the modal; the next round is a new one. (Opening it
                # goes through the same app, under the same load.)
                views[user] = _open_check_in(ladder, user, kr_ids[user])

    with _cpu_contention(), ThreadPoolExecutor(len(PEOPLE)) as pool:
        list(pool.map(person, PEOPLE))
    ladder.wait_idle()

    for user in PEOPLE:
        saved = [t.value for t in told[user] if t.saved]
        current, rows = _stored(ladder, kr_ids[user])
        # One check-in per KR and period: it holds the last saved answer, and the KR shows
        # it; an answer the person was told failed never overwrote anything.
        expected = saved[-1] if saved else None
        assert current == expected, (user, told[user], current)
        assert rows == ([expected] if saved else []), (user, told[user], rows)
    answers = [t for user in PEOPLE for t in told[user]]
    assert any(t.saved for t in answers)  # the test exercised saving, not only refusals
