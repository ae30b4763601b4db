"""Steps a person takes in Slack, shared by the end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.blocks.loading import LOADING_CALLBACK
from tests.slack.conftest import CEO, Ladder


def open_new_objective(
    ladder: Ladder, text: str, *, user: str = CEO, fields: Iterable[int] = ()
) -> dict[str, Any]:
    """`/okr new text`; with `fields`, those KR slots get a sentence with no numbers in it and
    Enter, so their fields (kind, start, target…) show, empty, for the test to fill in."""
    before = len(ladder.standin.calls("views.open"))
    assert ladder.acme.slash_command(f"new {text}", user_id=user).status_code == 200
    view = filled_modal(ladder, count=before + 1)
    for slot in fields:
        view = type_sentence(ladder, view, slot, FIELDS_SENTENCE, user=user)
    return view


def filled_modal(ladder: Ladder, *, count: int = 1) -> dict[str, Any]:
    """The modal the `count`-th views.open opened as "Loading…" (bot/blocks/loading.py),
    once the work after the ack replaced it (views.update of that view, with its hash)."""
    opened = ladder.standin.wait_for("views.open", count=count)[count - 1]
    assert opened.ok, opened.response
    assert opened.args["view"]["callback_id"] == LOADING_CALLBACK, "not a loading view"
    return modal_shown(ladder, count=count)


def modal_shown(ladder: Ladder, *, count: int = 1) -> dict[str, Any]:
    """What the `count`-th views.open shows: its view, or for a "Loading…" view the view
    that replaced it (views.update of that view id, with the hash of the open)."""
    opened = ladder.standin.wait_for("views.open", count=count)[count - 1]
    assert opened.ok, opened.response
    view = opened.response["view"]
    if opened.args["view"].get("callback_id") != LOADING_CALLBACK:
        return view
    updated = ladder.standin.wait_for(
        "views.update", predicate=lambda c: c.args.get("view_id") == view["id"]
    )[0]
    assert updated.ok, updated.response
    assert updated.args["hash"] == view["hash"]
    return current(ladder, view)


# A KR sentence with nothing to read: Enter shows its fields and fills in none of them.
FIELDS_SENTENCE = "Grow weekly active users"


def current(ladder: Ladder, view: dict[str, Any]) -> dict[str, Any]:
    found = ladder.standin.view(view["id"])
    assert found is not None
    return found


def rev_of(view: dict[str, Any]) -> int:
    return int(view["blocks"][0]["block_id"].split("@")[1])


def type_sentence(
    ladder: Ladder, view: dict[str, Any], slot: int, sentence: str, *, user: str = CEO
) -> dict[str, Any]:
    """Type a KR sentence and press Enter (dispatch_action): the parser fills the fields."""
    before = len(ladder.standin.calls("views.update"))
    rev = rev_of(view)
    ladder.acme.block_action(
        user_id=user,
        action_id=f"kr_text_{slot}",
        view=view,
        value=sentence,
        values={f"kr{slot}_text@{rev}": {f"kr_text_{slot}": sentence}},
    )
    updated = ladder.standin.wait_for("views.update", count=before + 1)[-1]
    assert updated.ok, updated.response
    return current(ladder, view)


def add_slot(ladder: Ladder, view: dict[str, Any], *, user: str = CEO) -> dict[str, Any]:
    before = len(ladder.standin.calls("views.update"))
    ladder.acme.block_action(user_id=user, action_id="kr_add", view=view)
    assert ladder.standin.wait_for("views.update", count=before + 1)[-1].ok
    return current(ladder, view)


def element(view: dict[str, Any], name: str) -> dict[str, Any]:
    rev = rev_of(view)
    [block] = [b for b in view["blocks"] if b.get("block_id") == f"{name}@{rev}"]
    return block["element"]


def initial(view: dict[str, Any], name: str) -> Any:
    el = element(view, name)
    if "initial_option" in el:
        return el["initial_option"]["value"]
    return el.get("initial_value") or el.get("initial_date")


def fill(view: dict[str, Any], **fields: Any) -> dict[str, dict[str, Any]]:
    """values= for a submission: field name (e.g. kr1_start) -> value, at the view's rev."""
    rev = rev_of(view)
    out: dict[str, dict[str, Any]] = {}
    for name, value in fields.items():
        action = element(view, name)["action_id"]
        out[f"{name}@{rev}"] = {action: value}
    return out
