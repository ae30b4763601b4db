"""Connect data in Slack: `/okr data` opens the modal, Test shows what
would be recorded (recording nothing), Connect saves the source; an owner cannot point the
bot at a host that is not allow-listed; a failing source's owner gets one DM whose Fix
button opens the modal on that KR. Real signed requests, Slack played by the stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlmodel import Session, select

from bot.blocks.sources import (
    FIX_SOURCE_ACTION,
    SOURCE_MODAL_CALLBACK,
    SOURCE_TEST_ACTION,
    SOURCE_TOKEN_ACTION,
)
from bot.jobs.sources import notifier
from bot.services.sources import SourceService
from bot.sources.fetch import Fetcher, FetchPolicy
from storage import sources as source_store
from storage.models import CheckIn, DataSource, KeyResult, PushToken
from tests.slack.conftest import ACME, ACME_TOKEN, CEO, DEV, Ladder
from tests.slack.flows import current
from tests.slack.test_checkin_permissions import World, world
from tests.support.source_server import Answer, SourceServer, json_answer

__all__ = ["world"]  # the fixture, shared with the check-in permission tests


@pytest.fixture
def server() -> Iterator[SourceServer]:
    with SourceServer() as server:
        server.route("/users.json", json_answer({"data": {"active": 1.2}}))
        yield server


def allow_loopback(ladder: Ladder) -> None:
    with Session(ladder.engine) as session:
        source_store.allow_host(
            session=session, workspace_id=ACME, host="127.0.0.1", added_by=CEO, now=ladder.clock()
        )
        session.commit()


def open_connect_data(ladder: Ladder, *, user: str) -> dict[str, Any]:
    """`/okr data`: Connect data for the person's key results (an admin's: all of them)."""
    before = len(ladder.standin.calls("views.open"))
    response = ladder.acme.slash_command("data", user_id=user)
    assert response.status_code == 200, response.text
    opened = ladder.standin.wait_for("views.open", count=before + 1)[-1]
    assert opened.ok, opened.response
    view = opened.response["view"]
    assert view["callback_id"] == SOURCE_MODAL_CALLBACK
    return view


def kr_options(view: dict[str, Any]) -> list[str]:
    select = next(b for b in view["blocks"] if b.get("block_id", "").startswith("kr@"))
    return [o["value"] for o in select["element"]["options"]]


def rev(view: dict[str, Any]) -> int:
    return next(
        int(b["block_id"].split("@")[1]) for b in view["blocks"] if "@" in b.get("block_id", "")
    )


def typed(view: dict[str, Any], **fields: Any) -> dict[str, dict[str, Any]]:
    r = rev(view)
    actions = {"kr": "source_kr", "kind": "source_kind"}
    return {f"{name}@{r}": {actions.get(name, name): value} for name, value in fields.items()}


def press(
    ladder: Ladder, view: dict[str, Any], action_id: str, values: dict, *, user: str
) -> dict[str, Any]:
    before = len(ladder.standin.calls("views.update"))
    response = ladder.acme.block_action(user_id=user, action_id=action_id, view=view, values=values)
    assert response.status_code == 200
    updated = ladder.standin.wait_for("views.update", count=before + 1)[-1]
    assert updated.ok, updated.response
    return current(ladder, view)


def text_of(view: dict[str, Any]) -> str:
    return "\n".join(
        b.get("text", {}).get("text", "") for b in view["blocks"] if b["type"] == "section"
    )


def sources(ladder: Ladder) -> list[DataSource]:
    with Session(ladder.engine) as session:
        return list(session.exec(select(DataSource)).all())


def test_an_admin_tests_then_connects_a_source(
    ladder: Ladder, world: World, server: SourceServer
) -> None:
    allow_loopback(ladder)
    view = open_connect_data(ladder, user=CEO)
    # An admin may connect any key result of the open cycles.
    with Session(ladder.engine) as session:
        every_kr = {str(k) for k in session.exec(select(KeyResult.id)).all()}
    assert set(kr_options(view)) == every_kr and len(every_kr) == 7
    values = typed(
        view,
        kr=str(world.ceo_krs[0]),
        kind="json",
        url=server.url("/users.json"),
        expression="data.active",
        multiplier="1000",
        interval="60",
    )
    tested = press(ladder, view, SOURCE_TEST_ACTION, values, user=CEO)
    assert "would record *1,200* (read 1.2, scaled)" in text_of(tested)
    assert server.hits("/users.json") == 1
    with Session(ladder.engine) as session:
        assert session.exec(select(CheckIn)).all() == []  # a test records nothing
    assert sources(ladder) == []

    answer = ladder.acme.view_submission(tested, user_id=CEO, values=values)
    assert answer.status_code == 200 and answer.text in ("", "{}"), answer.text
    [source] = sources(ladder)
    assert (source.key_result_id, source.url, source.expression, source.multiplier) == (
        world.ceo_krs[0],
        server.url("/users.json"),
        "data.active",
        1000,
    )


def test_bad_fields_are_refused_where_typed(
    ladder: Ladder, world: World, server: SourceServer
) -> None:
    view = open_connect_data(ladder, user=CEO)
    r = rev(view)
    answer = ladder.acme.view_submission(
        view,
        user_id=CEO,
        values=typed(view, kind="json", url=server.url("/users.json"), expression="data[?"),
    )
    errors = answer.json()["errors"]
    assert list(errors) == [f"expression@{r}"] and "does not parse" in errors[f"expression@{r}"]
    answer = ladder.acme.view_submission(
        view,
        user_id=CEO,
        values=typed(view, kind="json", url=server.url("/u"), expression="a", multiplier="lots"),
    )
    assert "multiplier" in answer.json()["errors"][f"multiplier@{r}"]
    assert sources(ladder) == []


def test_an_owner_cannot_make_the_bot_fetch_a_host_not_allowed(
    ladder: Ladder, world: World, server: SourceServer
) -> None:
    view = open_connect_data(ladder, user=DEV)
    # A member: their key results and their objectives' only.
    assert kr_options(view) == [str(world.dev_kr), str(world.eve_kr)]
    values = typed(
        view,
        kr=str(world.dev_kr),
        kind="json",
        url=server.url("/users.json"),
        expression="data.active",
    )
    tested = press(ladder, view, SOURCE_TEST_ACTION, values, user=DEV)
    assert "127.0.0.1 is not on this workspace's data source allow-list" in text_of(tested)
    assert server.hits("/users.json") == 0
    answer = ladder.acme.view_submission(tested, user_id=DEV, values=values)
    assert "allow-list" in answer.json()["errors"][f"url@{rev(tested)}"]
    assert sources(ladder) == []
    # Once an admin allows the host, the owner may.
    allow_loopback(ladder)
    answer = ladder.acme.view_submission(tested, user_id=DEV, values=values)
    assert answer.status_code == 200 and len(sources(ladder)) == 1


def test_a_push_token_is_shown_once_and_stored_hashed(ladder: Ladder, world: World) -> None:
    view = open_connect_data(ladder, user=CEO)
    shown = press(
        ladder, view, SOURCE_TOKEN_ACTION, typed(view, kr=str(world.ceo_krs[1])), user=CEO
    )
    token = text_of(shown).split("```")[1]
    assert token.startswith("ldr_")
    with Session(ladder.engine) as session:
        [row] = session.exec(select(PushToken)).all()
    assert row.key_result_id == world.ceo_krs[1] and token not in row.token_hash


def test_a_failing_source_tells_its_owner_once_with_a_fix_button(
    ladder: Ladder, world: World, server: SourceServer
) -> None:
    allow_loopback(ladder)
    server.route("/users.json", Answer(500, b"down"))
    with Session(ladder.engine) as session:
        source_store.save_source(
            session=session,
            workspace_id=ACME,
            key_result_id=world.dev_kr,
            kind="json",
            url=server.url("/users.json"),
            expression="data.active",
            created_by=CEO,
            now=ladder.clock(),
        )
        session.commit()
    slack = WebClient(token=ACME_TOKEN, base_url=ladder.standin.api_url)
    fetcher = Fetcher(FetchPolicy(backoff=0.001), environ={})
    service = SourceService(
        ladder.engine, fetcher=fetcher, clock=ladder.clock, notify=notifier(lambda _ws: slack)
    )
    for _ in range(3):
        service.sync_due()
        ladder.clock.advance(hours=1)
    fetcher.close()
    dms = [c for c in ladder.standin.calls("chat.postMessage") if c.args.get("channel") == DEV]
    assert len(dms) == 1
    posted = dms[0].response["message"]
    assert "could not update" in posted["text"] and "HTTP 500" in posted["text"]

    before = len(ladder.standin.calls("views.open"))
    ladder.acme.block_action(user_id=DEV, action_id=FIX_SOURCE_ACTION, message=posted)
    opened = ladder.standin.wait_for("views.open", count=before + 1)[-1]
    view = opened.response["view"]
    kr_select = next(b for b in view["blocks"] if b.get("block_id", "").startswith("kr@"))
    assert kr_select["element"]["initial_option"]["value"] == str(world.dev_kr)
    assert "failing: the server answered HTTP 500" in str(view["blocks"])


def test_choosing_a_kind_shows_its_fields(ladder: Ladder, world: World) -> None:
    view = open_connect_data(ladder, user=CEO)

    def fields(v: dict[str, Any]) -> list[str]:
        return [b["block_id"].split("@")[0] for b in v["blocks"] if b["type"] == "input"]

    assert fields(view) == ["kr", "kind", "url", "expression", "multiplier", "interval"]
    before = len(ladder.standin.calls("views.update"))
    values = typed(view, kind="csv", url="https://reports.example.com/nps.csv")
    ladder.acme.block_action(
        user_id=CEO, action_id="source_kind", view=view, values=values, selected_option="csv"
    )
    assert ladder.standin.wait_for("views.update", count=before + 1)[-1].ok
    csv_view = current(ladder, view)
    assert fields(csv_view) == ["kr", "kind", "url", "column", "row_key", "multiplier", "interval"]
    url = next(b for b in csv_view["blocks"] if b.get("block_id", "").startswith("url@"))
    assert url["element"]["initial_value"] == "https://reports.example.com/nps.csv"  # kept
