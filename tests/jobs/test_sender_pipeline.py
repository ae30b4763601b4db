"""The sender keeps its pool fed: it claims the next rows while the last ones are still on
the wire, and still sends each row once, tries each row once per run, and never reclaims a
row it holds, however short reclaim_after is.

Slack is a small in-process fake here (the loopback stand-in's tests are in tests/slack);
the pacer lets everything through, so nothing waits on a clock.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from bot.jobs.pacing import Pacer
from bot.jobs.sender import METADATA_EVENT, Sender, SendReport
from bot.services.delivery import Delivery, DeliveryService
from storage.db import session_scope
from storage.models import OutboxMessage, OutboxState
from storage.outbox import list_messages
from tests.jobs.people import people_with_one_kr

WS = "T0PIPE"
NOW = datetime(2026, 3, 4, 11, 0, tzinfo=UTC)  # a Wednesday, working hours in UTC
PEOPLE = [f"U0P{i:03d}" for i in range(30)]


class FakeSlack:
    """chat.postMessage and the DM look-up, recorded; `before_post` may stall or break a post
    (after Slack took it, when it raises)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.posts: list[str] = []
        self.dms: dict[str, list[dict[str, Any]]] = {}
        self.before_post = lambda channel: None

    def chat_postMessage(self, *, channel: str, metadata: dict, **_: Any) -> dict[str, str]:
        with self.lock:
            self.posts.append(channel)
            ts = f"{len(self.posts)}.000"
            self.dms.setdefault(f"D{channel}", []).append({"ts": ts, "metadata": metadata})
        self.before_post(channel)
        return {"channel": f"D{channel}", "ts": ts}

    def conversations_open(self, *, users: str) -> dict[str, Any]:
        return {"channel": {"id": f"D{users}"}}

    def conversations_history(self, *, channel: str, **_: Any) -> dict[str, Any]:
        with self.lock:
            return {"messages": list(self.dms.get(channel, []))}


@pytest.fixture
def service(engine: Engine) -> DeliveryService:
    """30 people, one KR each, profiles fresh (planning asks Slack for nothing)."""
    return people_with_one_kr(engine, workspace_id=WS, people=PEOPLE, now=NOW)


def sender(service: DeliveryService, slack: FakeSlack, **options: Any) -> Sender:
    return Sender(
        service,
        lambda _ws: slack,  # type: ignore[arg-type,return-value]
        pacer=Pacer(per_workspace=None, per_channel=None),
        **options,
    )


def prompts(engine: Engine) -> dict[str, OutboxMessage]:
    with session_scope(engine, read_only=True) as session:
        return {m.recipient: m for m in list_messages(session=session, workspace_id=WS)}


class CountingClaims:
    """Wraps DeliveryService.claim: how many claims, what each handed out."""

    def __init__(self, service: DeliveryService, monkeypatch: pytest.MonkeyPatch) -> None:
        self.claimed: list[list[int]] = []
        self.second = threading.Event()
        real = service.claim

        def claim(**kwargs: Any) -> list[Delivery]:
            out = real(**kwargs)
            self.claimed.append([d.message.id for d in out])  # type: ignore[misc]
            if len(self.claimed) >= 2:
                self.second.set()
            return out

        monkeypatch.setattr(service, "claim", claim)


def test_the_next_batch_is_claimed_while_the_last_is_on_the_wire(
    service: DeliveryService, monkeypatch: pytest.MonkeyPatch
) -> None:
    claims = CountingClaims(service, monkeypatch)
    slack = FakeSlack()
    stalled: list[bool] = []

    def stall_first(channel: str) -> None:
        # The first post holds its answer until the sender has claimed again. Claiming only
        # after a whole batch is done would never get there while this post is out.
        if channel == PEOPLE[0]:
            stalled.append(claims.second.wait(timeout=30))

    slack.before_post = stall_first
    report = sender(service, slack, concurrency=2, batch=5).run()

    assert stalled == [True], "the second claim waited for the first batch to finish"
    assert report == SendReport(sent=len(PEOPLE))
    assert Counter(slack.posts) == Counter(PEOPLE)  # each exactly once
    rows = prompts(service.engine)
    assert {rows[u].state for u in PEOPLE} == {OutboxState.SENT}
    assert {rows[u].attempts for u in PEOPLE} == {1}
    # Batches of 5; the last claim found nothing new and ended the run.
    handed = [i for batch in claims.claimed for i in batch]
    assert sorted(handed) == sorted(rows[u].id for u in PEOPLE)  # type: ignore[type-var]
    assert claims.claimed[-1] == [] and all(len(b) <= 5 for b in claims.claimed)


def test_rows_in_hand_are_never_reclaimed_and_a_doubtful_row_waits_for_the_next_run(
    service: DeliveryService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """reclaim_after 0 makes every claimed row look abandoned at once: the run must still
    post each person once, and leave the row Slack may have alone until the next run."""
    claims = CountingClaims(service, monkeypatch)
    slack = FakeSlack()
    doubtful = PEOPLE[7]

    def lost_answer(channel: str) -> None:
        if channel == doubtful:
            raise ConnectionResetError("Slack took it; the answer never came")

    slack.before_post = lost_answer
    run = sender(service, slack, concurrency=3, batch=4, reclaim_after=timedelta(0))
    report = run.run()

    assert report == SendReport(sent=len(PEOPLE) - 1, deferred=1)
    assert Counter(slack.posts) == Counter(PEOPLE)  # the doubtful one too: once
    assert len(claims.claimed) > len(PEOPLE) // 4  # many claims while posts were out
    rows = prompts(service.engine)
    assert rows[doubtful].state == OutboxState.SENDING  # in doubt: kept claimed
    others = [u for u in PEOPLE if u != doubtful]
    assert {rows[u].state for u in others} == {OutboxState.SENT}
    assert {rows[u].attempts for u in others} == {1}  # none taken back while in hand

    # The next run finds it in the DM instead of posting it again.
    slack.before_post = lambda channel: None
    assert run.run() == SendReport(recovered=1)
    assert Counter(slack.posts) == Counter(PEOPLE)
    row = prompts(service.engine)[doubtful]
    assert row.state == OutboxState.SENT and row.ts == slack.dms[f"D{doubtful}"][0]["ts"]
    assert slack.dms[f"D{doubtful}"][0]["metadata"] == {
        "event_type": METADATA_EVENT,
        "event_payload": {"outbox_id": row.id},
    }


class Died(BaseException):
    """The process went away: nothing in the sender may catch this."""


def test_a_sender_that_dies_leaves_what_it_holds_claimed(
    service: DeliveryService, monkeypatch: pytest.MonkeyPatch
) -> None:
    slack = FakeSlack()

    def die(channel: str) -> None:
        if channel == PEOPLE[2]:
            raise Died

    slack.before_post = die
    with pytest.raises(Died):  # not swallowed by the loop that keeps the pool fed
        sender(service, slack, concurrency=1, batch=10).run()
    # One thread, rows in claim order. What had not started is cancelled (a post the
    # thread had already picked up may still finish; each person is posted at most once).
    assert slack.posts[:3] == PEOPLE[:3] and len(slack.posts) <= 10
    assert Counter(slack.posts).most_common(1)[0][1] == 1
    rows = prompts(service.engine)
    assert {rows[u].state for u in PEOPLE[:2]} == {OutboxState.SENT}
    # Claimed and not posted: stranded as `sending`, for a later run to look up and send.
    assert {rows[u].state for u in PEOPLE[2:10] if u not in slack.posts[3:]} == {
        OutboxState.SENDING
    }
    # The next batch was not claimed yet: 8 of the 10 in hand were still to go.
    assert {rows[u].state for u in PEOPLE[10:]} == {OutboxState.PLANNED}
