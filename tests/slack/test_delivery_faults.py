"""Check-in delivery when Slack misbehaves: 429 storms, 5xx, revoked tokens, gone users, and
senders that die half-way (in-process, and a real `python -m bot checkins send` killed -9).

The promise under test: every due prompt reaches its person exactly once, nothing is lost,
and a workspace whose token is dead is left alone. The team here works in Berlin, where
09:00 UTC on Monday 2026-02-16 is 10:00, prompt time.
"""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from slack_sdk.http_retry import builtin_handlers
from slack_sdk.http_retry import handler as retry_handler
from sqlmodel import Session, select

from bot.client import make_client
from bot.jobs.pacing import Pacer
from bot.jobs.sender import METADATA_EVENT, Sender, SendReport, lookup_profiles
from bot.okr.kinds import KRKind
from bot.okr.validate import KRSpec
from bot.services.delivery import DeliveryService
from storage.cycles import create_cycle
from storage.db import make_engine
from storage.migrate import upgrade
from storage.models import Objective, OutboxMessage, OutboxState, Workspace
from storage.objectives import create_objective
from storage.people import SlackProfile, save_profiles
from storage.workspaces import ensure_workspace
from tests.factories import reference_company
from tests.slack.conftest import ACME, ACME_TOKEN, CEO, DEV, SECRET, Ladder
from tests.support.slack_standin import SlackStandIn, dm_channel_id

REPO = Path(__file__).resolve().parents[2]
BERLIN_TEN = datetime(2026, 2, 16, 9, 0, tzinfo=UTC)  # 10:00 in Berlin, prompt time
TEAM = [DEV, "U0ANNA", "U0BEN", "U0CARL"]  # all in Berlin
GONE = "U0GONE"  # a person Ladder knows whose Slack account no longer exists


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture
def team(ladder: Ladder) -> list[str]:
    """The reference company (CEO in New York) plus one KR for each Berlin teammate."""
    for user in TEAM[1:]:
        ladder.standin.add_user(ACME, user, tz="Europe/Berlin")
    ladder.clock.now = BERLIN_TEN - timedelta(days=14)
    with Session(ladder.engine, expire_on_commit=False) as session:
        ref = reference_company(session, workspace_id=ACME, owner_id=CEO, now=ladder.clock.now)
        for user in TEAM:
            _one_kr(session, ref.cycle.id, user, ladder.clock.now)  # type: ignore[arg-type]
        session.commit()
    ladder.clock.now = BERLIN_TEN
    return list(TEAM)


@pytest.fixture
def retry_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The client's retry handlers record their waits instead of sleeping them."""
    waits: list[float] = []
    monkeypatch.setattr(builtin_handlers, "time", SimpleNamespace(sleep=waits.append))
    monkeypatch.setattr(retry_handler, "time", SimpleNamespace(sleep=waits.append))
    return waits


def _one_kr(session: Session, cycle_id: int, user: str, now: datetime) -> None:
    create_objective(
        session=session,
        workspace_id=ACME,
        cycle_id=cycle_id,
        owner_id=user,
        title=f"Goals of {user}",
        key_results=[KRSpec(f"Milestone of {user}", KRKind.MILESTONE, 1)],
        now=now,
    )


# ---------------------------------------------------------------------------- helpers


def make_sender(ladder: Ladder, **options: Any) -> Sender:
    client = make_client(ladder.settings)
    return Sender(DeliveryService(ladder.engine, clock=ladder.clock), lambda _ws: client, **options)


def accepted_posts(standin: SlackStandIn, user: str) -> int:
    """chat.postMessage calls to `user` that Slack accepted."""
    return sum(1 for c in standin.calls("chat.postMessage") if c.ok and c.args["channel"] == user)


def ladder_messages(standin: SlackStandIn, user: str) -> list[dict[str, Any]]:
    """Ladder's outbox messages in the user's DM, as Slack has them."""
    return [
        m
        for m in standin.messages(dm_channel_id(user))
        if (m.get("metadata") or {}).get("event_type") == METADATA_EVENT
    ]


def prompts(engine: Any) -> dict[str, OutboxMessage]:
    with Session(engine) as session:
        rows = session.exec(select(OutboxMessage).where(OutboxMessage.kind == "prompt")).all()
        return {m.recipient: m for m in rows}


def assert_each_asked_once(ladder: Ladder, users: list[str]) -> None:
    rows = prompts(ladder.engine)
    for user in users:
        assert accepted_posts(ladder.standin, user) == 1, user
        [message] = ladder_messages(ladder.standin, user)
        row = rows[user]
        assert row.state == OutboxState.SENT, user
        assert message["metadata"]["event_payload"] == {"outbox_id": row.id}
        assert (row.channel_id, row.ts) == (dm_channel_id(user), message["ts"])


# ---------------------------------------------------------------------------- rate limits


def test_a_429_storm_delivers_each_prompt_exactly_once(
    ladder: Ladder, team: list[str], retry_waits: list[float]
) -> None:
    # The client retries a 429 three times. A storm longer than that for everyone means at
    # least two posts give up (4 users x 3 absorbed = 12 < 14) and at most three (4 x 4 > 14).
    storm = 3 * len(team) + 2
    ladder.standin.rate_limit_next("chat.postMessage", retry_after=1, times=storm)
    first = make_sender(ladder).run()

    assert ladder.standin.ratelimited_count("chat.postMessage") == storm
    assert 2 <= first.deferred <= 3 and first.sent + first.deferred == len(team)
    # Every 429 but each giving-up post's last was waited out, for Retry-After at least.
    assert len(retry_waits) == storm - first.deferred
    assert all(wait >= 1 for wait in retry_waits)
    deferred = [m for m in prompts(ladder.engine).values() if m.state != OutboxState.SENT]
    assert len(deferred) == first.deferred
    for row in deferred:
        assert row.state == OutboxState.PLANNED and row.claimed_at is None
        assert row.due_at == BERLIN_TEN + timedelta(minutes=1)
        assert accepted_posts(ladder.standin, row.recipient) == 0

    assert make_sender(ladder).run().sent == 0  # not due again yet
    ladder.clock.advance(minutes=1)
    assert make_sender(ladder).run().sent == first.deferred
    assert make_sender(ladder).run().sent == 0
    assert_each_asked_once(ladder, team)
    assert {m.attempts for m in deferred} == {1}
    assert {prompts(ladder.engine)[m.recipient].attempts for m in deferred} == {2}


class RecordingPacer(Pacer):
    """The real pacer on a fake clock: it records each slot instead of sleeping."""

    def __init__(self, **rates: float) -> None:
        self.now = 0.0
        self.slots: list[tuple[str, str, float]] = []
        super().__init__(clock=lambda: self.now, sleep=lambda _s: None, **rates)

    def wait(self, workspace_id: str, channel: str) -> float:
        delay = super().wait(workspace_id, channel)
        self.slots.append((workspace_id, channel, self.now + delay))
        return delay


def test_every_post_waits_for_its_paced_slot(ladder: Ladder, team: list[str]) -> None:
    pacer = RecordingPacer(per_workspace=4.0, per_channel=1.0)
    report = make_sender(ladder, pacer=pacer).run(force=True)
    posts = [c for c in ladder.standin.calls("chat.postMessage") if c.ok]
    assert report.sent == len(posts) == len(team)  # the CEO waits for 09:00 in New York
    assert sorted(channel for _, channel, _ in pacer.slots) == sorted(
        c.args["channel"] for c in posts
    )
    assert sorted(at for *_, at in pacer.slots) == pytest.approx(
        [i / 4.0 for i in range(len(posts))]
    )


def test_server_errors_beyond_the_retry_budget_release_the_row(
    ladder: Ladder, team: list[str], retry_waits: list[float]
) -> None:
    # One try and two retries (ServerErrorRetryHandler(max_retry_count=2)), all 500s; one
    # sender thread, so the first row claimed takes all three.
    ladder.standin.fail_next("chat.postMessage", status=500, times=3)
    report = make_sender(ladder, concurrency=1).run()
    assert (report.sent, report.deferred, report.failed) == (len(team) - 1, 1, 0)
    assert len(retry_waits) == 2
    [released] = [m for m in prompts(ladder.engine).values() if m.state != OutboxState.SENT]
    assert released.state == OutboxState.PLANNED and released.claimed_at is None
    assert released.due_at == BERLIN_TEN + timedelta(minutes=1)
    failures = [
        c
        for c in ladder.standin.calls("chat.postMessage")
        if c.args["channel"] == released.recipient
    ]
    assert [c.status for c in failures] == [500, 500, 500]

    ladder.clock.advance(seconds=59)
    assert make_sender(ladder).run().sent == 0
    ladder.clock.advance(seconds=1)
    assert make_sender(ladder).run().sent == 1
    assert make_sender(ladder).run().sent == 0
    assert_each_asked_once(ladder, team)


# ---------------------------------------------------------------------------- dead tokens


@pytest.mark.parametrize("error", ["invalid_auth", "token_revoked", "account_inactive"])
def test_a_dead_token_deactivates_the_workspace(
    ladder: Ladder, team: list[str], error: str
) -> None:
    good = make_client(ladder.settings)
    service = DeliveryService(ladder.engine, clock=ladder.clock)
    # Planned while the token still works: the Berlin prompts are due now; CEO's is put
    # off to 09:00 in New York, so it is still waiting when the token dies.
    service.plan(profiles=lookup_profiles(lambda _ws: good), force=True)
    assert set(prompts(ladder.engine)) == {*team, CEO}
    with Session(ladder.engine) as session:
        ceo = prompts(ladder.engine)[CEO]
        ceo.due_at = BERLIN_TEN + timedelta(hours=5)
        session.add(ceo)
        session.commit()
    if error == "invalid_auth":  # the app was uninstalled: Slack no longer knows the token
        client = make_client(ladder.settings, token="xoxb-uninstalled")
    else:
        ladder.standin.revoke(ACME_TOKEN, error=error)  # type: ignore[arg-type]
        client = make_client(ladder.settings)
    run = Sender(service, lambda _ws: client)

    report = run.run()
    assert (report.sent, report.failed, report.deferred) == (0, 0, len(team))
    with Session(ladder.engine) as session:
        assert session.get(Workspace, ACME).active is False  # type: ignore[union-attr]
    rows = prompts(ladder.engine)
    # Not the people's fault: their prompts wait, unclaimed, for the app to come back.
    assert {rows[u].state for u in [*team, CEO]} == {OutboxState.PLANNED}
    assert {rows[u].claimed_at for u in team} == {None}
    for user in [*team, CEO]:
        assert ladder_messages(ladder.standin, user) == []

    # Later runs leave the workspace alone: no prompt, no reminder, not even an attempt.
    calls = len(ladder.standin.calls())
    for when in (timedelta(hours=6), timedelta(days=1), timedelta(days=7)):  # NY morning, ...
        ladder.clock.now = BERLIN_TEN + when
        assert run.run() == SendReport()
        assert run.run(force=True) == SendReport()
    assert len(ladder.standin.calls()) == calls
    assert prompts(ladder.engine)[CEO].state == OutboxState.PLANNED


def test_reinstalled_within_the_period_everyone_is_asked_once(
    ladder: Ladder, team: list[str]
) -> None:
    service = DeliveryService(ladder.engine, clock=ladder.clock)
    good = make_client(ladder.settings)
    service.plan(profiles=lookup_profiles(lambda _ws: good), force=True)
    ladder.standin.revoke(ACME_TOKEN)  # uninstalled before the sender got to anyone
    dead = Sender(service, lambda _ws: make_client(ladder.settings))
    assert dead.run().sent == 0
    with Session(ladder.engine) as session:
        assert session.get(Workspace, ACME).active is False  # type: ignore[union-attr]

    # Reinstalled two days later: a new token, the workspace active again.
    ladder.clock.advance(days=1, hours=2)  # Tuesday 11:00 in Berlin: inside working hours
    ladder.standin.add_token(ACME, "xoxb-acme-reinstalled")
    fresh = make_client(ladder.settings, token="xoxb-acme-reinstalled")
    with Session(ladder.engine) as session:
        workspace = session.get_one(Workspace, ACME)
        workspace.active = True
        session.add(workspace)
        session.commit()
    report = Sender(service, lambda _ws: fresh).run()
    assert report.sent == len(team) and report.failed == 0
    assert Sender(service, lambda _ws: fresh).run().sent == 0
    assert_each_asked_once(ladder, team)


# ---------------------------------------------------------------------------- gone users


def test_user_not_found_fails_that_row_only(ladder: Ladder, team: list[str]) -> None:
    ladder.standin.fail_next("chat.postMessage", error="user_not_found")
    report = make_sender(ladder, concurrency=1).run()
    assert (report.sent, report.failed, report.deferred) == (len(team) - 1, 1, 0)
    rows = prompts(ladder.engine)
    [lost] = [u for u in team if rows[u].state != OutboxState.SENT]
    assert (rows[lost].state, rows[lost].error) == (OutboxState.FAILED, "user_not_found")
    assert accepted_posts(ladder.standin, lost) == 0
    ladder.clock.advance(hours=2)
    assert make_sender(ladder).run() == SendReport()  # a failed row is not retried
    assert_each_asked_once(ladder, [u for u in team if u != lost])


def test_a_person_gone_from_slack_fails_and_the_others_are_asked(
    ladder: Ladder, team: list[str]
) -> None:
    with Session(ladder.engine, expire_on_commit=False) as session:
        [cycle_id] = {o.cycle_id for o in session.exec(select(Objective)).all()}
        _one_kr(session, cycle_id, GONE, BERLIN_TEN - timedelta(days=14))
        # Ladder looked them up an hour ago; since then the account was removed.
        save_profiles(
            session=session,
            workspace_id=ACME,
            profiles=[SlackProfile(GONE, "Europe/Berlin")],
            now=BERLIN_TEN - timedelta(hours=1),
        )
        session.commit()
    report = make_sender(ladder).run()
    assert (report.sent, report.failed) == (len(team), 1)
    gone = prompts(ladder.engine)[GONE]
    assert (gone.state, gone.error) == (OutboxState.FAILED, "channel_not_found")
    assert_each_asked_once(ladder, team)


# ---------------------------------------------------------------------------- crashes


class Died(BaseException):
    """The process went away: nothing in the sender may catch this."""


def _sent_fails_once(
    monkeypatch: pytest.MonkeyPatch, error: Callable[[], BaseException]
) -> list[int]:
    """DeliveryService.sent raises `error` for the first message (after Slack accepted it)."""
    real = DeliveryService.sent
    hit: list[int] = []

    def sent(self: DeliveryService, message_id: int, **kwargs: Any) -> None:
        if not hit:
            hit.append(message_id)
            raise error()
        real(self, message_id, **kwargs)

    monkeypatch.setattr(DeliveryService, "sent", sent)
    return hit


def test_a_sender_that_died_after_slack_accepted_does_not_resend(
    ladder: Ladder, team: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    hit = _sent_fails_once(monkeypatch, Died)
    with pytest.raises(Died):
        make_sender(ladder, concurrency=1).run()
    rows = {m.id: m for m in prompts(ladder.engine).values()}
    orphan = rows[hit[0]]
    assert orphan.state == OutboxState.SENDING  # Slack has it; the row does not know
    assert accepted_posts(ladder.standin, orphan.recipient) == 1
    # The claims it had not delivered yet are stranded too (never posted).
    stranded = [m for m in rows.values() if m.state == OutboxState.SENDING and m is not orphan]
    assert all(accepted_posts(ladder.standin, m.recipient) == 0 for m in stranded)

    ladder.clock.advance(minutes=1)  # younger than reclaim_after: left to its sender
    assert make_sender(ladder).run() == SendReport()
    ladder.clock.advance(minutes=2)
    report = make_sender(ladder).run()
    assert (report.sent, report.recovered) == (len(stranded), 1)
    lookups = ladder.standin.calls("conversations.history")
    assert sorted(c.args["channel"] for c in lookups) == sorted(
        dm_channel_id(m.recipient) for m in [orphan, *stranded]
    )
    assert all(str(c.args["include_all_metadata"]).lower() in ("1", "true") for c in lookups)
    assert_each_asked_once(ladder, team)


def test_a_stranded_claim_reclaimed_after_hours_waits_for_the_morning(
    ladder: Ladder, team: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reclaimed rows pass the same working-hours gate as fresh ones, once Slack is searched."""
    hit = _sent_fails_once(monkeypatch, Died)
    ladder.clock.now = BERLIN_TEN.replace(hour=16, minute=58)  # 17:58 in Berlin
    with pytest.raises(Died):
        make_sender(ladder, concurrency=1).run()
    rows = {m.id: m for m in prompts(ladder.engine).values()}
    stranded = [m for m in rows.values() if m.state == OutboxState.SENDING and m.id != hit[0]]
    assert stranded

    ladder.clock.advance(minutes=10)  # 18:08 in Berlin: the claims are stale, the day over
    report = make_sender(ladder).run()
    in_new_york = [m for m in stranded if m.recipient == CEO]  # 12:08 there: asked now
    stranded = [m for m in stranded if m.recipient != CEO]
    assert (report.sent, report.recovered, report.deferred) == (
        len(in_new_york),
        1,
        len(stranded),
    )
    for m in stranded:
        row = prompts(ladder.engine)[m.recipient]
        assert row.state == OutboxState.PLANNED
        assert row.due_at.replace(tzinfo=UTC) == datetime(2026, 2, 17, 8, 0, tzinfo=UTC)
        assert accepted_posts(ladder.standin, m.recipient) == 0

    ladder.clock.now = datetime(2026, 2, 17, 8, 0, tzinfo=UTC)  # 09:00 in Berlin
    assert make_sender(ladder).run().sent == len(stranded)
    assert_each_asked_once(ladder, team)


def test_a_failure_to_record_a_delivered_prompt_does_not_resend_it(
    ladder: Ladder, team: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slack took the message, then marking the row sent failed (the database blinked)."""
    hit = _sent_fails_once(monkeypatch, lambda: RuntimeError("database is locked"))
    report = make_sender(ladder, reclaim_after=timedelta(seconds=30)).run()
    assert report.sent == len(team) - 1
    for _ in range(3):
        ladder.clock.advance(minutes=5)
        make_sender(ladder, reclaim_after=timedelta(seconds=30)).run()
    assert_each_asked_once(ladder, team)
    assert prompts(ladder.engine)[_recipient_of(ladder, hit[0])].state == OutboxState.SENT


def test_a_rate_limited_history_lookup_keeps_the_row_in_doubt(
    ladder: Ladder, team: list[str], monkeypatch: pytest.MonkeyPatch, retry_waits: list[float]
) -> None:
    """A crashed sender's row whose DM cannot be read right now must still not be resent."""
    hit = _sent_fails_once(monkeypatch, Died)
    with pytest.raises(Died):
        make_sender(ladder, concurrency=1).run()
    ladder.clock.advance(minutes=3)
    # The crashed message is reclaimed first; its lookup gets a 429 beyond the retries.
    ladder.standin.rate_limit_next("conversations.history", retry_after=1, times=4)
    assert make_sender(ladder, concurrency=1).run().deferred == 1
    orphan = prompts(ladder.engine)[_recipient_of(ladder, hit[0])]
    assert orphan.state == OutboxState.SENDING  # still in doubt, not released to `planned`
    for _ in range(3):
        ladder.clock.advance(minutes=5)
        make_sender(ladder).run()
    assert_each_asked_once(ladder, team)


def _recipient_of(ladder: Ladder, message_id: int) -> str:
    with Session(ladder.engine) as session:
        row = session.get(OutboxMessage, message_id)
        assert row is not None
        return row.recipient


# ---------------------------------------------------------------------------- kill -9

KILL_USERS = [f"U0P{n:03d}" for n in range(1, 61)]
REPORT_LINE = re.compile(
    r"check-ins: (\d+) prompts and reminders sent, \d+ digests posted, \d+ reflection requests sent, "
    r"(\d+) already there, "
    r"(\d+) failed, (\d+) deferred"
)


def _working_zone(now: datetime) -> str | None:
    """A fixed-offset zone where `now` is a weekday between 10:00 and 17:00 (nearest 13:30)."""
    best: tuple[float, str] | None = None
    for hours in range(-12, 15):
        local = now + timedelta(hours=hours)
        clock = local.hour + local.minute / 60
        if local.weekday() < 5 and 10 <= clock < 17:
            name = "UTC" if hours == 0 else f"Etc/GMT{-hours:+d}"  # POSIX signs are inverted
            if best is None or abs(clock - 13.5) < best[0]:
                best = (abs(clock - 13.5), name)
    return best[1] if best else None


# Used only when no zone on Earth is in working hours now (Saturday ~05:00 UTC to Sunday
# ~20:00 UTC): the same CLI, with its clock moved forward by whole days.
_SHIFTED_CLI = """
import sys
from datetime import UTC, datetime, timedelta
import bot.jobs.runtime as runtime
shift = timedelta(days=int(sys.argv[1]))
runtime.utc_now = lambda: datetime.now(UTC) + shift
from bot.__main__ import main
sys.exit(main(sys.argv[2:]))
"""


class InFlight:
    """Counts requests the stand-in is still answering (a killed client's included)."""

    def __init__(self, standin: SlackStandIn) -> None:
        self.count = 0
        self.cond = threading.Condition()
        api = standin._api

        def tracked(*args: Any, **kwargs: Any) -> Any:
            with self.cond:
                self.count += 1
            try:
                return api(*args, **kwargs)
            finally:
                with self.cond:
                    self.count -= 1
                    self.cond.notify_all()

        standin._api = tracked  # type: ignore[method-assign]

    def wait_idle(self, timeout: float) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: self.count == 0, timeout), "stand-in still busy"


@dataclasses.dataclass
class Cli:
    """`python -m bot checkins send` against a SQLite file and the stand-in."""

    users: list[str]
    engine: Any
    prefix: list[str]
    env: dict[str, str]
    log: Path

    def command(self, *extra: str) -> list[str]:
        return [*self.prefix, "checkins", "send", *extra]

    def start(self, *extra: str) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as log:
            return subprocess.Popen(
                self.command(*extra),
                env=self.env,
                cwd=self.log.parent,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def run(self, *extra: str) -> tuple[int, ...]:
        done = subprocess.run(
            self.command(*extra),
            env=self.env,
            cwd=self.log.parent,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        found = REPORT_LINE.search(done.stdout)
        assert found, done.stdout + done.stderr
        return tuple(int(n) for n in found.groups())


@pytest.fixture
def cli(standin: SlackStandIn, tmp_path: Path) -> Iterator[Cli]:
    """A SQLite file with 60 people owed a prompt now, in real time, in working hours."""
    now = datetime.now(UTC)
    shift = 0
    while (tz := _working_zone(now + timedelta(days=shift))) is None:
        shift += 1
    moment = now + timedelta(days=shift)
    for user in KILL_USERS:
        standin.add_user(ACME, user, tz=tz)
    db = tmp_path / "killed.db"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    with Session(engine, expire_on_commit=False) as session:
        ensure_workspace(session=session, workspace_id=ACME, name="Acme Tech")
        cycle = create_cycle(
            session=session,
            workspace_id=ACME,
            name="Now",
            start_date=moment.date() - timedelta(days=30),
            end_date=moment.date() + timedelta(days=60),
        )
        for user in KILL_USERS:
            _one_kr(session, cycle.id, user, now - timedelta(days=1))  # type: ignore[arg-type]
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
        DATABASE_URL=f"sqlite:///{db}",
        LADDER_SCHEDULER="off",
        LADDER_SEND_RATE="40",  # paced like production, at the stand-in's latency
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
    )
    prefix = (
        [sys.executable, "-m", "bot"]
        if shift == 0
        else [sys.executable, "-c", _SHIFTED_CLI, str(shift)]
    )
    yield Cli(list(KILL_USERS), engine, prefix, env, tmp_path / "sender.log")
    engine.dispose()


def test_a_sender_killed_mid_run_is_finished_without_duplicates(
    standin: SlackStandIn, cli: Cli
) -> None:
    in_flight = InFlight(standin)
    standin.set_latency("chat.postMessage", 0.2)  # 8 at a time: about 1.5 s for everyone
    sender = cli.start()
    try:
        standin.wait_for("chat.postMessage", count=9, timeout=30)
        sender.send_signal(signal.SIGKILL)
        assert sender.wait(timeout=10) == -signal.SIGKILL
    finally:
        if sender.poll() is None:
            sender.kill()
            sender.wait()
    in_flight.wait_idle(timeout=10)  # what was on the wire when it died has landed
    standin.set_latency("chat.postMessage", 0.0)

    rows = prompts(cli.engine)
    assert set(rows) == set(cli.users)  # it planned everyone before it died
    in_slack = {u for u in cli.users if ladder_messages(standin, u)}
    marked = {u for u, m in rows.items() if m.state == OutboxState.SENT}
    assert marked <= in_slack and 9 <= len(in_slack) < len(cli.users), (len(in_slack), len(marked))
    in_doubt = in_slack - marked  # Slack has them; the sender died before writing it down
    assert in_doubt, "the kill should catch posts in flight"
    # What Slack may have stays claimed; the rest is claimed or, claims being about a second
    # of the workspace's pace, not claimed yet.
    assert {rows[u].state for u in in_doubt} == {OutboxState.SENDING}
    assert {rows[u].state for u in cli.users if u not in marked} <= {
        OutboxState.SENDING,
        OutboxState.PLANNED,
    }

    reports = [cli.run("--reclaim-after", "0")]
    while any(m.state != OutboxState.SENT for m in prompts(cli.engine).values()):
        assert len(reports) < 3, reports
        reports.append(cli.run("--reclaim-after", "0"))
    sent, recovered, failed, deferred = (sum(r[i] for r in reports) for i in range(4))
    assert (sent, recovered, failed, deferred) == (
        len(cli.users) - len(in_slack),
        len(in_doubt),
        0,
        0,
    )
    rows = prompts(cli.engine)
    for user in cli.users:
        [message] = ladder_messages(standin, user)
        assert accepted_posts(standin, user) == 1
        assert rows[user].state == OutboxState.SENT
        assert message["metadata"]["event_payload"] == {"outbox_id": rows[user].id}
        assert rows[user].ts == message["ts"]
    assert cli.run("--reclaim-after", "0") == (0, 0, 0, 0)


# ---------------------------------------------------------------------------- profiles


def test_many_profiles_come_from_users_list_pages(ladder: Ladder) -> None:
    """450 people: 3 users.list pages instead of 450 users.info calls; strangers one by one."""
    people = [f"U0P{i:04d}" for i in range(450)]
    for i, user in enumerate(people):
        tz = "Asia/Tokyo" if i % 2 else "America/New_York"
        ladder.standin.add_user(ACME, user, tz=tz, deleted=i == 7)
    unknown = "U0NOBODY"
    client = make_client(ladder.settings)
    found = {p.user_id: p for p in lookup_profiles(lambda _ws: client)(ACME, [*people, unknown])}

    assert set(found) == {*people, unknown}
    assert found["U0P0001"].tz == "Asia/Tokyo" and found["U0P0002"].tz == "America/New_York"
    assert found["U0P0007"].deleted and not found["U0P0008"].deleted
    assert found[unknown].deleted  # Slack does not know them: gone
    pages = ladder.standin.calls("users.list")
    assert len(pages) == 3 and {c.args["limit"] for c in pages} == {"200"}
    assert [c.args["user"] for c in ladder.standin.calls("users.info")] == [unknown]


def test_a_few_profiles_are_asked_one_by_one(ladder: Ladder) -> None:
    client = make_client(ladder.settings)
    found = lookup_profiles(lambda _ws: client)(ACME, [DEV, CEO])
    assert {p.user_id: p.tz for p in found} == {DEV: "Europe/Berlin", CEO: "America/New_York"}
    assert ladder.standin.calls("users.list") == []
    assert len(ladder.standin.calls("users.info")) == 2
