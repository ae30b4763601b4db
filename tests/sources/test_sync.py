"""Pulling sources on schedule, failure episodes, who may connect, and pushed values:
the service against a loopback source server, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from bot.services.checkins import CheckinService
from bot.services.sources import FailureNotice, SourceDenied, SourceService
from bot.sources.fetch import Fetcher, FetchPolicy, SourceKind, SourceSpec
from storage import sources as source_store
from storage.checkins import checked_in, record_check_in
from storage.errors import NotFound, Refused
from storage.models import CheckIn, DataSource, KeyResult, PushToken
from tests.factories import reference_company
from tests.support.source_server import Answer, SourceServer, json_answer

CEO, DEV, ADMIN = "U0CEO", "U0DEV", "U0ADMIN"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday; weekly periods start Mondays
FAST = FetchPolicy(connect_timeout=1, read_timeout=0.5, total_timeout=3, backoff=0.01)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class World:
    engine: sa.Engine
    server: SourceServer
    clock: Clock
    service: SourceService
    notices: list[FailureNotice]
    kr_id: int  # "Achieve 1 million active users", owned by CEO, start 0
    workspace_id: str

    def check_ins(self) -> list[CheckIn]:
        with Session(self.engine) as session:
            return list(
                session.exec(
                    select(CheckIn)
                    .where(CheckIn.key_result_id == self.kr_id)
                    .order_by(col(CheckIn.period_start), col(CheckIn.id))
                ).all()
            )

    def kr(self) -> KeyResult:
        with Session(self.engine) as session:
            return session.get_one(KeyResult, self.kr_id)

    def source(self) -> DataSource:
        with Session(self.engine) as session:
            found = source_store.get_source(
                session=session, workspace_id=self.workspace_id, key_result_id=self.kr_id
            )
            assert found is not None
            return found

    def connect(self, path: str = "/users.json", **options: object) -> None:
        spec = SourceSpec(SourceKind.JSON, self.server.url(path), expression="active", **options)  # type: ignore[arg-type]
        self.service.connect(
            workspace_id=self.workspace_id,
            user_id=ADMIN,
            is_admin=lambda: True,
            key_result_id=self.kr_id,
            spec=spec,
        )


@pytest.fixture
def world(engine: sa.Engine) -> Iterator[World]:
    with Session(engine, expire_on_commit=False) as session:
        company = reference_company(session, now=START - timedelta(days=30))
        kr_id = session.exec(
            select(KeyResult.id)
            .where(KeyResult.objective_id == company.platform.id)
            .order_by(col(KeyResult.position))
        ).first()
        source_store.allow_host(
            session=session,
            workspace_id=company.workspace_id,
            host="127.0.0.1",
            added_by=ADMIN,
            now=START,
        )
        session.commit()
    notices: list[FailureNotice] = []
    clock = Clock()
    fetcher = Fetcher(FAST, environ={}, sleep=lambda _s: None)

    def notify(notice: FailureNotice) -> bool:
        notices.append(notice)
        return True

    with SourceServer() as server:
        service = SourceService(
            engine, fetcher=fetcher, clock=clock, notify=notify, concurrency=4, per_host=2
        )
        assert kr_id is not None
        yield World(engine, server, clock, service, notices, kr_id, company.workspace_id)
    fetcher.close()


def test_a_new_value_is_recorded_once_as_a_data_source_check_in(world: World) -> None:
    world.server.route("/users.json", json_answer({"active": 1200}))
    world.connect()
    report = world.service.sync_due()
    assert (report.pulled, report.recorded, report.failed) == (1, 1, 0)
    [check_in] = world.check_ins()
    assert (check_in.author_id, check_in.source, check_in.value, check_in.previous_value) == (
        "data source",
        "sync",
        1200,
        None,  # the KR had no value yet
    )
    assert world.kr().current_value == 1200

    # Not due again before its hour is up.
    world.clock.advance(minutes=30)
    assert world.service.sync_due().pulled == 0
    # Due, unchanged: nothing new.
    world.clock.advance(minutes=31)
    report = world.service.sync_due()
    assert (report.pulled, report.recorded, report.unchanged) == (1, 0, 1)
    assert len(world.check_ins()) == 1
    # A new value in the same period updates the period's check-in; the next week adds one.
    world.server.route("/users.json", json_answer({"active": 1500}))
    world.clock.advance(hours=1)
    assert world.service.sync_due().recorded == 1
    assert [(c.value, c.previous_value) for c in world.check_ins()] == [(1500, None)]
    world.server.route("/users.json", json_answer({"active": 1800}))
    world.clock.advance(days=7)
    world.service.sync_due()
    assert [(c.value, c.previous_value) for c in world.check_ins()] == [(1500, None), (1800, 1500)]
    assert world.kr().current_value == 1800
    assert world.server.hits("/users.json") == 4


def test_the_owner_is_still_asked_and_their_answer_is_kept(world: World) -> None:
    world.server.route("/users.json", json_answer({"active": 1200}))
    world.connect()
    world.service.sync_due()
    period = world.check_ins()[0].period_start
    with Session(world.engine) as session:
        # A synced value is not the owner's answer: the prompt still asks for confidence.
        assert (
            checked_in(
                session=session,
                workspace_id=world.workspace_id,
                key_result_ids=[world.kr_id],
                periods=[period],
            )
            == set()
        )
        record_check_in(
            session=session,
            workspace_id=world.workspace_id,
            key_result_id=world.kr_id,
            author_id=CEO,
            value=None,
            confidence=7,
            note="Sales push worked",
            period_start=period,
            now=world.clock(),
        )
        session.commit()
        assert checked_in(
            session=session,
            workspace_id=world.workspace_id,
            key_result_ids=[world.kr_id],
            periods=[period],
        ) == {(world.kr_id, period)}
    # A later pull in the period moves the KR but leaves the person's check-in theirs.
    world.server.route("/users.json", json_answer({"active": 1300}))
    world.clock.advance(hours=2)
    world.service.sync_due()
    [check_in] = world.check_ins()
    assert (check_in.author_id, check_in.value, check_in.confidence, check_in.note) == (
        CEO,
        1200,
        7,
        "Sales push worked",
    )
    assert world.kr().current_value == 1300


def test_a_failure_episode_tells_the_owner_once_and_recovers_by_itself(world: World) -> None:
    world.server.route("/users.json", json_answer({"active": 1200}))
    world.connect()
    world.service.sync_due()
    world.server.route("/users.json", Answer(500, b"boom"))
    for _ in range(3):
        world.clock.advance(hours=1)
        report = world.service.sync_due()
        assert report.failed == 1
    assert world.kr().current_value == 1200  # kept
    source = world.source()
    assert source.failing and source.failures == 3
    assert source.failure_reason == "the server answered HTTP 500 (3 tries)"
    assert [(n.owner_id, n.key_result_id, n.reason) for n in world.notices] == [
        (CEO, world.kr_id, "the server answered HTTP 500 (3 tries)")
    ]
    # It answers again: recovered, the new value recorded, no notice.
    world.server.route("/users.json", json_answer({"active": 1250}))
    world.clock.advance(hours=1)
    report = world.service.sync_due()
    assert (report.recovered, report.recorded) == (1, 1)
    assert not world.source().failing and world.kr().current_value == 1250
    # A new episode is a new notice.
    world.server.route("/users.json", Answer(body=b"<html>maintenance</html>"))
    world.clock.advance(hours=1)
    world.service.sync_due()
    assert len(world.notices) == 2 and "not JSON" in world.notices[1].reason


def test_a_notice_slack_did_not_take_is_tried_at_the_next_pull(world: World) -> None:
    sent: list[FailureNotice] = []
    answers = iter([False, True])
    world.service.notify = lambda n: sent.append(n) or next(answers)  # type: ignore[func-returns-value]
    world.server.route("/users.json", Answer(503, b"down"))
    world.connect()
    world.service.sync_due()
    world.clock.advance(hours=1)
    world.service.sync_due()
    world.clock.advance(hours=1)
    world.service.sync_due()
    assert len(sent) == 2  # the first did not reach Slack; the second did; no third


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (json_answer({"active": 1}, delay=2), "did not answer in time"),
        (Answer(body=b"{nope"), "not JSON"),
        (json_answer({"active": "many"}), "matched the text “many”"),
        (
            Answer(302, headers={"Location": "http://169.254.169.254/latest/meta-data/"}),
            "never fetches",
        ),
    ],
)
def test_failures_keep_the_value_and_say_why(world: World, answer: Answer, reason: str) -> None:
    world.server.route("/users.json", answer)
    world.connect()
    report = world.service.sync_due()
    assert report.failed == 1 and reason in report.failures[world.kr_id]
    assert world.check_ins() == [] and world.kr().current_value is None
    assert reason in (world.source().failure_reason or "")
    assert len(world.notices) == 1


def test_a_redirect_to_a_host_not_allowed_is_never_fetched(world: World) -> None:
    world.server.route(
        "/users.json",
        Answer(302, headers={"Location": f"http://localhost:{world.server.port}/internal"}),
    )
    world.server.route("/internal", json_answer({"active": 5}))
    world.connect()
    assert world.service.sync_due().failed == 1
    assert world.server.hits("/internal") == 0 and world.kr().current_value is None


def test_test_shows_what_would_be_recorded_without_recording(world: World) -> None:
    world.server.route("/users.json", json_answer({"active": 0.5}))
    world.connect(multiplier=1000)
    result = world.service.test(workspace_id=world.workspace_id, key_result_id=world.kr_id)
    assert result.reading is not None and result.reading.value == 500 and result.would_record
    assert world.check_ins() == [] and world.kr().current_value is None
    bad = world.service.test(
        workspace_id=world.workspace_id,
        key_result_id=world.kr_id,
        spec=SourceSpec(SourceKind.JSON, world.server.url("/users.json"), expression="missing"),
    )
    assert bad.reason == "the expression matched nothing" and not bad.would_record


def test_who_may_connect(world: World) -> None:
    spec = SourceSpec(SourceKind.JSON, "https://metrics.example.com/x", expression="a")
    local = SourceSpec(SourceKind.JSON, world.server.url("/users.json"), expression="a")
    asked: list[str] = []

    def not_admin() -> bool:
        asked.append("admin?")
        return False

    with pytest.raises(
        SourceDenied,
        match=r"metrics\.example\.com is not on this workspace's data source allow-list",
    ):
        world.service.connect(
            workspace_id=world.workspace_id,
            user_id=CEO,
            is_admin=not_admin,
            key_result_id=world.kr_id,
            spec=spec,
        )
    with pytest.raises(SourceDenied, match="Only the key result's owner"):
        world.service.connect(
            workspace_id=world.workspace_id,
            user_id=DEV,
            is_admin=not_admin,
            key_result_id=world.kr_id,
            spec=local,
        )
    asked.clear()
    world.service.connect(
        workspace_id=world.workspace_id,
        user_id=CEO,
        is_admin=not_admin,
        key_result_id=world.kr_id,
        spec=local,
    )
    assert asked == []  # an owner to an allowed host: Slack is not asked
    world.service.connect(
        workspace_id=world.workspace_id,
        user_id=ADMIN,
        is_admin=lambda: True,
        key_result_id=world.kr_id,
        spec=spec,
    )
    assert world.source().url == "https://metrics.example.com/x"
    with pytest.raises(Refused, match="JMESPath"):
        world.service.connect(
            workspace_id=world.workspace_id,
            user_id=ADMIN,
            is_admin=lambda: True,
            key_result_id=world.kr_id,
            spec=SourceSpec(SourceKind.JSON, "https://metrics.example.com/x"),
        )


def test_sync_respects_concurrency_and_per_host_limits(world: World, engine: sa.Engine) -> None:
    """Twelve KRs on one slow host, per_host=2: never more than 2 requests at once."""
    import threading

    active = {"now": 0, "max": 0}
    lock = threading.Lock()

    def route(_n: int) -> Answer:
        with lock:
            active["now"] += 1
            active["max"] = max(active["max"], active["now"])
        return json_answer({"active": 3}, delay=0.05)

    world.server.route("/users.json", route)
    with Session(engine) as session:
        kr_ids = list(
            session.exec(
                select(KeyResult.id).where(KeyResult.workspace_id == world.workspace_id)
            ).all()
        )
    for kr_id in kr_ids:
        world.service.connect(
            workspace_id=world.workspace_id,
            user_id=ADMIN,
            is_admin=lambda: True,
            key_result_id=kr_id,  # type: ignore[arg-type]
            spec=SourceSpec(SourceKind.JSON, world.server.url("/users.json"), expression="active"),
        )
    original = world.service.fetcher.read  # counts down once Ladder has the answer

    def read(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        try:
            return original(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            with lock:
                active["now"] -= 1

    world.service.fetcher.read = read  # type: ignore[method-assign]
    report = world.service.sync_due()
    assert report.pulled == len(kr_ids) == 5 and report.failed == 0
    assert active["max"] <= 2


def test_pushes_need_a_live_token_and_a_real_number(world: World) -> None:
    token = world.service.new_push_token(
        workspace_id=world.workspace_id,
        user_id=CEO,
        is_admin=lambda: False,
        key_result_id=world.kr_id,
    )
    assert token.startswith("ldr_") and len(token) > 40
    with Session(world.engine) as session:
        stored = session.exec(select(PushToken)).one()
        assert token not in (stored.token_hash, stored.hint) and stored.hint == token[:8]
    result = world.service.push(key_result_id=world.kr_id, token=token, value=4200, note="from CI")
    assert result.recorded and world.kr().current_value == 4200
    [check_in] = world.check_ins()
    assert (check_in.source, check_in.note) == ("push", "from CI")
    with pytest.raises(NotFound):
        world.service.push(key_result_id=world.kr_id, token=token + "x", value=1)
    with pytest.raises(NotFound):
        world.service.push(key_result_id=world.kr_id + 1, token=token, value=1)
    for hostile in (float("nan"), float("inf"), -float("inf"), 1e300):
        with pytest.raises(Refused):
            world.service.push(key_result_id=world.kr_id, token=token, value=hostile)
    assert world.kr().current_value == 4200 and len(world.check_ins()) == 1
    world.service.revoke_push_token(
        workspace_id=world.workspace_id,
        user_id=CEO,
        is_admin=lambda: False,
        key_result_id=world.kr_id,
    )
    with pytest.raises(NotFound):
        world.service.push(key_result_id=world.kr_id, token=token, value=1)
    with pytest.raises(SourceDenied):
        world.service.new_push_token(
            workspace_id=world.workspace_id,
            user_id=DEV,
            is_admin=lambda: False,
            key_result_id=world.kr_id,
        )


def test_checkin_period_follows_the_owner(world: World) -> None:
    """The synced check-in lands in the owner's current period, as the modal's would."""
    world.server.route("/users.json", json_answer({"active": 7}))
    world.connect()
    world.service.sync_due()
    expected = CheckinService(world.engine, clock=world.clock).period_for(
        workspace_id=world.workspace_id, user_id=CEO
    )
    assert world.check_ins()[0].period_start == expected


@pytest.mark.parametrize("fmt", ["yaml", "csv"])
def test_synced_check_ins_survive_export_and_import(world: World, fmt: str) -> None:
    from bot.services.transfer import Format, export_text, import_text

    world.server.route("/users.json", json_answer({"active": 1200}))
    world.connect()
    world.service.sync_due()
    exported = export_text(world.engine, workspace_id=world.workspace_id, fmt=Format(fmt))
    assert "data source" in exported.text
    import_text(
        world.engine,
        exported.text,
        fmt=Format(fmt),
        now=world.clock(),
        workspace_id=world.workspace_id,
        replace=True,
    )
    with Session(world.engine) as session:
        synced = session.exec(select(CheckIn).where(CheckIn.author_id == "data source")).all()
    assert [(c.value, c.source) for c in synced] == [(1200, "sync")]


def test_pushes_stop_for_archived_key_results_and_uninstalled_workspaces(world: World) -> None:
    from storage.workspaces import set_workspace_active

    token = world.service.new_push_token(
        workspace_id=world.workspace_id,
        user_id=CEO,
        is_admin=lambda: False,
        key_result_id=world.kr_id,
    )
    with Session(world.engine) as session:
        kr = session.get_one(KeyResult, world.kr_id)
        kr.archived_at = world.clock()
        session.add(kr)
        session.commit()
    with pytest.raises(Refused, match="archived"):
        world.service.push(key_result_id=world.kr_id, token=token, value=1)
    with Session(world.engine) as session:
        set_workspace_active(
            session=session, workspace_id=world.workspace_id, active=False, now=world.clock()
        )
        session.commit()
    with pytest.raises(NotFound):
        world.service.push(key_result_id=world.kr_id, token=token, value=1)
    assert world.check_ins() == []
