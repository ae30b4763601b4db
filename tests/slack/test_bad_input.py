"""Bad input never reaches storage, and what people typed is escaped wherever it is mrkdwn.

Everything goes through v0-signed HTTP to the running app, with Slack played by the stand-in:
each bad value gets an inline modal error on the block that holds it (or an ephemeral reply
saying what to fix), and the database is left exactly as it was.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import Session

from bot.okr.limits import (
    DESCRIPTION_MAX,
    KR_TITLE_MAX,
    NOTE_MAX,
    OBJECTIVE_TITLE_MAX,
    STATEMENT_MAX,
    UNIT_LABEL_MAX,
)
from storage.models import CheckIn, KeyResult, Objective, Workspace
from tests.factories import ReferenceCompany, reference_company
from tests.slack.conftest import ACME, CEO, Ladder
from tests.slack.flows import fill, initial, modal_shown, open_new_objective, rev_of

# A valid key result whose numbers come only from the typed fields (the sentence has none),
# so each case below changes exactly one thing.
VALID = {
    "title": "Grow the community",
    "kr0_text": "Grow weekly active users",
    "kr0_kind": "increase",
    "kr0_start": "100",
    "kr0_target": "500",
}

EVIL = "<!channel> <@U0EVE> <https://evil.example|click> & <b>"
# Sequences that ping, mention or link when they reach mrkdwn unescaped.
RAW = ("<!channel>", "<!here>", "<@U0EVE>", "<https://evil", "<b>")
STRAY_AMPERSAND = re.compile(r"&(?!amp;|lt;|gt;)")


# ------------------------------------------------------------------------------ helpers


def snapshot(ladder: Ladder) -> dict[str, list[dict[str, Any]]]:
    """Every objective, key result and check-in row as stored, for before/after comparisons."""
    with ladder.engine.connect() as connection:
        return {
            name: [
                dict(row)
                for row in connection.execute(sa.select(table).order_by(table.c.id)).mappings()
            ]
            for name, table in (
                ("objectives", Objective.__table__),
                ("key_results", KeyResult.__table__),
                ("check_ins", CheckIn.__table__),
            )
        }


def errors_of(answer: httpx.Response) -> dict[str, str]:
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["response_action"] == "errors", body
    return body["errors"]


def still_open(ladder: Ladder, view: dict[str, Any], user: str = CEO) -> bool:
    return view["id"] in [v["id"] for v in ladder.standin.view_stack(ACME, user)]


def mrkdwn_texts(message: Mapping[str, Any]) -> list[str]:
    """The message's fallback `text` and every mrkdwn text object in its blocks."""
    texts: list[str] = []
    if isinstance(message.get("text"), str):
        texts.append(message["text"])
    blocks = message.get("blocks")
    if isinstance(blocks, str):
        blocks = json.loads(blocks)

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            if node.get("type") == "mrkdwn":
                texts.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(blocks)
    return texts


def assert_escaped(texts: list[str], *, where: str, shows: tuple[str, ...]) -> None:
    """No raw ping/mention/link, nothing escaped twice, and the escaped forms present."""
    assert texts, where
    for text in texts:
        for raw in RAW:
            assert raw not in text, f"{where}: raw {raw!r} in {text!r}"
        assert "&amp;lt;" not in text and "&amp;amp;" not in text, f"{where}: escaped twice"
        assert not STRAY_AMPERSAND.search(text), f"{where}: unescaped & in {text!r}"
    everything = "\n".join(texts)
    for needle in shows:
        assert needle in everything, f"{where}: {needle!r} missing"


def seed(ladder: Ladder) -> ReferenceCompany:
    with Session(ladder.engine, expire_on_commit=False) as session:
        return reference_company(session, workspace_id=ACME)


def reply_to(ladder: Ladder, text: str, *, user: str = CEO) -> Any:
    """Type `/okr text` and return the app's response_url post."""
    before = len(ladder.standin.responses)
    assert ladder.acme.slash_command(text, user_id=user).status_code == 200
    ladder.standin.wait_for("response_url", count=before + 1)
    return ladder.standin.responses[-1]


def open_edit(ladder: Ladder, objective_id: int) -> dict[str, Any]:
    """`/okr status all`, then ✏️ Edit in the objective's overflow menu."""
    status = reply_to(ladder, "status all")
    assert status.response_type == "in_channel"
    message = ladder.standin.messages("C0TEAM")[-1]
    before = len(ladder.standin.calls("views.open"))
    ladder.acme.block_action(
        user_id=CEO,
        action_id=f"objective_menu:{objective_id}",
        message=message,
        selected_option=f"edit:{objective_id}",
    )
    view = modal_shown(ladder, count=before + 1)
    assert view["title"]["text"] == "Edit objective"
    return view


def open_checkin(ladder: Ladder) -> tuple[dict[str, Any], list[int]]:
    before = len(ladder.standin.calls("views.open"))
    ladder.acme.slash_command("checkin", user_id=CEO)
    opened = ladder.standin.wait_for("views.open", count=before + 1)[-1]
    assert opened.ok, opened.response
    view = opened.response["view"]
    kr_ids = [
        int(b["block_id"].split(":")[1])
        for b in view["blocks"]
        if b.get("block_id", "").startswith("value:")
    ]
    return view, kr_ids


# ------------------------------------------------------------------- `/okr new` modal

NEW_OBJECTIVE_CASES = [
    # (overrides, offending field, what the message must mention)
    pytest.param({"kr0_target": "abc"}, "kr0_target", "not a number", id="target-not-a-number"),
    pytest.param({"kr0_start": "twelve-ish"}, "kr0_start", "not a number", id="start-words"),
    pytest.param({"kr0_target": "0x10"}, "kr0_target", "not a number", id="target-hex"),
    pytest.param({"kr0_target": "NaN"}, "kr0_target", "NaN", id="target-nan"),
    pytest.param({"kr0_start": "nan"}, "kr0_start", "NaN", id="start-nan"),
    pytest.param({"kr0_target": "inf"}, "kr0_target", "Infinity", id="target-inf"),
    pytest.param({"kr0_target": "Infinity"}, "kr0_target", "Infinity", id="target-infinity"),
    pytest.param({"kr0_target": "∞"}, "kr0_target", "Infinity", id="target-infinity-sign"),
    pytest.param({"kr0_start": "-inf"}, "kr0_start", "Infinity", id="start-minus-inf"),
    pytest.param({"kr0_target": "1e400"}, "kr0_target", "too large", id="target-overflows"),
    pytest.param({"kr0_target": "1e16"}, "kr0_target", "too large", id="target-over-limit"),
    pytest.param({"kr0_start": "9" * 30}, "kr0_start", "too large", id="start-30-digits"),
    pytest.param({"kr0_start": "-1e400"}, "kr0_start", "too large", id="start-overflows-neg"),
    pytest.param({"kr0_target": "5\x000"}, "kr0_target", "not a number", id="target-nul"),
    pytest.param({"kr0_target": None}, "kr0_target", "target", id="target-missing"),
    pytest.param({"kr0_target": "   "}, "kr0_target", "target", id="target-blank"),
    pytest.param({"title": None}, "title", "title", id="title-missing"),
    pytest.param({"title": "   "}, "title", "title", id="title-blank"),
    pytest.param({"title": "\x00\x07\x1b"}, "title", "title", id="title-control-chars-only"),
    pytest.param(
        {"title": "t" * (OBJECTIVE_TITLE_MAX + 1)},
        "title",
        f"under {OBJECTIVE_TITLE_MAX}",
        id="title-over-limit",
    ),
    pytest.param(
        {"description": "d" * (DESCRIPTION_MAX + 1)},
        "description",
        f"under {DESCRIPTION_MAX}",
        id="description-over-limit",
    ),
    pytest.param(
        {"kr0_text": "k" * 10_000}, "kr0_text", f"under {KR_TITLE_MAX}", id="kr-text-10000"
    ),
    pytest.param({"kr0_text": None}, "kr0_text", "sentence", id="kr-text-missing"),
    pytest.param(
        {"kr0_unit": "u" * (UNIT_LABEL_MAX + 1)},
        "kr0_unit",
        f"under {UNIT_LABEL_MAX}",
        id="unit-over-limit",
    ),
    pytest.param(
        {"kr0_start": "250", "kr0_target": "250"},
        "kr0_target",
        "nothing to move",
        id="target-equals-start",
    ),
    pytest.param(
        {"kr0_start": "1k", "kr0_target": "1,000"},
        "kr0_target",
        "nothing to move",
        id="target-equals-start-written-differently",
    ),
    pytest.param(
        {"kr0_start": "0", "kr0_target": "-0"},
        "kr0_target",
        "nothing to move",
        id="target-minus-zero-equals-start-zero",
    ),
    pytest.param(
        {"kr0_start": "500", "kr0_target": "100"},
        "kr0_target",
        "above the start",
        id="increase-target-below-start",
    ),
]


@pytest.mark.parametrize(("overrides", "field", "says"), NEW_OBJECTIVE_CASES)
def test_new_objective_bad_value_gets_an_inline_error_and_stores_nothing(
    ladder: Ladder, overrides: dict[str, Any], field: str, says: str
) -> None:
    view = open_new_objective(ladder, VALID["title"], fields=[0])
    before = snapshot(ladder)

    answer = ladder.acme.view_submission(view, user_id=CEO, values=fill(view, **VALID | overrides))

    errors = errors_of(answer)
    assert set(errors) == {f"{field}@{rev_of(view)}"}, errors
    assert says.lower() in errors[f"{field}@{rev_of(view)}"].lower(), errors
    assert snapshot(ladder) == before == {"objectives": [], "key_results": [], "check_ins": []}
    assert still_open(ladder, view)
    assert ladder.standin.calls("chat.postMessage") == []  # no confirmation for nothing


def test_new_objective_reports_every_bad_field_at_once(ladder: Ladder) -> None:
    view = open_new_objective(ladder, "Several mistakes", fields=[0, 1])
    values = fill(
        view,
        title="",
        kr0_text="Grow weekly active users",
        kr0_kind="increase",
        kr0_target="NaN",
        kr1_text="Cut support backlog",
        kr1_kind="decrease",
        kr1_start="1e400",
        kr1_target="10",
    )
    errors = errors_of(ladder.acme.view_submission(view, user_id=CEO, values=values))
    rev = rev_of(view)
    assert set(errors) == {f"title@{rev}", f"kr0_target@{rev}", f"kr1_start@{rev}"}, errors
    assert snapshot(ladder)["objectives"] == []


def test_the_valid_baseline_is_accepted(ladder: Ladder) -> None:
    """The table above is not vacuous: without the one bad value the same form saves."""
    view = open_new_objective(ladder, VALID["title"], fields=[0])
    answer = ladder.acme.view_submission(view, user_id=CEO, values=fill(view, **VALID))
    assert answer.status_code == 200 and answer.text == "", answer.text
    ladder.standin.wait_for("chat.postMessage")
    rows = snapshot(ladder)
    assert [o["title"] for o in rows["objectives"]] == [VALID["title"]]
    assert [(k["start_value"], k["target_value"]) for k in rows["key_results"]] == [(100, 500)]


def test_minus_zero_is_stored_and_shown_as_plain_zero(ladder: Ladder) -> None:
    view = open_new_objective(ladder, VALID["title"], fields=[0])
    values = fill(view, **VALID | {"kr0_start": "-0", "kr0_target": "500"})
    answer = ladder.acme.view_submission(view, user_id=CEO, values=values)
    assert answer.text == "", answer.text
    [dm] = ladder.standin.wait_for("chat.postMessage")
    [kr] = snapshot(ladder)["key_results"]
    assert kr["start_value"] == 0 and math.copysign(1.0, kr["start_value"]) == 1.0
    shown = "\n".join(mrkdwn_texts(dm.args))
    assert "0 / 500" in shown and "-0" not in shown


def test_control_characters_are_stripped_before_storage(ladder: Ladder) -> None:
    """PostgreSQL refuses NUL; escape and bell characters are noise. Neither is stored."""
    view = open_new_objective(ladder, "placeholder", fields=[0])
    values = fill(
        view,
        **VALID
        | {
            "title": "Ship\x00 the\x07 app\x1b",
            "description": "Line one\x00\r\nline two\x08",
            "kr0_text": "Grow\x00 weekly\x0b active users",
            "kr0_unit": "users\x00",
        },
    )
    answer = ladder.acme.view_submission(view, user_id=CEO, values=values)
    assert answer.text == "", answer.text
    ladder.standin.wait_for("chat.postMessage")
    rows = snapshot(ladder)
    [objective], [kr] = rows["objectives"], rows["key_results"]
    assert objective["title"] == "Ship the app"
    assert objective["description"] == "Line one\nline two"
    assert kr["title"] == "Grow weekly active users"
    assert kr["unit_label"] == "users"


# ------------------------------------------------------------- editing an objective

EDIT_CASES = [
    pytest.param({"title": None}, "title", "title", id="title-emptied"),
    pytest.param(
        {"title": "t" * (OBJECTIVE_TITLE_MAX + 1)},
        "title",
        f"under {OBJECTIVE_TITLE_MAX}",
        id="title-over-limit",
    ),
    pytest.param(
        {"description": "d" * (DESCRIPTION_MAX + 1)},
        "description",
        f"under {DESCRIPTION_MAX}",
        id="description-over-limit",
    ),
    pytest.param({"kr0_target": "NaN"}, "kr0_target", "NaN", id="target-nan"),
    pytest.param({"kr0_target": "abc"}, "kr0_target", "not a number", id="target-not-a-number"),
    pytest.param({"kr1_start": "1e400"}, "kr1_start", "too large", id="start-overflows"),
    pytest.param({"kr1_target": "-inf"}, "kr1_target", "Infinity", id="target-minus-inf"),
    pytest.param(
        {"kr0_kind": "decrease"}, "kr0_target", "below the start", id="kind-flipped-to-decrease"
    ),
    pytest.param(
        {"kr2_start": "100"}, "kr2_target", "nothing to move", id="decrease-start-equals-target"
    ),
    pytest.param(
        {"kr0_text": "k" * 10_000}, "kr0_text", f"under {KR_TITLE_MAX}", id="kr-text-10000"
    ),
    pytest.param(
        {
            f"kr{i}_{name}": None
            for i in range(3)
            for name in ("text", "kind", "start", "target", "unit", "due")
        },
        "kr0_text",
        "at least one key result",
        id="every-kr-emptied",
    ),
]


@pytest.mark.parametrize(("overrides", "field", "says"), EDIT_CASES)
def test_bad_edit_leaves_the_existing_objective_intact(
    ladder: Ladder, overrides: dict[str, Any], field: str, says: str
) -> None:
    company = seed(ladder)
    view = open_edit(ladder, company.platform.id)  # type: ignore[arg-type]
    assert initial(view, "title") == company.platform.title
    before = snapshot(ladder)
    assert len(before["key_results"]) == 5

    answer = ladder.acme.view_submission(view, user_id=CEO, values=fill(view, **overrides))

    errors = errors_of(answer)
    assert set(errors) == {f"{field}@{rev_of(view)}"}, errors
    assert says.lower() in errors[f"{field}@{rev_of(view)}"].lower(), errors
    assert snapshot(ladder) == before
    assert still_open(ladder, view)
    assert ladder.standin.calls("chat.postMessage") == []


# ------------------------------------------------------------------ check-in modal

CHECKIN_CASES = [
    pytest.param("abc", "not a number", id="abc"),
    pytest.param("NaN", "NaN", id="nan"),
    pytest.param("1e400", "too large", id="overflows"),
    pytest.param("-inf", "Infinity", id="minus-inf"),
    pytest.param("1e16", "too large", id="over-limit"),
]


@pytest.mark.parametrize(("typed", "says"), CHECKIN_CASES)
def test_checkin_bad_value_gets_an_inline_error_and_records_nothing(
    ladder: Ladder, typed: str | None, says: str
) -> None:
    seed(ladder)
    view, kr_ids = open_checkin(ladder)
    assert len(kr_ids) == 5
    before = snapshot(ladder)
    bad = kr_ids[2]
    values = {f"value:{k}": {f"value:{k}": typed if k == bad else "7"} for k in kr_ids}
    values[f"confidence:{bad}"] = {f"confidence:{bad}": "6"}

    errors = errors_of(ladder.acme.view_submission(view, user_id=CEO, values=values))

    assert set(errors) == {f"value:{bad}"}, errors
    assert says.lower() in errors[f"value:{bad}"].lower(), errors
    after = snapshot(ladder)
    assert after == before and after["check_ins"] == []  # all or nothing: no KR moved
    assert still_open(ladder, view)
    assert ladder.standin.calls("chat.postEphemeral") == []


@pytest.mark.parametrize("block", ["note", "blocker"])
def test_checkin_overlong_note_or_blocker_is_flagged_on_its_own_field(
    ladder: Ladder, block: str
) -> None:
    seed(ladder)
    view, kr_ids = open_checkin(ladder)
    before = snapshot(ladder)
    values: dict[str, dict[str, Any]] = {f"value:{k}": {f"value:{k}": "7"} for k in kr_ids}
    values[block] = {block: "n" * (NOTE_MAX + 1)}

    errors = errors_of(ladder.acme.view_submission(view, user_id=CEO, values=values))

    assert set(errors) == {block}, errors
    assert f"under {NOTE_MAX}" in errors[block], errors
    assert snapshot(ladder) == before


def test_checkin_minus_zero_is_stored_as_plain_zero(ladder: Ladder) -> None:
    seed(ladder)
    view, kr_ids = open_checkin(ladder)
    values = {f"value:{k}": {f"value:{k}": "-0"} for k in kr_ids}
    answer = ladder.acme.view_submission(view, user_id=CEO, values=values)
    assert answer.text == "", answer.text
    rows = snapshot(ladder)
    assert len(rows["check_ins"]) == 5
    for row in [*rows["check_ins"], *rows["key_results"]]:
        value = row.get("value", row.get("current_value"))
        assert value == 0 and math.copysign(1.0, value) == 1.0, row


# --------------------------------------------------------------------------- vision


def test_vision_over_the_limit_is_refused_and_the_old_vision_kept(ladder: Ladder) -> None:
    reply_to(ladder, "vision The old vision")

    reply = reply_to(ladder, "vision " + "v" * (STATEMENT_MAX + 1))

    assert reply.response_type in (None, "ephemeral")
    assert f"under {STATEMENT_MAX} characters" in (reply.text or "")
    assert f"{STATEMENT_MAX + 1}" in (reply.text or "")
    with Session(ladder.engine) as session:
        assert session.get(Workspace, ACME).vision == "The old vision"  # type: ignore[union-attr]

    # Exactly at the limit is fine.
    reply = reply_to(ladder, "vision " + "v" * STATEMENT_MAX)
    assert (reply.text or "").startswith("Vision set")
    with Session(ladder.engine) as session:
        assert session.get(Workspace, ACME).vision == "v" * STATEMENT_MAX  # type: ignore[union-attr]


def test_vision_echo_status_and_readback_escape_what_was_typed(ladder: Ladder) -> None:
    typed = "Connect everyone <!here> & <@U0EVE> <https://evil.example|click>"
    shows = ("&lt;!here&gt;", "&amp;", "&lt;@U0EVE&gt;", "&lt;https://evil.example|click&gt;")

    echo = reply_to(ladder, f"vision {typed}")
    assert_escaped(mrkdwn_texts(echo.body), where="vision echo", shows=shows)
    with Session(ladder.engine) as session:
        assert session.get(Workspace, ACME).vision == typed  # type: ignore[union-attr]

    readback = reply_to(ladder, "vision")
    assert_escaped(mrkdwn_texts(readback.body), where="/okr vision", shows=shows)

    status = reply_to(ladder, "status all")
    assert_escaped(mrkdwn_texts(status.body), where="/okr status all", shows=shows)


# ----------------------------------------------------------- escaping on every surface


def test_objective_text_is_escaped_on_every_mrkdwn_surface(ladder: Ladder) -> None:
    title = f"Win {EVIL}"
    kr_text = f"Reach 500 users {EVIL}"
    unit = "<!here> & co"
    view = open_new_objective(ladder, title, fields=[0])
    assert initial(view, "title") == title  # plain_text input: shown literally, not escaped
    values = fill(
        view,
        kr0_text=kr_text,
        kr0_kind="increase",
        kr0_start="0",
        kr0_target="500",
        kr0_unit=unit,
    )
    answer = ladder.acme.view_submission(view, user_id=CEO, values=values)
    assert answer.text == "", answer.text

    # Stored as typed: escaping happens on the way out, once.
    rows = snapshot(ladder)
    assert [o["title"] for o in rows["objectives"]] == [title]
    assert [(k["title"], k["unit_label"]) for k in rows["key_results"]] == [(kr_text, unit)]

    shows = ("&lt;!channel&gt;", "&lt;@U0EVE&gt;", "&amp;", "&lt;b&gt;", "&lt;!here&gt; &amp; co")
    [dm] = ladder.standin.wait_for("chat.postMessage")
    assert_escaped(mrkdwn_texts(dm.args), where="confirmation DM", shows=shows)
    assert "&lt;!channel&gt;" in dm.args["text"]  # the notification fallback too

    status = reply_to(ladder, "status all")
    assert_escaped(mrkdwn_texts(status.body), where="/okr status all", shows=shows)

    mine = reply_to(ladder, "mine")
    assert_escaped(mrkdwn_texts(mine.body), where="/okr mine", shows=shows)

    checkin, _ = open_checkin(ladder)
    assert_escaped(mrkdwn_texts(checkin), where="check-in modal", shows=shows)

    [objective_id] = [o["id"] for o in rows["objectives"]]
    message = ladder.standin.messages("C0TEAM")[-1]  # the `/okr status all` post
    for verb in ("align", "archive"):
        before = len(ladder.standin.calls("views.open"))
        ladder.acme.block_action(
            user_id=CEO,
            action_id=f"objective_menu:{objective_id}",
            message=message,
            selected_option=f"{verb}:{objective_id}",
        )
        opened = ladder.standin.wait_for("views.open", count=before + 1)[-1]
        assert opened.ok, opened.response
        assert_escaped(
            mrkdwn_texts(opened.response["view"]), where=f"{verb} modal", shows=shows[:3]
        )

    ladder.acme.app_home_opened(user_id=CEO)
    [home] = ladder.standin.wait_for("views.publish")
    assert home.ok, home.response
    home_view = home.args["view"]
    if isinstance(home_view, str):
        home_view = json.loads(home_view)
    assert_escaped(mrkdwn_texts(home_view), where="Home tab", shows=shows)


def test_unknown_team_and_subcommand_are_echoed_escaped(ladder: Ladder) -> None:
    reply = reply_to(ladder, "status <!channel> & <@U0EVE>")
    texts = mrkdwn_texts(reply.body)
    assert_escaped(texts, where="/okr status <team>", shows=("&lt;!channel&gt; &amp;",))
    assert "No team called" in "\n".join(texts)

    reply = reply_to(ladder, "<!channel>&<@U0EVE>")
    assert_escaped(
        mrkdwn_texts(reply.body), where="unknown subcommand", shows=("&lt;!channel&gt;&amp;",)
    )
