"""A thousand prompts, and `python -m bot checkins send` killed -9 at random points.

tests/slack/test_delivery_faults.py kills one sender of 60 prompts once. Here 1,000 people
are owed a prompt; the sender is killed with SIGKILL at several random points (measured in
chat.postMessage calls the stand-in has seen, seeded, the seed printed), restarted each
time, and finally left to finish. Every person must end with exactly one prompt in their
DM: none missed, none twice, and the outbox must know where each one is.

The database is PostgreSQL, where a workspace of this size runs, and where claims take row
locks (SKIP LOCKED); the 60-person test covers the CLI's default SQLite. The stand-in answers
without latency, and the send pace is raised to 1,000 messages a second (LADDER_SEND_RATE),
as a big workspace would configure it. Slow by nature (~40 s): marked `slow_faults`.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from storage.db import make_engine
from storage.models import OutboxState
from tests.conftest import _truncate_all, postgres_url
from tests.faults.helpers import seed_people_with_a_kr
from tests.slack.conftest import ACME, ACME_TOKEN, SECRET
from tests.slack.test_delivery_faults import (
    _SHIFTED_CLI,
    REPO,
    Cli,
    InFlight,
    _working_zone,
    prompts,
)
from tests.support.slack_standin import SlackStandIn, dm_channel_id

PEOPLE = [f"U0K{n:04d}" for n in range(1000)]
KILLS = 3
METADATA_EVENT = "ladder_outbox"


@pytest.fixture
def database_url(postgres_schema_engine: sa.Engine) -> str:
    """This run's PostgreSQL schema, emptied, as a URL the CLI can be given."""
    _truncate_all(postgres_schema_engine)
    with postgres_schema_engine.connect() as connection:
        schema = connection.exec_driver_sql("SHOW search_path").scalar()
    return f"{postgres_url()}?options=-csearch_path%3D{schema}"


@pytest.fixture
def thousand(standin: SlackStandIn, database_url: str, tmp_path: Path) -> Iterator[Cli]:
    """1,000 people owed a prompt now (real time), all in a zone where it is working hours."""
    now = datetime.now(UTC)
    shift = 0
    while (tz := _working_zone(now + timedelta(days=shift))) is None:
        shift += 1
    for user in PEOPLE:
        standin.add_user(ACME, user, tz=tz)
    engine = make_engine(database_url)
    with Session(engine, expire_on_commit=False) as session:
        seed_people_with_a_kr(
            session,
            workspace_id=ACME,
            users=PEOPLE,
            tz=tz,
            now=now + timedelta(days=shift) - timedelta(days=1),
        )
        session.commit()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "LADDER_", "DATABASE_URL", "LOG_LEVEL", "PORT"))
    }
    env.update(
        SLACK_BOT_TOKEN=ACME_TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=standin.api_url,
        DATABASE_URL=database_url,
        LADDER_SCHEDULER="off",
        LADDER_SEND_RATE="1000",
        LOG_LEVEL="WARNING",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
    )
    prefix = (
        [sys.executable, "-m", "bot"]
        if shift == 0
        else [sys.executable, "-c", _SHIFTED_CLI, str(shift)]
    )
    try:
        yield Cli(list(PEOPLE), engine, prefix, env, tmp_path / "sender.log")
    finally:
        engine.dispose()


def _kill_points(rng: random.Random) -> list[int]:
    """KILLS distinct points in [1, 990], at least 20 posts apart, so each run progresses."""
    while True:
        points = sorted(rng.sample(range(1, 991), KILLS))
        if all(b - a >= 20 for a, b in itertools.pairwise(points)):
            return points


@pytest.mark.slow_faults
@pytest.mark.postgres
def test_a_thousand_prompts_survive_repeated_kill_9(standin: SlackStandIn, thousand: Cli) -> None:
    seed = int(os.environ.get("LADDER_FAULT_SEED") or random.SystemRandom().randrange(10**6))
    points = _kill_points(random.Random(seed))
    print(f"kill seed: {seed} (rerun with LADDER_FAULT_SEED={seed}); kills after {points}")
    in_flight = InFlight(standin)

    for n, point in enumerate(points):
        # The first run plans; each later one reclaims what the killed run held at once.
        sender = thousand.start(*([] if n == 0 else ["--reclaim-after", "0"]))
        try:
            standin.wait_for("chat.postMessage", count=point, timeout=60)
            sender.send_signal(signal.SIGKILL)
            assert sender.wait(timeout=10) == -signal.SIGKILL, thousand.log.read_text()
        finally:
            if sender.poll() is None:
                sender.kill()
                sender.wait()
        in_flight.wait_idle(timeout=10)  # what was on the wire when it died has landed
        rows = prompts(thousand.engine)
        assert set(rows) == set(PEOPLE)  # it planned everyone before its first post
        unfinished = [m for m in rows.values() if m.state != OutboxState.SENT]
        assert unfinished, f"the run killed after {point} posts had finished already"

    reports = [thousand.run("--reclaim-after", "0")]
    while any(m.state != OutboxState.SENT for m in prompts(thousand.engine).values()):
        assert len(reports) < 3, reports
        reports.append(thousand.run("--reclaim-after", "0"))
    sent, recovered, failed, deferred = (sum(r[i] for r in reports) for i in range(4))
    print(f"final run(s): {sent} sent, {recovered} found in Slack after a kill")
    assert (failed, deferred) == (0, 0)

    posts = standin.calls("chat.postMessage")
    accepted = Counter(c.args["channel"] for c in posts if c.ok)
    assert accepted == Counter(PEOPLE), "someone was asked twice or not at all"
    assert len(posts) == len(PEOPLE)  # no faults here: every post was accepted
    rows = prompts(thousand.engine)
    for user in PEOPLE:
        [message] = [
            m
            for m in standin.messages(dm_channel_id(user))
            if (m.get("metadata") or {}).get("event_type") == METADATA_EVENT
        ]
        assert rows[user].state == OutboxState.SENT, user
        assert message["metadata"]["event_payload"] == {"outbox_id": rows[user].id}
        assert (rows[user].channel_id, rows[user].ts) == (dm_channel_id(user), message["ts"])
