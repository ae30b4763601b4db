"""The Slack stand-in and sender, exercised with the real slack_sdk / slack_bolt clients."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from socketserver import ThreadingMixIn
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
import pytest
from slack_bolt import Ack, App, Respond
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import RateLimitErrorRetryHandler, builtin_handlers
from slack_sdk.models.metadata import Metadata
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from tests.support.blockkit import (
    validate_message,
    validate_options_response,
    validate_submission_response,
    validate_view,
)
from tests.support.slack_sender import SlackSender, state_values
from tests.support.slack_standin import SLACK_TIERS, SlackStandIn

TEAM = "T0LADDER"
TOKEN = "xoxb-ladder-test"
SECRET = "test-signing-secret"
ALICE = "U0ALICE"
BOB = "U0BOB"


class FakeClock:
    """Injectable monotonic clock: tests move time instead of sleeping."""

    def __init__(self, start: float = 10_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def standin(clock: FakeClock) -> Iterator[SlackStandIn]:
    with SlackStandIn(clock=clock) as server:
        server.add_workspace(TEAM, bot_token=TOKEN, team_name="Ladder Test")
        server.add_user(TEAM, ALICE, email="alice@example.com", is_admin=True)
        server.add_user(TEAM, BOB, tz="Europe/Paris", real_name="Bob Martin")
        yield server


@pytest.fixture
def client(standin: SlackStandIn) -> WebClient:
    web = WebClient(base_url=standin.api_url, token=TOKEN)
    web.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=1))
    return web


def refused(call: Callable[[], Any]) -> dict[str, Any]:
    with pytest.raises(SlackApiError) as info:
        call()
    return dict(info.value.response.data)  # type: ignore[arg-type]


def section(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def modal(title: str = "Check-in", **extra: Any) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "checkin",
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Save"},
        "blocks": [
            {
                "type": "input",
                "block_id": "kr",
                "label": {"type": "plain_text", "text": "Current value"},
                "element": {
                    "type": "number_input",
                    "action_id": "value",
                    "is_decimal_allowed": True,
                },
            },
            {
                "type": "input",
                "block_id": "note",
                "optional": True,
                "label": {"type": "plain_text", "text": "Note"},
                "element": {"type": "plain_text_input", "action_id": "text", "initial_value": "-"},
            },
        ],
        **extra,
    }


# ----------------------------------------------------------------------------- Web API


def test_dm_by_user_id_lands_in_a_deterministic_dm_channel(
    standin: SlackStandIn, client: WebClient
) -> None:
    first = client.chat_postMessage(channel=ALICE, text="Weekly check-in")
    second = client.chat_postMessage(channel=ALICE, text="Reminder")
    assert first["channel"] == second["channel"] == "D0ALICE"
    assert first["ts"] == "1700000000.000100"
    assert float(second["ts"]) > float(first["ts"])
    assert first["message"]["user"] == standin.workspace(TEAM).bot_user_id

    # chat.update takes the D… id from the response, not the user id.
    assert refused(lambda: client.chat_update(channel=ALICE, ts=first["ts"], text="x"))[
        "error"
    ] == ("channel_not_found")
    client.chat_update(channel="D0ALICE", ts=first["ts"], text="Edited")
    assert [m["text"] for m in standin.messages("D0ALICE")] == ["Edited", "Reminder"]
    client.chat_delete(channel="D0ALICE", ts=second["ts"])
    assert [m["ts"] for m in standin.messages("D0ALICE")] == [first["ts"]]
    assert standin.last("chat.update").args["text"] == "Edited"

    # A user id from nowhere is not a channel.
    assert refused(lambda: client.chat_postMessage(channel="U0NOBODY", text="x"))["error"] == (
        "channel_not_found"
    )
    assert standin.violations == []


def test_message_with_51_blocks_is_refused(standin: SlackStandIn, client: WebClient) -> None:
    blocks = [section(f"KR {i}") for i in range(51)]
    body = refused(lambda: client.chat_postMessage(channel=ALICE, text="t", blocks=blocks))
    assert body["error"] == "invalid_blocks"
    assert body["errors"] == ["blocks: 51 blocks (max 50 per message)"]
    assert standin.violations == ["chat.postMessage: blocks: 51 blocks (max 50 per message)"]
    client.chat_postMessage(channel=ALICE, text="t", blocks=blocks[:50])


def test_section_text_over_3000_chars_is_refused(standin: SlackStandIn, client: WebClient) -> None:
    body = refused(
        lambda: client.chat_postMessage(channel=ALICE, text="t", blocks=[section("a" * 3001)])
    )
    assert body["errors"] == ["blocks[0].text.text: section text is 3001 characters (max 3000)"]
    assert body["response_metadata"]["messages"][0].startswith("[ERROR] blocks[0].text.text")
    client.chat_postMessage(channel=ALICE, text="t", blocks=[section("a" * 3000)])


def test_blocks_without_text_fallback_are_refused(standin: SlackStandIn, client: WebClient) -> None:
    with pytest.warns(UserWarning, match="text"):  # slack_sdk warns too
        body = refused(lambda: client.chat_postMessage(channel=ALICE, blocks=[section("hi")]))
        empty = refused(lambda: client.chat_postMessage(channel=ALICE))
    assert body["error"] == "invalid_blocks"
    assert body["errors"][0].startswith("text: missing `text` fallback")
    assert empty["error"] == "no_text"


def test_form_encoded_bodies_are_decoded_like_slack(
    standin: SlackStandIn, client: WebClient
) -> None:
    blocks = [section("from a form body")]
    resp = client.api_call(
        "chat.postMessage",
        params={"channel": "C0TEAM", "text": "fallback", "blocks": json.dumps(blocks)},
    )
    assert resp["message"]["blocks"][0]["text"]["text"] == "from a form body"
    assert standin.last("chat.postMessage").args["blocks"] == blocks
    bad = {"channel": "C0TEAM", "text": "x", "blocks": "[not json"}
    assert refused(lambda: client.api_call("chat.postMessage", params=bad))["error"] == (
        "invalid_blocks_format"
    )


def test_modal_title_over_24_chars_is_refused(standin: SlackStandIn, client: WebClient) -> None:
    trigger = standin.issue_trigger_id(TEAM, user_id=ALICE)
    body = refused(lambda: client.views_open(trigger_id=trigger, view=modal("x" * 25)))
    assert body["error"] == "invalid_arguments"
    assert body["response_metadata"]["messages"] == [
        "[ERROR] title.text: modal title is 25 characters (max 24)"
    ]
    assert standin.violations == ["views.open: title.text: modal title is 25 characters (max 24)"]
    # A refused view does not burn the trigger.
    opened = client.views_open(trigger_id=trigger, view=modal("x" * 24))
    assert opened["view"]["id"].startswith("V")


def _issue_then_advance(standin: SlackStandIn, clock: FakeClock, seconds: float) -> str:
    trigger = standin.issue_trigger_id(TEAM, user_id=ALICE)
    clock.advance(seconds)
    return trigger


@pytest.mark.parametrize(
    ("setup", "error"),
    [
        (
            lambda s, c: s.issue_trigger_id(TEAM, user_id=ALICE, age_seconds=3.1),
            "expired_trigger_id",
        ),
        (lambda s, c: _issue_then_advance(s, c, 3.01), "expired_trigger_id"),
        (lambda s, c: "1234.5678.deadbeef", "invalid_trigger_id"),
    ],
    ids=["age_3.1s", "clock_moved_3.01s", "unknown"],
)
def test_unusable_trigger_ids_are_refused(
    standin: SlackStandIn,
    client: WebClient,
    clock: FakeClock,
    setup: Callable[[SlackStandIn, FakeClock], str],
    error: str,
) -> None:
    trigger = setup(standin, clock)
    assert refused(lambda: client.views_open(trigger_id=trigger, view=modal()))["error"] == error


def test_trigger_id_works_once_and_within_3_seconds(
    standin: SlackStandIn, client: WebClient, clock: FakeClock
) -> None:
    trigger = standin.issue_trigger_id(TEAM, user_id=ALICE, age_seconds=2.9)
    client.views_open(trigger_id=trigger, view=modal())
    assert refused(lambda: client.views_open(trigger_id=trigger, view=modal()))["error"] == (
        "exchanged_trigger_id"
    )
    other_team = standin.issue_trigger_id("T0OTHER")
    assert refused(lambda: client.views_open(trigger_id=other_team, view=modal()))["error"] == (
        "invalid_trigger_id"
    )


def test_view_stack_holds_three_views(standin: SlackStandIn, client: WebClient) -> None:
    root = client.views_open(
        trigger_id=standin.issue_trigger_id(TEAM, user_id=ALICE), view=modal()
    )["view"]
    pushed = []
    for _ in range(2):
        trigger = standin.issue_trigger_id(TEAM, user_id=ALICE, view_id=root["id"])
        pushed.append(client.views_push(trigger_id=trigger, view=modal("Next"))["view"])
    assert pushed[0]["previous_view_id"] == root["id"]
    assert pushed[1]["root_view_id"] == root["id"]
    trigger = standin.issue_trigger_id(TEAM, user_id=ALICE, view_id=root["id"])
    assert refused(lambda: client.views_push(trigger_id=trigger, view=modal()))["error"] == (
        "push_limit_reached"
    )
    assert [v["id"] for v in standin.view_stack(TEAM, ALICE)] == [
        root["id"],
        pushed[0]["id"],
        pushed[1]["id"],
    ]


def test_views_update_by_id_or_external_id_with_hash_check(
    standin: SlackStandIn, client: WebClient
) -> None:
    trigger = standin.issue_trigger_id(TEAM, user_id=ALICE)
    view = client.views_open(trigger_id=trigger, view=modal(external_id="checkin-1"))["view"]
    updated = client.views_update(view_id=view["id"], hash=view["hash"], view=modal("Saved"))
    assert updated["view"]["id"] == view["id"]
    assert updated["view"]["hash"] != view["hash"]
    stale = refused(
        lambda: client.views_update(view_id=view["id"], hash=view["hash"], view=modal())
    )
    assert stale["error"] == "hash_conflict"
    by_external = client.views_update(external_id="checkin-1", view=modal("Again"))
    assert by_external["view"]["title"]["text"] == "Again"
    assert (
        refused(lambda: client.views_update(view_id="V404", view=modal()))["error"] == "not_found"
    )
    # A home view cannot be opened as a modal.
    home = {"type": "home", "blocks": [section("Your OKRs")]}
    trigger = standin.issue_trigger_id(TEAM, user_id=ALICE)
    assert refused(lambda: client.views_open(trigger_id=trigger, view=home))["error"] == (
        "invalid_arguments"
    )


def test_views_publish_keeps_one_home_per_user(standin: SlackStandIn, client: WebClient) -> None:
    home = {"type": "home", "blocks": [section("Your OKRs")]}
    first = client.views_publish(user_id=ALICE, view=home)["view"]
    second = client.views_publish(user_id=ALICE, view=home, hash=first["hash"])["view"]
    assert first["id"] == second["id"]
    assert standin.home_view(TEAM, ALICE)["hash"] == second["hash"]  # type: ignore[index]
    too_many = {"type": "home", "blocks": [section(str(i)) for i in range(101)]}
    assert refused(lambda: client.views_publish(user_id=ALICE, view=too_many))["error"] == (
        "invalid_arguments"
    )


def test_identity_methods_answer_with_slack_shapes(
    standin: SlackStandIn, client: WebClient
) -> None:
    auth = client.auth_test()
    assert (auth["team_id"], auth["user_id"], auth["bot_id"]) == (
        TEAM,
        standin.workspace(TEAM).bot_user_id,
        standin.workspace(TEAM).bot_id,
    )
    assert client.team_info()["team"]["name"] == "Ladder Test"
    alice = client.users_info(user=ALICE)["user"]
    assert (alice["tz"], alice["is_admin"], alice["deleted"]) == ("America/New_York", True, False)
    assert isinstance(alice["tz_offset"], int)
    bob = client.users_info(user=BOB)["user"]
    assert (bob["tz"], bob["real_name"]) == ("Europe/Paris", "Bob Martin")
    found = client.users_lookupByEmail(email="ALICE@example.com")["user"]
    assert found["id"] == ALICE
    assert refused(lambda: client.users_lookupByEmail(email="x@y.z"))["error"] == (
        "users_not_found"
    )
    assert refused(lambda: client.users_info(user="U0NOBODY"))["error"] == "user_not_found"
    opened = client.conversations_open(users=ALICE)
    assert opened["channel"]["id"] == "D0ALICE"

    standin.set_user(BOB, deleted=True)
    gone = client.users_info(user=BOB)["user"]
    assert gone["deleted"] is True and "tz" not in gone
    assert refused(lambda: client.conversations_open(users=BOB))["error"] == "user_disabled"


# ------------------------------------------------------------------ users.list


def test_users_list_pages_through_the_callers_workspace_only(
    standin: SlackStandIn, client: WebClient
) -> None:
    standin.add_user(TEAM, "U0GONE", deleted=True, tz="Asia/Tokyo")
    standin.add_user(TEAM, "U0HELPER", is_bot=True)
    standin.add_workspace("T0OTHER", bot_token="xoxb-other")
    standin.add_user("T0OTHER", "U0STRANGER")
    bot = standin.workspace(TEAM).bot_user_id
    expected = [bot, ALICE, BOB, "U0GONE", "U0HELPER"]

    everything = client.users_list()  # no limit: the whole set, as Slack documents
    assert [m["id"] for m in everything["members"]] == expected
    assert everything["response_metadata"]["next_cursor"] == ""
    assert isinstance(everything["cache_ts"], int)

    first = client.users_list(limit=2)
    assert [m["id"] for m in first["members"]] == [bot, ALICE]
    assert first["response_metadata"]["next_cursor"] != ""
    # slack_sdk follows next_cursor itself when a response is iterated.
    pages = [[m["id"] for m in page["members"]] for page in client.users_list(limit=2)]
    assert pages == [[bot, ALICE], [BOB, "U0GONE"], ["U0HELPER"]]
    walk = standin.calls("users.list")[-3:]
    assert [c.args.get("cursor") for c in walk] == [
        None,
        walk[0].response["response_metadata"]["next_cursor"],
        walk[1].response["response_metadata"]["next_cursor"],
    ]

    members = {m["id"]: m for m in everything["members"]}
    alice, bob = members[ALICE], members[BOB]
    assert (alice["tz"], alice["is_bot"], alice["deleted"]) == ("America/New_York", False, False)
    assert (bob["tz"], isinstance(bob["tz_offset"], int)) == ("Europe/Paris", True)
    assert "locale" not in alice
    assert client.users_list(include_locale=True)["members"][1]["locale"] == "en-US"
    gone = members["U0GONE"]
    assert gone["deleted"] is True and "tz" not in gone  # like users.info
    assert members["U0HELPER"]["is_bot"] is True and members[bot]["is_bot"] is True

    other = WebClient(base_url=standin.api_url, token="xoxb-other").users_list()
    other_bot = standin.workspace("T0OTHER").bot_user_id
    assert [m["id"] for m in other["members"]] == [other_bot, "U0STRANGER"]
    assert standin.violations == []


def test_users_list_refuses_foreign_cursors_and_caps_the_limit(
    standin: SlackStandIn, client: WebClient
) -> None:
    standin.add_workspace("T0OTHER", bot_token="xoxb-other")
    standin.add_user("T0OTHER", "U0STRANGER")
    foreign = WebClient(base_url=standin.api_url, token="xoxb-other").users_list(limit=1)
    foreign_cursor = foreign["response_metadata"]["next_cursor"]  # points at U0STRANGER
    for cursor in ("not-a-cursor", "dXNlcjpVMDYxTkZUVDI=", foreign_cursor):
        assert refused(lambda c=cursor: client.users_list(cursor=c))["error"] == "invalid_cursor"
    assert refused(lambda: client.users_list(limit=-1))["error"] == "invalid_arguments"

    for i in range(1100):
        standin.add_user(TEAM, f"U0MANY{i:04d}", tz="UTC", tz_offset=0, tz_label="UTC")
    capped = client.users_list(limit=5000)
    assert len(capped["members"]) == 1000
    rest = client.users_list(limit=5000, cursor=capped["response_metadata"]["next_cursor"])
    assert len(rest["members"]) == 1100 + 3 - 1000
    assert rest["response_metadata"]["next_cursor"] == ""


def test_users_list_and_history_have_slack_tiers(standin: SlackStandIn, clock: FakeClock) -> None:
    assert (SLACK_TIERS["users.list"], SLACK_TIERS["conversations.history"]) == (2, 3)
    standin.apply_slack_tiers()
    web = WebClient(base_url=standin.api_url, token=TOKEN)  # no retry handler
    for _ in range(20):  # Tier 2: 20 a minute
        web.users_list(limit=1)
    with pytest.raises(SlackApiError) as info:
        web.users_list(limit=1)
    assert info.value.response.status_code == 429
    assert info.value.response.headers["Retry-After"] == "3"
    clock.advance(3.0)
    web.users_list(limit=1)


# ------------------------------------------------------------------ metadata and history


def meta(event_type: str = "checkin_prompt", **payload: Any) -> dict[str, Any]:
    return {"event_type": event_type, "event_payload": payload}


def test_metadata_is_stored_with_the_message(standin: SlackStandIn, client: WebClient) -> None:
    posted = client.chat_postMessage(channel=ALICE, text="hi", metadata=meta(outbox_id=7))
    assert posted["message"]["metadata"] == meta(outbox_id=7)
    assert standin.message("D0ALICE", posted["ts"])["metadata"] == meta(outbox_id=7)  # type: ignore[index]

    # slack_sdk's Metadata object, and a form body carrying it as a JSON string.
    obj = client.chat_postMessage(
        channel=ALICE, text="obj", metadata=Metadata("kr_update", {"kr": 3})
    )
    assert obj["message"]["metadata"] == meta("kr_update", kr=3)
    form = client.api_call(
        "chat.postMessage",
        params={"channel": "C0TEAM", "text": "f", "metadata": json.dumps(meta(n=1))},
    )
    assert standin.message("C0TEAM", form["ts"])["metadata"] == meta(n=1)  # type: ignore[index]
    plain = client.chat_postMessage(channel=ALICE, text="no metadata")
    assert "metadata" not in plain["message"]


@pytest.mark.parametrize(
    "metadata",
    [
        {"event_payload": {"a": 1}},  # no event_type
        {"event_type": "", "event_payload": {}},
        {"event_type": 5, "event_payload": {}},
        {"event_type": "x"},  # no event_payload
        {"event_type": "x", "event_payload": [1, 2]},
        {"event_type": "x", "event_payload": "{}"},
        ["event_type", "x"],
        "not json",
    ],
)
def test_malformed_metadata_is_refused(
    standin: SlackStandIn, client: WebClient, metadata: Any
) -> None:
    body = refused(lambda: client.chat_postMessage(channel=ALICE, text="t", metadata=metadata))
    assert body["error"] == "invalid_metadata_format"
    form = {"channel": ALICE, "text": "t", "metadata": json.dumps(metadata)}
    if isinstance(metadata, str):
        form["metadata"] = metadata  # undecodable in a form body
    assert refused(lambda: client.api_call("chat.postMessage", params=form))["error"] == (
        "invalid_metadata_format"
    )
    assert standin.messages("D0ALICE") == []


def test_history_is_newest_first_with_time_bounds_and_cursor(
    standin: SlackStandIn, client: WebClient
) -> None:
    ts = [client.chat_postMessage(channel=ALICE, text=f"m{i}")["ts"] for i in range(5)]

    history = client.conversations_history(channel="D0ALICE")
    assert [m["ts"] for m in history["messages"]] == ts[::-1]
    assert history["has_more"] is False
    assert history["response_metadata"]["next_cursor"] == ""
    first = history["messages"][0]
    assert (first["text"], first["user"], first["bot_id"], first["type"]) == (
        "m4",
        standin.workspace(TEAM).bot_user_id,
        standin.workspace(TEAM).bot_id,
        "message",
    )

    def texts(**kwargs: Any) -> list[str]:
        history = client.conversations_history(channel="D0ALICE", **kwargs)
        return [m["text"] for m in history["messages"]]

    assert texts(oldest=ts[1], latest=ts[3]) == ["m2"]  # both bounds exclusive by default
    assert texts(oldest=ts[1], latest=ts[3], inclusive=True) == ["m3", "m2", "m1"]
    assert texts(oldest=ts[3]) == ["m4"]
    assert texts(latest=ts[1], inclusive=True) == ["m1", "m0"]
    assert texts(oldest="0") == ["m4", "m3", "m2", "m1", "m0"]

    page = client.conversations_history(channel="D0ALICE", limit=2)
    assert [m["text"] for m in page["messages"]] == ["m4", "m3"]
    assert page["has_more"] is True
    cursor = page["response_metadata"]["next_cursor"]
    assert cursor
    # A message posted meanwhile does not shift the pages already handed out.
    client.chat_postMessage(channel=ALICE, text="m5")
    second = client.conversations_history(channel="D0ALICE", limit=2, cursor=cursor)
    assert [m["text"] for m in second["messages"]] == ["m2", "m1"]
    pages = [
        [m["text"] for m in p["messages"]]
        for p in client.conversations_history(channel="D0ALICE", limit=2, oldest=ts[0])
    ]
    assert pages == [["m5", "m4"], ["m3", "m2"], ["m1"]]

    client.chat_delete(channel="D0ALICE", ts=ts[4])
    assert texts(limit=1) == ["m5"]
    assert texts(latest=ts[4]) == ["m3", "m2", "m1", "m0"]
    assert standin.violations == []


def test_history_includes_metadata_only_when_asked(
    standin: SlackStandIn, client: WebClient
) -> None:
    client.chat_postMessage(channel=ALICE, text="with", metadata=meta(outbox_id=42))
    client.chat_postMessage(channel=ALICE, text="without")
    plain = client.conversations_history(channel="D0ALICE")["messages"]
    assert [("metadata" in m) for m in plain] == [False, False]
    full = client.conversations_history(channel="D0ALICE", include_all_metadata=True)
    assert [m.get("metadata") for m in full["messages"]] == [None, meta(outbox_id=42)]
    # The stored message keeps its metadata either way.
    assert standin.messages("D0ALICE")[0]["metadata"] == meta(outbox_id=42)


def test_history_knows_only_channels_it_has_seen(standin: SlackStandIn, client: WebClient) -> None:
    standin.add_workspace("T0OTHER", bot_token="xoxb-other")
    standin.add_user("T0OTHER", "U0STRANGER")
    other = WebClient(base_url=standin.api_url, token="xoxb-other")
    other.chat_postMessage(channel="U0STRANGER", text="elsewhere")
    other.chat_postMessage(channel="C0THEIRS", text="elsewhere")
    standin.add_channel(TEAM, "C0PRIVATE", is_member=False)
    standin.add_channel(TEAM, "C0OLD", is_archived=True)

    def error(channel: str) -> str:
        return refused(lambda: client.conversations_history(channel=channel))["error"]

    assert error("D0ALICE") == "channel_not_found"  # never opened
    assert error("C0NEVER") == "channel_not_found"
    assert error(ALICE) == "channel_not_found"  # a user id is not a conversation
    assert error("D0STRANGER") == "channel_not_found"  # another workspace's DM
    assert error("C0THEIRS") == "channel_not_found"
    assert error("C0PRIVATE") == "not_in_channel"
    assert refused(lambda: client.api_call("conversations.history"))["error"] == (
        "channel_not_found"
    )

    assert client.conversations_history(channel="C0OLD")["messages"] == []  # archived: readable
    assert client.conversations_open(users=BOB)["channel"]["id"] == "D0BOB"
    assert client.conversations_history(channel="D0BOB")["messages"] == []
    client.chat_postMessage(channel="C0TEAM", text="unregistered but posted to")
    assert [m["text"] for m in client.conversations_history(channel="C0TEAM")["messages"]] == [
        "unregistered but posted to"
    ]
    assert error("C0THEIRS") == "channel_not_found"


def test_history_refuses_bad_bounds_cursors_and_json_bodies(
    standin: SlackStandIn, client: WebClient
) -> None:
    client.chat_postMessage(channel=ALICE, text="x")

    def error(**kwargs: Any) -> str:
        return refused(lambda: client.conversations_history(channel="D0ALICE", **kwargs))["error"]

    assert error(oldest="yesterday") == "invalid_ts_oldest"
    assert error(latest="nan") == "invalid_ts_latest"
    assert error(cursor="garbage!") == "invalid_cursor"
    assert error(cursor="dXNlcjpVMDYxTkZUVDI=") == "invalid_cursor"  # a users.list cursor
    assert error(limit="many") == "invalid_arguments"
    assert len(client.conversations_history(channel="D0ALICE", limit=5000)["messages"]) == 1

    # Slack ignores a JSON body on this method: the channel never arrives.
    body = refused(lambda: client.api_call("conversations.history", json={"channel": "D0ALICE"}))
    assert body["error"] == "channel_not_found"
    assert standin.violations == [
        "conversations.history: does not accept application/json; Slack ignores the body "
        "arguments ['channel'] (send them as query or form arguments)"
    ]


def test_history_shows_user_messages_and_thread_parents(
    standin: SlackStandIn, client: WebClient
) -> None:
    prompt = client.chat_postMessage(channel=ALICE, text="How is KR 1 going?")["ts"]
    reply = standin.add_message(TEAM, ALICE, user=ALICE, text="Done!", thread_ts=prompt)
    answer = standin.add_message(TEAM, "D0ALICE", user=ALICE, text="Also, hi")
    assert reply["thread_ts"] == prompt and answer["ts"] > prompt

    messages = client.conversations_history(channel="D0ALICE")["messages"]
    assert [m["text"] for m in messages] == ["Also, hi", "How is KR 1 going?"]  # no replies
    human, parent = messages
    assert human["user"] == ALICE and "bot_id" not in human
    assert (parent["thread_ts"], parent["reply_count"], parent["reply_users"]) == (
        prompt,
        1,
        [ALICE],
    )
    assert parent["latest_reply"] == reply["ts"]
    assert "reply_count" not in standin.message("D0ALICE", prompt)  # type: ignore[operator]


def test_chat_update_on_a_dm_keeps_replaces_or_removes_metadata(
    standin: SlackStandIn, client: WebClient
) -> None:
    posted = client.chat_postMessage(
        channel=ALICE, text="v1", blocks=[section("v1")], metadata=meta(outbox_id=1)
    )
    channel, ts = posted["channel"], posted["ts"]
    assert channel == "D0ALICE"

    def stored() -> dict[str, Any]:
        history = client.conversations_history(channel=channel, include_all_metadata=True)
        (message,) = history["messages"]
        return message

    kept = client.chat_update(channel=channel, ts=ts, text="v2", blocks=[section("v2")])
    assert kept["message"]["metadata"] == meta(outbox_id=1)
    assert (stored()["text"], stored()["metadata"]) == ("v2", meta(outbox_id=1))
    assert stored()["blocks"][0]["text"]["text"] == "v2"
    assert stored()["ts"] == ts and "edited" in stored()

    client.chat_update(channel=channel, ts=ts, text="v3", metadata=meta("answered", kr=2))
    assert stored()["metadata"] == meta("answered", kr=2)
    assert stored()["blocks"][0]["text"]["text"] == "v2"  # omitted blocks are kept

    form = {"channel": channel, "ts": ts, "text": "v4", "metadata": json.dumps(meta(n=4))}
    client.api_call("chat.update", params=form)
    assert stored()["metadata"] == meta(n=4)

    bad = refused(
        lambda: client.chat_update(channel=channel, ts=ts, text="v5", metadata={"event_type": 1})
    )
    assert bad["error"] == "invalid_metadata_format"
    assert stored()["text"] == "v4"

    client.chat_update(channel=channel, ts=ts, text="v6", metadata={})
    assert "metadata" not in stored()
    assert stored()["text"] == "v6"
    assert refused(lambda: client.chat_update(channel=ALICE, ts=ts, text="x"))["error"] == (
        "channel_not_found"
    )
    assert refused(lambda: client.chat_update(channel=channel, ts="1.000000", text="x"))[
        "error"
    ] == ("message_not_found")
    assert standin.violations == []


def test_tokens_unknown_missing_and_revoked(standin: SlackStandIn) -> None:
    def error_for(token: str | None) -> str:
        web = WebClient(base_url=standin.api_url, token=token)
        return refused(web.auth_test)["error"]

    assert error_for("xoxb-unknown") == "invalid_auth"
    assert error_for(None) == "not_authed"
    standin.revoke(TOKEN)
    assert error_for(TOKEN) == "token_revoked"
    standin.revoke(TOKEN, error="account_inactive")
    assert error_for(TOKEN) == "account_inactive"
    assert [c.team_id for c in standin.calls("auth.test")] == [None, None, TEAM, TEAM]


def test_unknown_method_and_injected_failures(standin: SlackStandIn, client: WebClient) -> None:
    assert refused(lambda: client.api_call("pins.list"))["error"] == "unknown_method"
    standin.fail_next("users.info", status=500)
    with pytest.raises(SlackApiError) as info:
        client.users_info(user=ALICE)
    assert info.value.response.status_code == 500
    standin.fail_next("users.info", error="fatal_error", times=2)
    assert refused(lambda: client.users_info(user=ALICE))["error"] == "fatal_error"
    assert refused(lambda: client.users_info(user=ALICE))["error"] == "fatal_error"
    assert client.users_info(user=ALICE)["ok"]


def test_a_request_cut_off_mid_body_is_never_acted_on(
    standin: SlackStandIn, client: WebClient
) -> None:
    # A sender killed while writing its body: Slack sees a short read and drops it.
    body = json.dumps({"channel": ALICE, "text": "half a message"}).encode()
    head = (
        "POST /api/chat.postMessage HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    host, port = httpx.URL(standin.api_url).host, httpx.URL(standin.api_url).port
    with socket.create_connection((host, port)) as sock:
        sock.sendall(head + body[: len(body) // 2])
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(1024) == b""  # closed without an answer
    assert standin.calls("chat.postMessage") == []
    # The whole request still goes through.
    assert client.chat_postMessage(channel=ALICE, text="whole")["ok"]
    assert [c.args["text"] for c in standin.calls("chat.postMessage")] == ["whole"]


def test_429_retry_after_is_consumed_by_the_retry_handler(
    standin: SlackStandIn, client: WebClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []
    # The handler sleeps Retry-After + jitter; record the wait instead of sleeping.
    monkeypatch.setattr(builtin_handlers, "time", SimpleNamespace(sleep=waits.append))
    standin.rate_limit_next("chat.postMessage", retry_after=1)

    assert client.chat_postMessage(channel=ALICE, text="hi")["ok"]

    calls = standin.calls("chat.postMessage")
    assert [(c.status, c.error) for c in calls] == [(429, "ratelimited"), (200, None)]
    assert len(waits) == 1 and 1 <= waits[0] < 2
    assert standin.ratelimited_count("chat.postMessage") == 1
    assert len(standin.messages("D0ALICE")) == 1


def test_ceiling_answers_429_with_a_sufficient_retry_after(
    standin: SlackStandIn, clock: FakeClock
) -> None:
    standin.set_ceiling("chat.postMessage", per_second=None, per_channel_per_second=1.0)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    url = standin.api_url + "chat.postMessage"

    def post(channel: str) -> httpx.Response:
        return httpx.post(url, headers=headers, json={"channel": channel, "text": "x"})

    assert post("C0ONE").json()["ok"]
    limited = post("C0ONE")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "1"
    assert limited.json() == {"ok": False, "error": "ratelimited"}
    assert post("C0TWO").json()["ok"]  # another channel has its own bucket
    clock.advance(1.0)
    assert post("C0ONE").json()["ok"]

    standin.set_ceiling("views.publish", per_second=0.5, per_channel_per_second=None, burst=1)
    web = WebClient(base_url=standin.api_url, token=TOKEN)  # no retry handler
    home = {"type": "home", "blocks": [section("x")]}
    web.views_publish(user_id=ALICE, view=home)
    with pytest.raises(SlackApiError) as info:
        web.views_publish(user_id=ALICE, view=home)
    assert info.value.response.status_code == 429
    assert info.value.response.headers["Retry-After"] == "2"
    clock.advance(2.0)
    web.views_publish(user_id=ALICE, view=home)
    assert standin.ratelimited_count() == 2


class _RecordedWaits:
    """The stand-in's stop event, recording how long each wait on it was asked to last."""

    def __init__(self, event: threading.Event) -> None:
        self.event, self.waits = event, []  # type: ignore[var-annotated]

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout)
        return self.event.wait(timeout)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.event, name)


def test_latency_is_added_without_busy_waiting(
    standin: SlackStandIn, client: WebClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What is checked is what the stand-in asked for (a wait on an event, only for the method
    # given a latency), not wall-clock time, which a busy machine stretches.
    waits = _RecordedWaits(standin._stop)
    monkeypatch.setattr(standin, "_stop", waits)
    standin.set_latency("auth.test", 0.05)
    client.auth_test()
    assert waits.waits == [0.05]
    client.team_info()
    assert waits.waits == [0.05]  # no latency for other methods


@pytest.mark.wallclock
def test_latency_is_felt_by_the_client(standin: SlackStandIn, client: WebClient) -> None:
    # The wait above really waits: measured on the clock, so out of the default run.
    standin.set_latency("auth.test", 0.05)
    started = time.perf_counter()
    client.auth_test()
    assert time.perf_counter() - started >= 0.05


def test_response_url_accepts_five_posts_then_refuses(
    standin: SlackStandIn, clock: FakeClock
) -> None:
    url = standin.new_response_url(TEAM, channel_id="C0TEAM", user_id=ALICE)
    webhook = WebhookClient(url)  # what Bolt's respond() uses
    for i in range(5):
        assert webhook.send(text=f"update {i}", response_type="ephemeral").status_code == 200
    sixth = webhook.send(text="one too many")
    assert (sixth.status_code, json.loads(sixth.body)["error"]) == (404, "used_url")
    assert [r.text for r in standin.responses] == [f"update {i}" for i in range(5)]

    late = standin.new_response_url(TEAM)
    clock.advance(30 * 60 + 1)
    assert json.loads(WebhookClient(late).send(text="late").body)["error"] == "expired_url"

    fresh = WebhookClient(standin.new_response_url(TEAM))
    bad = fresh.send(text="t", blocks=[section("a" * 3001)])
    assert (bad.status_code, json.loads(bad.body)["error"]) == (400, "invalid_blocks")
    assert standin.violations == [
        "response_url: blocks[0].text.text: section text is 3001 characters (max 3000)"
    ]


def test_response_url_replace_and_delete_original(standin: SlackStandIn, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="C0TEAM", text="Pending", blocks=[section("Pending")])
    url = standin.new_response_url(TEAM, channel_id="C0TEAM", message_ts=posted["ts"])
    WebhookClient(url).send(text="Done", blocks=[section("Done")], replace_original=True)
    assert standin.message("C0TEAM", posted["ts"])["text"] == "Done"  # type: ignore[index]
    WebhookClient(url).send(delete_original=True)
    assert standin.message("C0TEAM", posted["ts"]) is None
    assert [r.delete_original for r in standin.responses] == [False, True]


def test_files_upload_v2_records_the_content(standin: SlackStandIn, client: WebClient) -> None:
    done = client.files_upload_v2(
        content="objective,progress\nShip,0.7\n", filename="okrs.csv", channel="C0TEAM"
    )
    stored = standin.files[done["file"]["id"]]
    assert stored.content == b"objective,progress\nShip,0.7\n"
    assert (stored.filename, stored.channel_id, stored.completed) == ("okrs.csv", "C0TEAM", True)
    assert [c.method for c in standin.calls()] == [
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]


def test_wait_for_sees_calls_from_other_threads_and_explains_timeouts(
    standin: SlackStandIn, client: WebClient
) -> None:
    worker = threading.Thread(target=lambda: client.chat_postMessage(channel=BOB, text="ping"))
    worker.start()
    [call] = standin.wait_for("chat.postMessage", predicate=lambda c: c.args["channel"] == BOB)
    worker.join()
    assert call.response["channel"] == "D0BOB"
    with pytest.raises(AssertionError, match=r"(?s)waiting for 2 x chat.postMessage; got 1.*U0BOB"):
        standin.wait_for("chat.postMessage", count=2, timeout=0.01)
    standin.reset()
    assert standin.calls() == []


# --------------------------------------------------------------------------- Block Kit


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ({"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}, "header text"),
        (
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11},
            "11 elements (max 10 in context)",
        ),
        (
            {
                "type": "actions",
                "elements": [
                    {"type": "overflow", "action_id": "o", "options": [_opt := {
                        "text": {"type": "plain_text", "text": "o"}, "value": "v"}] * 6}
                ],
            },
            "overflow has 6 options (must be 1-5)",
        ),
        (
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "pick"},
                "accessory": {
                    "type": "static_select",
                    "action_id": "s",
                    "options": [{"text": {"type": "plain_text", "text": "t" * 76}, "value": "v"}],
                },
            },
            "option text is 76 characters (max 75)",
        ),
        (
            {
                "type": "input",
                "label": {"type": "plain_text", "text": "n"},
                "element": {"type": "number_input", "action_id": "n", "is_decimal_allowed": False,
                            "min_value": 0},
            },
            "must be a string",
        ),
        (
            {"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11},
            "11 fields (max 10)",
        ),
        ({"type": "section", "text": {"type": "mrkdwn", "text": "x"}, "colour": "red"}, "colour"),
    ],
    ids=["header", "context", "overflow", "option", "number_input", "fields", "schema_extra_key"],
)  # fmt: skip
def test_block_limits(block: dict[str, Any], expected: str) -> None:
    errors = validate_message({"text": "t", "blocks": [block]})
    assert len(errors) == 1 and expected in errors[0], errors


def test_ids_must_be_unique_and_views_bounded() -> None:
    button = {"type": "button", "text": {"type": "plain_text", "text": "Go"}, "action_id": "go"}
    blocks = [
        {"type": "actions", "block_id": "a", "elements": [button]},
        {"type": "actions", "block_id": "a", "elements": [button]},
    ]
    assert validate_message({"text": "t", "blocks": blocks}) == [
        "blocks[1].block_id: duplicate block_id 'a' (also at blocks[0].block_id)",
        "blocks[1].elements[0].action_id: duplicate action_id 'go' "
        "(also at blocks[0].elements[0].action_id)",
    ]
    view = modal(private_metadata="m" * 3001, callback_id="c" * 256)
    assert validate_view(view) == [
        "private_metadata: private_metadata is 3001 characters (max 3000)",
        "callback_id: callback_id is 256 characters (max 255)",
    ]
    big = {"type": "home", "blocks": [section("x" * 2900, block_id=str(i)) for i in range(90)]}
    assert any("bytes (max 250000)" in e for e in validate_view(big))
    no_submit = modal()
    del no_submit["submit"]
    assert validate_view(no_submit) == ["submit: a modal with input blocks needs a submit button"]
    assert validate_view(modal()) == []


def test_answers_to_submissions_and_options_are_checked() -> None:
    view = modal()
    assert (
        validate_submission_response({"response_action": "errors", "errors": {"kr": "!"}}, view)
        == []
    )
    assert validate_submission_response(
        {"response_action": "errors", "errors": {"x": "!"}}, view
    ) == ["errors.x: is not the block_id of an input block"]
    bad_update = {"response_action": "update", "view": modal("t" * 30)}
    assert validate_submission_response(bad_update, view) == [
        "view.title.text: modal title is 30 characters (max 24)"
    ]
    options = [
        {"text": {"type": "plain_text", "text": str(i)}, "value": str(i)} for i in range(101)
    ]
    assert validate_options_response({"options": options}) == ["options: 101 options (max 100)"]


# ------------------------------------------------------------------------------ sender


@pytest.fixture
def captured() -> list[httpx.Request]:
    return []


@pytest.fixture
def sender(standin: SlackStandIn, captured: list[httpx.Request]) -> Iterator[SlackSender]:
    def app(request: httpx.Request) -> httpx.Response:
        captured.append(request)
        return httpx.Response(200)

    transport = httpx.Client(transport=httpx.MockTransport(app))
    with SlackSender(
        "http://app.test/slack/events", SECRET, standin, team_id=TEAM, client=transport
    ) as s:
        yield s
    transport.close()


def verify(request: httpx.Request) -> bool:
    return SignatureVerifier(SECRET).is_valid(
        body=request.content,
        timestamp=request.headers.get("X-Slack-Request-Timestamp"),
        signature=request.headers.get("X-Slack-Signature"),
    )


def test_sender_signatures_verify_with_slack_sdk(
    sender: SlackSender, captured: list[httpx.Request]
) -> None:
    sender.slash_command("list", user_id=ALICE)
    sender.event({"type": "app_mention", "user": ALICE, "text": "<@U0BOT> hi", "channel": "C1"})
    sender.url_verification("challenge-1")
    assert all(verify(r) for r in captured)

    sender.slash_command("list", user_id=ALICE, sign=False)
    sender.slash_command("list", user_id=ALICE, tamper=lambda b: b.replace("list", "delete"))
    sender.slash_command("list", user_id=ALICE, timestamp=int(time.time()) - 6 * 60)
    assert [verify(r) for r in captured[3:]] == [False, False, False]


def test_slash_command_carries_every_field_slack_sends(
    standin: SlackStandIn, sender: SlackSender, captured: list[httpx.Request], client: WebClient
) -> None:
    sender.slash_command("checkin Ship v2", user_id=ALICE, channel_id="C0TEAM")
    fields = dict(parse_qsl(captured[0].content.decode()))
    assert captured[0].headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert set(fields) == {
        "token", "team_id", "team_domain", "channel_id", "channel_name", "user_id", "user_name",
        "command", "text", "api_app_id", "is_enterprise_install", "response_url", "trigger_id",
    }  # fmt: skip
    assert (fields["command"], fields["text"], fields["user_id"]) == (
        "/okr",
        "checkin Ship v2",
        ALICE,
    )
    assert fields["trigger_id"] == sender.last_trigger_id
    assert fields["response_url"] == sender.last_response_url
    # Both are live in the stand-in.
    client.views_open(trigger_id=fields["trigger_id"], view=modal())
    assert WebhookClient(fields["response_url"]).send(text="ok").status_code == 200


def test_interaction_payloads_have_slack_shapes(
    standin: SlackStandIn, sender: SlackSender, captured: list[httpx.Request], client: WebClient
) -> None:
    def payload(i: int) -> dict[str, Any]:
        return json.loads(dict(parse_qsl(captured[i].content.decode()))["payload"])

    button = {
        "type": "button",
        "text": {"type": "plain_text", "text": "Done"},
        "action_id": "done",
        "value": "kr-7",
    }
    posted = client.chat_postMessage(
        channel=ALICE,
        text="KR",
        blocks=[{"type": "actions", "block_id": "kr", "elements": [button]}],
    )
    sender.block_action(user_id=ALICE, action_id="done", message=posted["message"])
    p = payload(0)
    assert p["type"] == "block_actions"
    assert p["container"] == {
        "type": "message",
        "message_ts": posted["ts"],
        "channel_id": "D0ALICE",
        "is_ephemeral": False,
    }
    assert p["actions"][0] | {"action_ts": None} == {
        "type": "button", "action_id": "done", "block_id": "kr", "text": button["text"],
        "value": "kr-7", "action_ts": None,
    }  # fmt: skip
    assert p["response_url"] == sender.last_response_url and p["trigger_id"]
    with pytest.raises(ValueError, match="carries value"):
        sender.block_action(
            user_id=ALICE, action_id="done", value="kr-8", message=posted["message"]
        )
    with pytest.raises(ValueError, match="no element"):
        sender.block_action(user_id=ALICE, action_id="nope", message=posted["message"])

    view = client.views_open(
        trigger_id=standin.issue_trigger_id(TEAM, user_id=ALICE), view=modal()
    )["view"]
    sender.view_submission(view, user_id=ALICE, values={"kr": {"value": 42}})
    p = payload(1)
    assert p["type"] == "view_submission" and p["view"]["id"] == view["id"]
    assert p["view"]["state"]["values"] == {
        "kr": {"value": {"type": "number_input", "value": "42"}},
        "note": {"text": {"type": "plain_text_input", "value": "-"}},  # untouched: initial value
    }
    assert standin.view_stack(TEAM, ALICE) == []  # an empty ack closes the modal


def test_events_suggestions_and_closed_views(
    standin: SlackStandIn, captured: list[httpx.Request], client: WebClient
) -> None:
    def app(request: httpx.Request) -> httpx.Response:
        captured.append(request)
        body = request.content.decode()
        if "block_suggestion" in body:  # an options answer with one option too long
            option = {"text": {"type": "plain_text", "text": "x" * 76}, "value": "kr-1"}
            return httpx.Response(200, json={"options": [option]})
        return httpx.Response(200)

    web = httpx.Client(transport=httpx.MockTransport(app))
    slack = SlackSender("http://app.test/slack/events", SECRET, standin, team_id=TEAM, client=web)

    event = {"type": "app_mention", "user": ALICE, "text": "hi", "channel": "C0TEAM"}
    slack.event(event, event_id="Ev0RETRY", retry_num=1, retry_reason="http_timeout")
    envelope = json.loads(captured[0].content)
    assert captured[0].headers["X-Slack-Retry-Num"] == "1"
    assert captured[0].headers["X-Slack-Retry-Reason"] == "http_timeout"
    assert (envelope["type"], envelope["event_id"], envelope["team_id"]) == (
        "event_callback",
        "Ev0RETRY",
        TEAM,
    )
    assert envelope["authorizations"][0]["user_id"] == standin.workspace(TEAM).bot_user_id
    assert envelope["event"]["event_ts"]

    picker = {"type": "external_select", "action_id": "kr", "min_query_length": 1}
    view = modal(notify_on_close=True)
    view["blocks"].append(
        {"type": "input", "block_id": "pick", "label": {"type": "plain_text", "text": "KR"},
         "element": picker}
    )  # fmt: skip
    trigger = standin.issue_trigger_id(TEAM, user_id=ALICE)
    opened = client.views_open(trigger_id=trigger, view=view)["view"]
    slack.block_suggestion(user_id=ALICE, action_id="kr", block_id="pick", value="Sh", view=opened)
    suggestion = json.loads(dict(parse_qsl(captured[1].content.decode()))["payload"])
    assert (suggestion["type"], suggestion["value"]) == ("block_suggestion", "Sh")
    assert standin.violations == [
        "block_suggestion kr 'Sh' answer: options[0].text.text: "
        "option text is 76 characters (max 75)"
    ]
    slack.view_closed(opened["id"], user_id=ALICE)
    assert standin.view_stack(TEAM, ALICE) == []

    button = {"type": "button", "text": {"type": "plain_text", "text": "New"}, "action_id": "new"}
    home = {"type": "home", "blocks": [{"type": "actions", "elements": [button]}]}
    published = client.views_publish(user_id=ALICE, view=home)["view"]
    slack.block_action(user_id=ALICE, action_id="new", view=published["id"])
    action = json.loads(dict(parse_qsl(captured[3].content.decode()))["payload"])
    assert action["container"] == {"type": "view", "view_id": published["id"]}
    assert "response_url" not in action and action["view"]["type"] == "home"
    web.close()
    standin.violations.clear()


def test_state_values_helper_infers_element_shapes() -> None:
    blocks = [
        {
            "type": "input",
            "block_id": "owner",
            "label": {"type": "plain_text", "text": "Owner"},
            "element": {"type": "users_select", "action_id": "pick"},
        },
        {
            "type": "input",
            "block_id": "kind",
            "label": {"type": "plain_text", "text": "Kind"},
            "element": {
                "type": "static_select",
                "action_id": "pick",
                "options": [{"text": {"type": "plain_text", "text": "Increase"}, "value": "inc"}],
            },
        },
        {
            "type": "input",
            "block_id": "due",
            "label": {"type": "plain_text", "text": "Due"},
            "element": {"type": "datepicker", "action_id": "date"},
        },
    ]
    values = state_values(blocks, {"owner": {"pick": ALICE}, "kind": {"pick": "inc"}})
    assert values == {
        "owner": {"pick": {"type": "users_select", "selected_user": ALICE}},
        "kind": {
            "pick": {"type": "static_select", "selected_option": blocks[1]["element"]["options"][0]}
        },
        "due": {"date": {"type": "datepicker", "selected_date": None}},
    }
    with pytest.raises(ValueError, match="no option"):
        state_values(blocks, {"kind": {"pick": "dec"}})


# --------------------------------------------------------------------- end to end (Bolt)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


@pytest.fixture
def bolt_url(standin: SlackStandIn) -> Iterator[str]:
    """A real Bolt app over HTTP whose WebClient talks to the stand-in."""
    app = App(
        token=TOKEN,
        signing_secret=SECRET,
        client=WebClient(base_url=standin.api_url, token=TOKEN),
    )

    @app.command("/okr")
    def okr(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=modal())

    @app.view("checkin")
    def checkin(ack: Ack, view: dict[str, Any], body: dict[str, Any], client: WebClient) -> None:
        value = view["state"]["values"]["kr"]["value"]["value"]
        if value is None or float(value) < 0:
            ack(response_action="errors", errors={"kr": "Enter a positive number"})
            return
        ack()
        button = {
            "type": "button",
            "text": {"type": "plain_text", "text": "Done"},
            "action_id": "done",
        }
        client.chat_postMessage(
            channel=body["user"]["id"],
            text=f"Checked in {value}",
            blocks=[section(f"Checked in *{value}*"), {"type": "actions", "elements": [button]}],
        )

    @app.action("done")
    def done(ack: Ack, respond: Respond) -> None:
        ack()
        respond(text="Marked done", replace_original=True)

    server = make_server(
        "127.0.0.1", 0, SlackRequestHandler(app), _ThreadingWSGIServer, _QuietHandler
    )
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/slack/events"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_bolt_app_round_trip(standin: SlackStandIn, bolt_url: str) -> None:
    with SlackSender(bolt_url, SECRET, standin, team_id=TEAM) as slack:
        assert slack.slash_command("checkin", user_id=ALICE).status_code == 200
        [opened] = standin.wait_for("views.open")
        assert opened.ok, opened.response
        view = opened.response["view"]

        refused_answer = slack.view_submission(view, user_id=ALICE, values={"kr": {"value": "-3"}})
        assert refused_answer.json() == {
            "response_action": "errors",
            "errors": {"kr": "Enter a positive number"},
        }
        assert [v["id"] for v in standin.view_stack(TEAM, ALICE)] == [view["id"]]

        assert slack.view_submission(view, user_id=ALICE, values={"kr": {"value": 42}}).text == ""
        [posted] = standin.wait_for("chat.postMessage")
        assert posted.response["channel"] == "D0ALICE"
        assert standin.view_stack(TEAM, ALICE) == []

        slack.block_action(user_id=ALICE, action_id="done", message=posted.response["message"])
        standin.wait_for("response_url")
        assert standin.messages("D0ALICE")[0]["text"] == "Marked done"

        assert slack.slash_command("checkin", user_id=ALICE, sign=False).status_code == 401
        assert (
            slack.slash_command("x", user_id=ALICE, tamper=lambda b: b + "&x=1").status_code == 401
        )
        stale = int(time.time()) - 6 * 60
        assert slack.slash_command("checkin", user_id=ALICE, timestamp=stale).status_code == 401
    assert standin.violations == []


# ------------------------------------------------------------------------- OAuth installs

CLIENT_ID, CLIENT_SECRET = "1111111111.2222222222222", "0a1b2c3d4e5f60718293a4b5c6d7e8f9"


def test_oauth_code_exchange_issues_a_bot_token_once(
    standin: SlackStandIn, clock: FakeClock
) -> None:
    standin.set_oauth_app(CLIENT_ID, CLIENT_SECRET)
    anonymous = WebClient(base_url=standin.api_url)
    code = standin.authorize(TEAM, ALICE, scopes="commands,chat:write")

    answer = anonymous.oauth_v2_access(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code
    )  # slack_sdk sends the credentials by HTTP Basic auth
    assert answer["team"] == {"id": TEAM, "name": "Ladder Test"}
    assert answer["authed_user"] == {"id": ALICE}
    assert answer["token_type"] == "bot" and answer["scope"] == "commands,chat:write"
    assert "refresh_token" not in answer and "expires_in" not in answer
    token = answer["access_token"]
    assert token.startswith("xoxb-") and token != TOKEN
    assert WebClient(base_url=standin.api_url, token=token).auth_test()["team_id"] == TEAM
    [exchange] = standin.calls("oauth.v2.access")
    assert exchange.team_id == TEAM and "client_secret" not in exchange.args

    again = refused(
        lambda: anonymous.oauth_v2_access(
            client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code
        )
    )
    assert again["error"] == "invalid_code"  # a code works once
    late = standin.authorize(TEAM, BOB)
    clock.advance(10 * 60 + 1)
    assert (
        refused(
            lambda: anonymous.oauth_v2_access(
                client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=late
            )
        )["error"]
        == "invalid_code"
    )


def test_oauth_checks_the_client_and_the_redirect_uri(standin: SlackStandIn) -> None:
    standin.set_oauth_app(CLIENT_ID, CLIENT_SECRET)
    anonymous = WebClient(base_url=standin.api_url)
    redirect = "https://ladder.example.com/slack/oauth_redirect"

    def exchange(**kwargs: Any) -> dict[str, Any]:
        code = standin.authorize(TEAM, ALICE, redirect_uri=redirect)
        args = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "code": code, **kwargs}
        return refused(lambda: anonymous.oauth_v2_access(**args))

    assert exchange(client_id="999.999")["error"] == "invalid_client_id"
    assert exchange(client_secret="f" * 32)["error"] == "bad_client_secret"
    assert exchange()["error"] == "bad_redirect_uri"  # the authorize URL had one
    assert exchange(redirect_uri="https://evil.example/cb")["error"] == "bad_redirect_uri"
    ok = anonymous.oauth_v2_access(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        code=standin.authorize(TEAM, ALICE, redirect_uri=redirect),
        redirect_uri=redirect,
    )
    assert ok["ok"] is True
    # Credentials as form fields work too (Slack accepts both).
    form = httpx.post(
        f"{standin.api_url}oauth.v2.access",
        data={
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "code": standin.authorize(TEAM, BOB),
        },
    ).json()
    assert form["ok"] is True and form["authed_user"] == {"id": BOB}
    with pytest.raises(ValueError, match="not a member"):
        standin.authorize(TEAM, "U0NOBODY")


def test_rotating_tokens_expire_and_refresh_tokens_work_once(
    standin: SlackStandIn, clock: FakeClock
) -> None:
    standin.set_oauth_app(CLIENT_ID, CLIENT_SECRET, token_rotation=True, token_lifetime=3600)
    anonymous = WebClient(base_url=standin.api_url)
    first = anonymous.oauth_v2_access(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=standin.authorize(TEAM, ALICE)
    )
    assert first["access_token"].startswith("xoxe.xoxb-")
    assert first["expires_in"] == 3600 and first["refresh_token"].startswith("xoxe-1-")
    old = WebClient(base_url=standin.api_url, token=first["access_token"])
    assert old.auth_test()["ok"] is True

    refreshed = anonymous.oauth_v2_access(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        grant_type="refresh_token",
        refresh_token=first["refresh_token"],
    )
    assert refreshed["token_type"] == "bot" and refreshed["team"]["id"] == TEAM
    assert refreshed["access_token"] != first["access_token"]
    assert refreshed["refresh_token"] != first["refresh_token"]
    assert old.auth_test()["ok"] is True  # the old token lives until it expires
    reused = refused(
        lambda: anonymous.oauth_v2_access(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            grant_type="refresh_token",
            refresh_token=first["refresh_token"],
        )
    )
    assert reused["error"] == "invalid_refresh_token"

    clock.advance(3600)
    assert refused(old.auth_test)["error"] == "token_expired"
    new = WebClient(base_url=standin.api_url, token=refreshed["access_token"])
    assert refused(new.auth_test)["error"] == "token_expired"  # same lifetime
    standin.expire_token(TOKEN)
    assert refused(WebClient(base_url=standin.api_url, token=TOKEN).auth_test)["error"] == (
        "token_expired"
    )
    [call] = [c for c in standin.calls("auth.test") if not c.ok][-1:]
    assert call.token == TOKEN  # records carry the token each call used


def test_uninstall_revokes_every_token_of_the_workspace(standin: SlackStandIn) -> None:
    standin.set_oauth_app(CLIENT_ID, CLIENT_SECRET, token_rotation=True)
    anonymous = WebClient(base_url=standin.api_url)
    installed = anonymous.oauth_v2_access(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=standin.authorize(TEAM, ALICE)
    )
    standin.uninstall(TEAM)
    for token in (TOKEN, installed["access_token"]):
        client = WebClient(base_url=standin.api_url, token=token)
        assert refused(client.auth_test)["error"] == "token_revoked"
    assert (
        refused(
            lambda: anonymous.oauth_v2_access(
                client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET,
                grant_type="refresh_token",
                refresh_token=installed["refresh_token"],
            )
        )["error"]
        == "invalid_refresh_token"
    )
