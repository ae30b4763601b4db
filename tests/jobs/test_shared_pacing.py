"""Senders share their workspace's pace through the database.

Three senders, each with its own Pacer (nothing shared in memory, as in three `checkins
send` processes), post to the loopback Slack stand-in, which holds chat.postMessage to a
token-bucket ceiling and answers 429 beyond it. Paced at the ceiling each, they would post at
three times it; sharing the pace, Slack never has to refuse one, everyone gets exactly one
prompt, and each sender does part of the work.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine

from bot.client import make_client
from bot.config import load_settings
from bot.jobs.pacing import DatabaseSlots, Pacer
from bot.jobs.sender import Sender, SendReport
from bot.services.delivery import DeliveryService
from storage.db import session_scope
from storage.pacing import reserve_slot
from storage.workspaces import ensure_workspace
from tests.jobs.people import people_with_one_kr
from tests.support.slack_standin import SlackStandIn

WS = "T0PACE"
TOKEN = "xoxb-pace"
NOW = datetime(2026, 3, 4, 11, 0, tzinfo=UTC)  # a Wednesday, working hours in UTC
PEOPLE = [f"U0S{i:03d}" for i in range(60)]
CEILING = 20.0


@pytest.fixture
def service(engine: Engine) -> DeliveryService:
    """60 people, one KR each, fresh profiles: planning asks Slack for nothing."""
    return people_with_one_kr(engine, workspace_id=WS, people=PEOPLE, now=NOW)


@pytest.fixture
def standin() -> Any:
    with SlackStandIn() as standin:
        standin.add_workspace(WS, bot_token=TOKEN)
        for user in PEOPLE:
            standin.add_user(WS, user, tz="UTC")
        standin.set_ceiling("chat.postMessage", per_second=CEILING, per_channel_per_second=1.0)
        yield standin


class RecordedSlots(DatabaseSlots):
    """The database's slots, noting each one handed out (shared by the three pacers)."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.handed_out: list[float] = []
        self._lock = threading.Lock()

    def reserve(self, workspace_id: str, *, not_before: float, gap: float) -> float:
        slot = super().reserve(workspace_id, not_before=not_before, gap=gap)
        with self._lock:
            self.handed_out.append(slot)
        return slot


@pytest.mark.parametrize("on_the_clock", [False, pytest.param(True, marks=pytest.mark.wallclock)])
def test_three_senders_keep_to_one_pace(
    engine: Engine, service: DeliveryService, standin: SlackStandIn, on_the_clock: bool
) -> None:
    settings = load_settings(
        {
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": "0" * 32,
            "SLACK_API_URL": standin.api_url,
            "LADDER_SCHEDULER": "off",
        }
    )
    client = make_client(settings)
    service.plan(profiles=lambda *_: [], workspace_id=WS)
    # Each sender has its own slot book on the one database, as three processes would.
    books = [RecordedSlots(engine) for _ in range(3)]
    senders = [
        Sender(
            service,
            lambda _ws: client,
            concurrency=4,
            pacer=Pacer(per_workspace=CEILING, clock=time.time, slots=book),
        )
        for book in books
    ]
    reports: list[SendReport] = [SendReport() for _ in senders]
    start = threading.Barrier(len(senders))

    def run(n: int) -> None:
        start.wait()
        reports[n] = senders[n].run(workspace_id=WS)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(senders))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)

    posts = Counter(c.args["channel"] for c in standin.calls("chat.postMessage") if c.ok)
    assert standin.ratelimited_count("chat.postMessage") == 0
    assert sorted(posts) == PEOPLE  # no one missed
    assert set(posts.values()) == {1}  # no one twice
    assert sum(r.sent for r in reports) == len(PEOPLE)
    assert all(r.sent > 0 for r in reports)  # claims small enough for all three to work
    # One pace: the slots the three were given, together, are a ceiling's gap apart.
    slots = sorted(slot for book in books for slot in book.handed_out)
    assert len(slots) >= len(PEOPLE)
    # (to a microsecond: epoch seconds as floats carry about that much)
    assert min(b - a for a, b in itertools.pairwise(slots)) >= 1 / CEILING - 1e-6
    if on_the_clock:  # and the posts took as long as the ceiling needs (a loaded machine
        # can start the first post late, so this is left out of the default run)
        times = sorted(c.at for c in standin.calls("chat.postMessage") if c.ok)
        assert times[-1] - times[0] >= (len(PEOPLE) - 1) / CEILING * 0.95


def test_a_slot_goes_to_one_reservation_and_idle_time_is_not_banked(engine: Engine) -> None:
    with session_scope(engine) as session:
        ensure_workspace(session=session, workspace_id=WS)
    slots = DatabaseSlots(engine)
    taken = [slots.reserve(WS, not_before=1000.0, gap=0.5) for _ in range(3)]
    assert taken == [1000.0, 1000.5, 1001.0]
    assert slots.reserve(WS, not_before=1000.2, gap=0.5) == 1001.5  # queued behind
    assert slots.reserve(WS, not_before=2000.0, gap=0.5) == 2000.0  # no burst after a pause
    with session_scope(engine) as session:
        ensure_workspace(session=session, workspace_id="T0OTHER")
        other = reserve_slot(session=session, workspace_id="T0OTHER", not_before=1.0, gap=1.0)
    assert other == 1.0  # workspaces are paced apart


def test_concurrent_reservations_get_distinct_slots(engine: Engine) -> None:
    with session_scope(engine) as session:
        ensure_workspace(session=session, workspace_id=WS)
    slots = DatabaseSlots(engine)
    taken: list[float] = []
    lock = threading.Lock()

    def reserve_some() -> None:
        for _ in range(10):
            slot = slots.reserve(WS, not_before=5000.0, gap=0.25)
            with lock:
                taken.append(slot)

    threads = [threading.Thread(target=reserve_some) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken) == [5000.0 + 0.25 * n for n in range(60)]


def test_processes_take_slots_in_blocks_that_never_overlap(engine: Engine) -> None:
    with session_scope(engine) as session:
        ensure_workspace(session=session, workspace_id=WS)
    first, second = (
        DatabaseSlots(engine, block_seconds=1.0),
        DatabaseSlots(engine, block_seconds=1.0),
    )
    a = [first.reserve(WS, not_before=5000.0, gap=0.25) for _ in range(2)]
    b = [second.reserve(WS, not_before=5000.0, gap=0.25) for _ in range(5)]
    a += [first.reserve(WS, not_before=5000.0, gap=0.25) for _ in range(3)]
    assert a == [5000.0, 5000.25, 5000.5, 5000.75, 5003.0]  # blocks of 4: one second's
    assert b == [5001.0, 5001.25, 5001.5, 5001.75, 5002.0]
    # A slot whose time passed unused is skipped, not spent late.
    assert first.reserve(WS, not_before=5003.6, gap=0.25) == 5003.75


def test_slots_at_epoch_magnitudes_never_overlap_between_processes(engine: Engine) -> None:
    """Counted, not summed: at ~1.7e9 s a float sum of gaps drifts by whole ulps."""
    with session_scope(engine) as session:
        ensure_workspace(session=session, workspace_id=WS)
    books = [DatabaseSlots(engine) for _ in range(3)]
    start = 1_764_000_000.123
    taken = [books[n % 3].reserve(WS, not_before=start, gap=1 / 30) for n in range(300)]
    ordered = sorted(taken)
    assert len(set(taken)) == 300
    assert min(b - a for a, b in itertools.pairwise(ordered)) > (1 / 30) * 0.999
