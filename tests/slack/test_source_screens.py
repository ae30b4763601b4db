"""Data sources where a KR's owner sees the KR: the check-in modal shows a synced KR's value
instead of asking for it (and a submission records confidence, never a value over the
source's), and Home and `/okr mine` say under each KR whether its source syncs or why it
fails. Real signed requests, Slack played by the stand-in; sources by a local HTTP server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import Session, col, select

from bot.blocks.tree import INDENT
from bot.okr.kinds import UnitKind
from bot.okr.numbers import format_value
from bot.services.sources import SourceService
from bot.sources.fetch import Fetcher, FetchPolicy
from storage import sources as source_store
from storage.models import CheckIn, KeyResult
from tests.slack.conftest import ACME, CEO, DEV, EVE, Ladder
from tests.slack.test_checkin_permissions import (
    CHANNEL,
    World,
    ask,
    opened,
    stored,
    value_blocks,
    world,
)
from tests.slack.test_sources import allow_loopback
from tests.support.source_server import Answer, SourceServer, json_answer

__all__ = ["world"]  # the fixture, shared with the check-in permission tests

SYNCED = 1200.0  # 1.2 read, x1000


@pytest.fixture
def server() -> Iterator[SourceServer]:
    with SourceServer() as server:
        server.route("/users.json", json_answer({"data": {"active": 1.2}}))
        server.route("/down.json", Answer(500, b"down"))
        yield server


def connect(ladder: Ladder, kr_id: int, url: str) -> None:
    with Session(ladder.engine) as session:
        source_store.save_source(
            session=session,
            workspace_id=ACME,
            key_result_id=kr_id,
            kind="json",
            url=url,
            expression="data.active",
            multiplier=1000,
            created_by=CEO,
            now=ladder.clock(),
        )
        session.commit()


def sync(ladder: Ladder) -> None:
    """One sync round, as the scheduler runs it."""
    fetcher = Fetcher(FetchPolicy(backoff=0.001), environ={})
    try:
        SourceService(ladder.engine, fetcher=fetcher, clock=ladder.clock).sync_due()
    finally:
        fetcher.close()


def confidence_of(ladder: Ladder, kr_id: int) -> int | None:
    with Session(ladder.engine) as session:
        kr = session.get(KeyResult, kr_id)
        assert kr is not None
        return kr.confidence


def people_checkins(ladder: Ladder, kr_id: int) -> list[tuple[str, int | None]]:
    """(author, confidence) of the KR's check-ins typed by people (not the data source)."""
    with Session(ladder.engine) as session:
        rows = session.exec(
            select(CheckIn)
            .where(CheckIn.key_result_id == kr_id, CheckIn.author_id != "data source")
            .order_by(col(CheckIn.id))
        ).all()
        return [(r.author_id, r.confidence) for r in rows]


def answers(values: dict[int, str], confidences: dict[int, str]) -> dict[str, dict[str, Any]]:
    typed: dict[str, dict[str, Any]] = {
        f"value:{kr}": {f"value:{kr}": text} for kr, text in values.items()
    }
    for kr, chosen in confidences.items():
        typed[f"confidence:{kr}"] = {f"confidence:{kr}": chosen}
    return typed


def open_checkin(ladder: Ladder, *, user: str) -> dict[str, Any]:
    count = len(ladder.standin.calls("views.open")) + 1
    assert ladder.acme.slash_command("checkin", user_id=user, channel_id=CHANNEL).status_code == 200
    view = opened(ladder, count)
    assert view["callback_id"] == "checkin_modal"
    return view


def test_a_synced_kr_shows_its_value_and_asks_only_for_confidence(
    ladder: Ladder, world: World, server: SourceServer
) -> None:
    synced_kr, typed_kr = world.ceo_krs[0], world.ceo_krs[1]
    allow_loopback(ladder)
    # A form opened before the source was connected still has the value field.
    stale = open_checkin(ladder, user=CEO)
    assert synced_kr in value_blocks(stale)

    connect(ladder, synced_kr, server.url("/users.json"))
    sync(ladder)
    assert stored(ladder)[synced_kr] == SYNCED
    ladder.clock.advance(hours=2)

    modal = open_checkin(ladder, user=CEO)
    # No value input for the synced KR; the KR without a source keeps its own.
    assert synced_kr not in value_blocks(modal)
    assert typed_kr in value_blocks(modal)
    block_ids = [b.get("block_id") for b in modal["blocks"]]
    assert f"confidence:{synced_kr}" in block_ids
    line = next(b for b in modal["blocks"] if b.get("block_id") == f"synced:{synced_kr}")
    with Session(ladder.engine) as session:
        kr = session.get(KeyResult, synced_kr)
        assert kr is not None
        shown = format_value(SYNCED, unit=UnitKind(kr.unit), unit_label=kr.unit_label)
    assert line["elements"][0]["text"] == (f"📡 Synced from the data source: *{shown}*, 2 h ago")

    answer = ladder.acme.view_submission(
        modal, user_id=CEO, values=answers({typed_kr: "3"}, {synced_kr: "7", typed_kr: "4"})
    )
    assert answer.status_code == 200 and answer.text == "", answer.text
    values = stored(ladder)
    assert values[synced_kr] == SYNCED and values[typed_kr] == 3
    assert confidence_of(ladder, synced_kr) == 7 and confidence_of(ladder, typed_kr) == 4
    assert people_checkins(ladder, synced_kr) == [(CEO, 7)]

    # The stale form's typed value does not overwrite the source's; its confidence counts.
    answer = ladder.acme.view_submission(
        stale, user_id=CEO, values=answers({synced_kr: "5"}, {synced_kr: "2"})
    )
    assert answer.status_code == 200 and answer.text == "", answer.text
    assert stored(ladder)[synced_kr] == SYNCED
    assert confidence_of(ladder, synced_kr) == 2


def test_a_failing_source_asks_for_the_value_by_hand(
    ladder: Ladder, world: World, server: SourceServer
) -> None:
    allow_loopback(ladder)
    connect(ladder, world.dev_kr, server.url("/down.json"))
    sync(ladder)
    modal = open_checkin(ladder, user=DEV)
    assert value_blocks(modal) == [world.dev_kr]
    assert "Synced from the data source" not in json.dumps(modal, ensure_ascii=False)


def home(ladder: Ladder, user: str) -> dict[str, Any]:
    """Open `user`'s Home tab and return it once published (again)."""

    def theirs(call: Any) -> bool:
        return call.args.get("user_id") == user

    before = len([c for c in ladder.standin.calls("views.publish") if theirs(c)])
    assert ladder.acme.app_home_opened(user_id=user).status_code == 200
    ladder.standin.wait_for("views.publish", count=before + 1, predicate=theirs)
    tab = ladder.standin.home_view(ACME, user)
    assert tab is not None
    return tab


def section_text(view: dict[str, Any], block_id: str) -> str:
    return next(b["text"]["text"] for b in view["blocks"] if b.get("block_id") == block_id)


def test_home_and_mine_say_whether_a_source_syncs_or_fails(
    ladder: Ladder, world: World, server: SourceServer
) -> None:
    allow_loopback(ladder)
    connect(ladder, world.dev_kr, server.url("/down.json"))
    connect(ladder, world.ceo_krs[0], server.url("/users.json"))
    sync(ladder)
    # A reason with mrkdwn's special characters is shown escaped.
    with Session(ladder.engine) as session:
        failing = source_store.get_source(
            session=session, workspace_id=ACME, key_result_id=world.dev_kr
        )
        assert failing is not None and failing.failing and failing.id is not None
        source_store.record_pull_failure(
            session=session, source_id=failing.id, reason="<!channel> & co", now=ladder.clock()
        )
        session.commit()
    failing_line = "⚠️ data source failing: &lt;!channel&gt; &amp; co"

    dev_home = section_text(home(ladder, DEV), f"home_kr:{world.dev_kr}")
    assert dev_home.endswith(f"\n{INDENT}{failing_line}")
    assert "<!channel>" not in dev_home
    ceo_home = home(ladder, CEO)
    assert section_text(ceo_home, f"home_kr:{world.ceo_krs[0]}").endswith(
        f"\n{INDENT}📡 synced just now"
    )
    assert "data source" not in section_text(ceo_home, f"home_kr:{world.ceo_krs[1]}")
    eve_home = section_text(home(ladder, EVE), f"home_kr:{world.eve_kr}")
    assert "📡" not in eve_home and "data source" not in eve_home

    dev_mine = json.dumps(ask(ladder, "mine", user=DEV).blocks, ensure_ascii=False)
    assert json.dumps(failing_line, ensure_ascii=False)[1:-1] in dev_mine
    eve_mine = json.dumps(ask(ladder, "mine", user=EVE).blocks, ensure_ascii=False)
    # EVE's objective view holds DEV's KR too: its source is DEV's to see, not hers.
    assert "data source" not in eve_mine and "📡" not in eve_mine
