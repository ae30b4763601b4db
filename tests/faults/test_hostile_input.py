"""Hostile input through every modal field and command argument.

Each value of HOSTILE goes, on its own, into one field of: the `/okr new` modal, the edit
modal, the check-in modal, the `/okr settings` modal, and the arguments of the commands
that take text. tests/slack/test_bad_input.py checks chosen values field by field with the
exact message; this table checks the rules that hold for every (field, value) pair:

- Slack gets an answer (HTTP 200, never Bolt's 500) and the app logs no ERROR;
- a refused value gets an inline error on its own block (or an ephemeral reply), and leaves
  every row as it was;
- an accepted value is stored cleaned (no control characters), never as NaN or ±inf;
- whatever the app shows is escaped (no `<!channel>` ping, no `<…|link>`) and is valid
  Block Kit (the stand-in refuses what Slack would, e.g. a 10,000-character header).

One app and database per backend serve the whole module (`shared_ladder`): each case
compares the rows before and after itself.
"""

from __future__ import annotations

import json
import logging
import math
import re
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlmodel import Session, col, select

from bot.blocks.text import truncate
from bot.blocks.tree import OBJECTIVE_MENU_ACTION
from bot.okr.limits import (
    DESCRIPTION_MAX,
    KR_TITLE_MAX,
    NAME_MAX,
    NOTE_MAX,
    OBJECTIVE_TITLE_MAX,
    STATEMENT_MAX,
    UNIT_LABEL_MAX,
)
from bot.okr.validate import clean_text
from storage.models import Objective
from storage.objectives import delete_objective
from tests.factories import reference_company
from tests.faults.helpers import ListenerRuns, describe, snapshot
from tests.slack.conftest import ACME, CEO, Ladder
from tests.slack.flows import fill, modal_shown, open_new_objective, rev_of

HOSTILE: dict[str, str] = {
    "words": "twelve-ish",
    "nan": "NaN",
    "inf": "inf",
    "minus-inf": "-Infinity",
    "1e400": "1e400",
    "minus-zero": "-0",
    "10000-chars": "W" * 10_000,
    "nul": "a\x00b",
    "escape": "\x1b[31mred\x1b[0m",
    "rlo": "\u202eevil\u202c",
    "rtl-mark": "\u200fשלום\u200f",
    "emoji-zwj": "👩\u200d👩\u200d👧\u200d👦 team 🏳️\u200d🌈",
    "channel": "<!channel>",
    "mention": "<@U0EVE>",
    "link": "<https://evil.example|click>",
    "sql": "'; DROP TABLE objective;--",
    "json": '{"a":',
}
# Sequences that ping, mention or link when they reach mrkdwn unescaped.
RAW = ("<!channel>", "<!here>", "<@U0EVE>", "<https://evil")
TABLES = ("workspace", "team", "team_channel", "cycle", "objective", "key_result", "check_in")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

VALID_NEW = {
    "title": "Grow the community",
    "description": "Because people ask for it.",
    "kr0_text": "Grow weekly active users",
    "kr0_kind": "increase",
    "kr0_start": "100",
    "kr0_target": "500",
    "kr0_unit": "users",
}


# --------------------------------------------------------------------------- the rules


def is_number(value: str) -> bool:
    """Would a number field take it? Only minus zero among HOSTILE (stored as plain 0)."""
    return value == "-0"


def text_fits(value: str, limit: int, *, single_line: bool = True) -> bool:
    cleaned = clean_text(value, single_line=single_line)
    return 0 < len(cleaned) <= limit


def mrkdwn_texts(node: Any) -> list[str]:
    if isinstance(node, Mapping):
        own = [node["text"]] if node.get("type") == "mrkdwn" else []
        return own + [t for v in node.values() for t in mrkdwn_texts(v)]
    if isinstance(node, list):
        return [t for v in node for t in mrkdwn_texts(v)]
    return []


def assert_escaped(shown: Any, *, where: str, allow: tuple[str, ...] = ()) -> None:
    """No raw ping, mention or link in anything rendered as mrkdwn (or a fallback text)."""
    texts = mrkdwn_texts(shown)
    if isinstance(shown, Mapping) and isinstance(shown.get("text"), str):
        texts.append(shown["text"])
    for text in texts:
        for raw in RAW:
            if raw not in allow:
                assert raw not in text, f"{where}: raw {raw!r} in {text[:200]!r}"


def assert_sane_rows(rows: dict[str, list[dict[str, Any]]]) -> None:
    """Nothing stored holds a control character, NaN or ±inf."""
    for table, records in rows.items():
        for record in records:
            for column, value in record.items():
                if isinstance(value, str):
                    assert not CONTROL.search(value), (table, column, value[:80])
                if isinstance(value, float):
                    assert math.isfinite(value), (table, column, value)


# --------------------------------------------------------------------------- the world


@dataclass
class World:
    ladder: Ladder
    platform_id: int
    status_message: dict[str, Any]
    # The modal each surface left open: a refused submission keeps it open, as in Slack,
    # and the next case submits it again instead of paying for a new one.
    views: dict[str, str]

    def modal(self, kind: str, open_one: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        stack = [v["id"] for v in self.ladder.standin.view_stack(ACME, CEO)]
        if self.views.get(kind) in stack:
            found = self.ladder.standin.view(self.views[kind])
            assert found is not None
            return found
        view = open_one()
        self.views[kind] = view["id"]
        return view


@pytest.fixture(scope="module")
def seeded(module_ladder: Ladder) -> World:
    ladder = module_ladder
    with Session(ladder.engine, expire_on_commit=False) as session:
        company = reference_company(session, workspace_id=ACME, owner_id=CEO)
    before = len(ladder.standin.responses)
    assert ladder.acme.slash_command("status all", user_id=CEO).status_code == 200
    ladder.standin.wait_for("response_url", count=before + 1)
    message = ladder.standin.messages("C0TEAM")[-1]
    return World(ladder, company.platform.id, message, {})  # type: ignore[arg-type]


@pytest.fixture
def world(
    shared_ladder: Ladder,
    seeded: World,
    listener_runs: ListenerRuns,
    app_errors: Callable[[], list[logging.LogRecord]],
) -> Iterator[World]:
    yield seeded
    listener_runs.wait_idle()  # what a listener does after its ack is part of the case
    assert app_errors() == [], describe(app_errors())


def rows(world: World) -> dict[str, list[dict[str, Any]]]:
    """The rows input can reach (the outbox and install tables cannot)."""
    return snapshot(world.ladder.engine, TABLES)


def rows_after(world: World) -> dict[str, list[dict[str, Any]]]:
    after = rows(world)
    assert_sane_rows(after)
    return after


def _opened(ladder: Ladder, before: int) -> dict[str, Any]:
    """The modal the next views.open shows (once filled, if it opened as "Loading…")."""
    return modal_shown(ladder, count=before + 1)


def _by_command(world: World, text: str) -> Callable[[], dict[str, Any]]:
    def open_one() -> dict[str, Any]:
        before = len(world.ladder.standin.calls("views.open"))
        assert world.ladder.acme.slash_command(text, user_id=CEO).status_code == 200
        return _opened(world.ladder, before)

    return open_one


def _new_calls(ladder: Ladder, method: str, before: int) -> list[Any]:
    return ladder.standin.calls(method)[before:]


# ------------------------------------------------------------------ objective modals

# field -> (value accepted?, what is stored: (table, column), cleaned as)
OBJECTIVE_FIELDS: dict[str, Callable[[str], bool]] = {
    "title": lambda v: text_fits(v, OBJECTIVE_TITLE_MAX),
    "description": lambda v: len(clean_text(v)) <= DESCRIPTION_MAX,
    "kr0_text": lambda v: text_fits(v, KR_TITLE_MAX),
    "kr0_start": is_number,
    "kr0_target": lambda v: False,  # never a number above the start (minus zero is not)
    "kr0_unit": lambda v: len(clean_text(v, single_line=True)) <= UNIT_LABEL_MAX,
    # A datepicker only ever sends YYYY-MM-DD; anything else is read as no date picked.
    "kr0_due": lambda v: True,
}
STORED_AS = {
    "title": ("objective", "title", True),
    "description": ("objective", "description", False),
    "kr0_text": ("key_result", "title", True),
    "kr0_unit": ("key_result", "unit_label", True),
}


def _submit_objective(
    world: World, view: dict[str, Any], values: dict[str, Any], field: str, value: str
) -> tuple[httpx.Response, dict[str, Any], dict[str, Any]]:
    ladder = world.ladder
    before_rows = rows(world)
    posts = len(ladder.standin.calls("chat.postMessage"))
    answer = ladder.acme.view_submission(view, user_id=CEO, values=fill(view, **values))
    assert answer.status_code == 200, answer.text
    return answer, before_rows, {"posts": posts}


def _check_objective_answer(
    world: World,
    view: dict[str, Any],
    answer: httpx.Response,
    before: dict[str, Any],
    posts: int,
    field: str,
    value: str,
    *,
    changed_row: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    ladder = world.ladder
    accepted = OBJECTIVE_FIELDS[field](value)
    if answer.text:
        body = answer.json()
        assert body["response_action"] == "errors", body
        assert set(body["errors"]) == {f"{field}@{rev_of(view)}"}, body["errors"]
        assert not accepted, f"{field}={value[:40]!r} was refused: {body['errors']}"
        assert rows(world) == before
        return
    assert accepted, f"{field}={value[:40]!r} was accepted"
    [dm] = ladder.standin.wait_for("chat.postMessage", count=posts + 1)[posts:]
    assert dm.ok, dm.response
    assert_escaped(dm.args, where=f"confirmation of {field}")
    after = rows_after(world)
    if field in STORED_AS:
        table, column, single_line = STORED_AS[field]
        row = changed_row(after[table])
        assert row[column] == (clean_text(value, single_line=single_line) or None), (
            f"{field} not stored literally"
        )


def _objective_value(field: str, value: str) -> dict[str, Any]:
    if field == "kr0_due":
        return {"kr0_due": value}
    return {field: value}


@pytest.mark.parametrize("value", list(HOSTILE.values()), ids=list(HOSTILE))
@pytest.mark.parametrize("field", list(OBJECTIVE_FIELDS))
def test_new_objective_modal(
    world: World, listener_runs: ListenerRuns, field: str, value: str
) -> None:
    # The KR's fields show once its sentence was read (Enter): the hostile values go there.
    view = world.modal("new", lambda: open_new_objective(world.ladder, "", fields=[0]))
    # A distinct title per case: the world is shared, and an identical objective submitted
    # again within minutes is taken for a double submission (stored and confirmed once).
    unique = {"title": f"{VALID_NEW['title']} {zlib.crc32((field + value).encode()):08x}"}
    answer, before, seen = _submit_objective(
        world, view, VALID_NEW | unique | _objective_value(field, value), field, value
    )
    known = {o["id"] for o in before["objective"]}
    known_krs = {k["id"] for k in before["key_result"]}

    def created(rows: list[dict[str, Any]]) -> dict[str, Any]:
        [row] = [
            r for r in rows if r["id"] not in (known if "objective_id" not in r else known_krs)
        ]
        return row

    _check_objective_answer(
        world, view, answer, before, seen["posts"], field, value, changed_row=created
    )
    # Leave the world as the case found it: each objective left behind would grow the CEO's
    # check-in modal, App Home and tree, and with them every later case's work.
    listener_runs.wait_idle()  # the confirmation and App Home are done with it
    with Session(world.ladder.engine) as session:
        for objective in session.exec(select(Objective).where(col(Objective.id).not_in(known))):
            delete_objective(session=session, workspace_id=ACME, objective_id=objective.id)  # type: ignore[arg-type]
        session.commit()


def _open_edit(world: World) -> dict[str, Any]:
    ladder = world.ladder
    before = len(ladder.standin.calls("views.open"))
    answer = ladder.acme.block_action(
        user_id=CEO,
        action_id=f"{OBJECTIVE_MENU_ACTION}:{world.platform_id}",
        message=world.status_message,
        selected_option=f"edit:{world.platform_id}",
    )
    assert answer.status_code == 200
    view = _opened(ladder, before)
    assert view["title"]["text"] == "Edit objective"
    return view


EDIT_FIELDS = {k: v for k, v in OBJECTIVE_FIELDS.items() if k != "kr0_start"} | {
    "kr0_start": is_number  # the platform's first KR starts at 0: "-0" leaves it so
}


@pytest.mark.parametrize("value", list(HOSTILE.values()), ids=list(HOSTILE))
@pytest.mark.parametrize("field", list(EDIT_FIELDS))
def test_edit_objective_modal(world: World, field: str, value: str) -> None:
    view = world.modal("edit", lambda: _open_edit(world))
    answer, before, seen = _submit_objective(
        world, view, _objective_value(field, value), field, value
    )

    def edited(rows: list[dict[str, Any]]) -> dict[str, Any]:
        key = "objective_id" if rows and "objective_id" in rows[0] else "id"
        return min(
            (r for r in rows if r[key] == world.platform_id and r.get("archived_at") is None),
            key=lambda r: r.get("position", 0),
        )

    _check_objective_answer(
        world, view, answer, before, seen["posts"], field, value, changed_row=edited
    )


# ------------------------------------------------------------------ check-in modal


def _option(value: str) -> dict[str, Any]:
    """An option as a forged payload could carry it (Slack sends only the view's own)."""
    return {"text": {"type": "plain_text", "text": "forged"}, "value": value}


CHECKIN_FIELDS: dict[str, Callable[[str], bool]] = {
    "value": is_number,
    "confidence": lambda v: v == "-0",  # int("-0") is 0: a confidence of 0
    "note": lambda v: len(clean_text(v)) <= NOTE_MAX,
    "blocker": lambda v: len(clean_text(v)) <= NOTE_MAX,
}


@pytest.mark.parametrize("value", list(HOSTILE.values()), ids=list(HOSTILE))
@pytest.mark.parametrize("field", list(CHECKIN_FIELDS))
def test_check_in_modal(world: World, field: str, value: str) -> None:
    ladder = world.ladder
    view = world.modal("checkin", _by_command(world, "checkin"))
    kr = int(next(b for b in view["blocks"] if b["block_id"].startswith("value:"))["block_id"][6:])
    values: dict[str, dict[str, Any]] = {f"value:{kr}": {f"value:{kr}": "42"}}
    block = {"value": f"value:{kr}", "confidence": f"confidence:{kr}"}.get(field, field)
    values[block] = {block: _option(value) if field == "confidence" else value}
    before = rows(world)
    ephemerals = len(ladder.standin.calls("chat.postEphemeral"))

    answer = ladder.acme.view_submission(view, user_id=CEO, values=values)

    assert answer.status_code == 200, answer.text
    if answer.text:
        body = answer.json()
        assert body["response_action"] == "errors", body
        assert set(body["errors"]) == {block}, body["errors"]
        assert not CHECKIN_FIELDS[field](value), f"{field}={value[:40]!r} refused: {body}"
        assert rows(world) == before
        return
    assert CHECKIN_FIELDS[field](value), f"{field}={value[:40]!r} was accepted"
    [thanks] = ladder.standin.wait_for("chat.postEphemeral", count=ephemerals + 1)[ephemerals:]
    assert thanks.ok
    [row] = [c for c in rows_after(world)["check_in"] if c["key_result_id"] == kr]
    if field == "value":
        assert row["value"] == 0 and math.copysign(1, row["value"]) == 1  # not -0.0
    elif field == "confidence":
        assert row["confidence"] == 0
    else:
        assert row[field] == clean_text(value)


# ------------------------------------------------------------------ settings modal

SETTINGS_FIELDS: dict[str, Callable[[str], Any]] = {
    # field -> the state entry a submission carries for `value`
    "reminder_delay_hours": lambda v: v,
    "checkin_time": lambda v: {"type": "timepicker", "selected_time": v},
    "checkin_weekday": _option,
    "checkin_cadence_weeks": _option,  # a new cadence would be saved after the answer
    "default_timezone": _option,
    "digest_channel": lambda v: {"type": "conversations_select", "selected_conversation": v},
}
# "-0" is int 0: Monday, a real weekday. Everything else here is refused.
SETTINGS_ACCEPT = {"checkin_weekday": {"-0"}}


@pytest.mark.parametrize("value", list(HOSTILE.values()), ids=list(HOSTILE))
@pytest.mark.parametrize("field", list(SETTINGS_FIELDS))
def test_settings_modal(world: World, field: str, value: str) -> None:
    ladder = world.ladder
    view = world.modal("settings", _by_command(world, "settings"))
    before = rows(world)
    posts = len(ladder.standin.calls("chat.postMessage"))

    answer = ladder.acme.view_submission(
        view, user_id=CEO, values={field: {field: SETTINGS_FIELDS[field](value)}}
    )

    assert answer.status_code == 200, answer.text
    accepted = value in SETTINGS_ACCEPT.get(field, set())
    if answer.text:
        body = answer.json()
        assert body["response_action"] == "errors", body
        assert set(body["errors"]) == {field}, body["errors"]
        assert not accepted
        assert rows(world) == before
        return
    assert accepted, f"{field}={value[:40]!r} was accepted"
    rows_after(world)
    [dm] = ladder.standin.wait_for("chat.postMessage", count=posts + 1)[posts:]
    assert_escaped(dm.args, where="settings saved")


# ------------------------------------------------------------------ command arguments

COMMANDS = {
    "new": "new {}",
    "status": "status {}",
    "away": "away until {}",
    "team-new": "team new {}",
    "team-link": "team link {}",
    "cycle-add": "cycle add {}",
    "cycle-close": "cycle close {}",
    "vision": "vision {}",
    "mission": "mission {}",
    "subcommand": "{}",
}


@pytest.mark.parametrize("value", list(HOSTILE.values()), ids=list(HOSTILE))
@pytest.mark.parametrize("command", list(COMMANDS))
def test_command_argument(world: World, command: str, value: str) -> None:
    ladder = world.ladder
    text = COMMANDS[command].format(value)
    replies = len(ladder.standin.responses)
    opens = len(ladder.standin.calls("views.open"))
    before = rows(world)

    answer = ladder.acme.slash_command(text, user_id=CEO)

    assert answer.status_code == 200 and answer.text == "", answer.text  # acked at once
    if command == "new":
        view = _opened(ladder, opens)  # a modal, valid Block Kit (the stand-in checks)
        title = next(b for b in view["blocks"] if b["block_id"].startswith("title@"))
        shown = title["element"].get("initial_value", "")
        typed = clean_text(value, single_line=True)  # prefilled as it would be stored
        assert shown == truncate(typed, OBJECTIVE_TITLE_MAX), shown[:80]
        assert_escaped(view, where="/okr new modal")
        return
    ladder.standin.wait_for("response_url", count=replies + 1)
    [reply] = ladder.standin.responses[replies:]
    allow = ("<@U0EVE>",) if command == "status" else ()  # asking for someone's OKRs
    assert_escaped(reply.body, where=f"/okr {text[:40]}", allow=allow)
    after = rows_after(world)
    if command in ("vision", "mission"):
        [workspace] = [w for w in after["workspace"] if w["team_id"] == ACME]
        cleaned = clean_text(" ".join(value.split()), single_line=True)
        if len(cleaned) <= STATEMENT_MAX:
            assert workspace[command] == cleaned  # stored literally (cleaned)
        else:
            assert after == before
    elif command == "team-new":
        names = {t["name"] for t in after["team"]} - {t["name"] for t in before["team"]}
        cleaned = clean_text(value, single_line=True)
        assert names in (set(), {cleaned})
        if len(cleaned) > NAME_MAX:
            assert after == before
    else:  # reading, pausing prompts, linking or closing by name: no OKR changes
        assert after["objective"] == before["objective"]
        assert after["key_result"] == before["key_result"]
    json.dumps(reply.body)  # the reply is plain JSON, nothing exotic in it
