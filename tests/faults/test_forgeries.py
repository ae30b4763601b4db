"""Forged and replayed requests on the surfaces tests/slack/test_surfaces.py leaves out.

test_surfaces.py forges slash commands and events (bad signature, no signature, a stale
timestamp, a body altered after signing). Here the same forgeries, and a timestamp from the
future, hit interactivity (a click on a message, a click inside a modal, a modal submission)
and options (an external select's search): each is answered 401, changes no row, and makes
no Web API call and no response_url post. A genuine request of each kind is sent as a
control, so the table would notice a harness in which nothing ever happens.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlmodel import Session

from bot.blocks.objective_modal import ADD_KR_ACTION, PARENT_ACTION
from bot.blocks.tree import OBJECTIVE_MENU_ACTION
from tests.factories import reference_company
from tests.faults.helpers import snapshot, web_api_calls
from tests.slack.conftest import ACME, CEO, DEV, Ladder
from tests.slack.flows import fill, open_new_objective
from tests.support.slack_sender import SlackSender

FORGED_SECRET = "f" * 32
SUBMITTED_TITLE = "Submitted by the admin"


@dataclass
class Scene:
    """What a person could act on: a status message with menus and an open `/okr new` modal."""

    ladder: Ladder
    platform_id: int
    message: dict[str, Any]
    view: dict[str, Any]
    parent_block: str


@pytest.fixture(scope="module")
def status_post(module_ladder: Ladder) -> tuple[int, dict[str, Any]]:
    """The reference company, and `/okr status all` posted in the channel (once a module)."""
    ladder = module_ladder
    with Session(ladder.engine, expire_on_commit=False) as session:
        company = reference_company(session, workspace_id=ACME, owner_id=CEO)
    before = len(ladder.standin.responses)
    assert ladder.acme.slash_command("status all", user_id=CEO).status_code == 200
    ladder.standin.wait_for("response_url", count=before + 1)
    return company.platform.id, ladder.standin.messages("C0TEAM")[-1]  # type: ignore[return-value]


@pytest.fixture
def scene(shared_ladder: Ladder, status_post: tuple[int, dict[str, Any]]) -> Scene:
    view = open_new_objective(shared_ladder, SUBMITTED_TITLE, fields=[0])
    [parent] = [b for b in view["blocks"] if b["block_id"].startswith("parent@")]
    return Scene(shared_ladder, *status_post, view, parent["block_id"])


Request = Callable[[Scene, SlackSender, str, dict[str, Any]], httpx.Response]


def _menu_click(
    scene: Scene, sender: SlackSender, user: str, opts: dict[str, Any]
) -> httpx.Response:
    return sender.block_action(
        user_id=user,
        action_id=f"{OBJECTIVE_MENU_ACTION}:{scene.platform_id}",
        message=scene.message,
        selected_option=f"edit:{scene.platform_id}",
        **opts,
    )


def _modal_click(
    scene: Scene, sender: SlackSender, user: str, opts: dict[str, Any]
) -> httpx.Response:
    return sender.block_action(user_id=user, action_id=ADD_KR_ACTION, view=scene.view, **opts)


def _submission(
    scene: Scene, sender: SlackSender, user: str, opts: dict[str, Any]
) -> httpx.Response:
    values = fill(
        scene.view,
        title=SUBMITTED_TITLE,
        kr0_text="Grow weekly active users",
        kr0_kind="increase",
        kr0_start="100",
        kr0_target="500",
    )
    return sender.view_submission(scene.view, user_id=user, values=values, **opts)


def _suggestion(
    scene: Scene, sender: SlackSender, user: str, opts: dict[str, Any]
) -> httpx.Response:
    return sender.block_suggestion(
        user_id=user,
        action_id=PARENT_ACTION,
        block_id=scene.parent_block,
        value="launch",
        view=scene.view,
        **opts,
    )


SURFACES: dict[str, Request] = {
    "click-on-message": _menu_click,
    "click-in-modal": _modal_click,
    "view-submission": _submission,
    "options": _suggestion,
}


def _effect_of_genuine(
    scene: Scene, surface: str, answer: httpx.Response, calls: Counter[str]
) -> None:
    """What the same request does when Slack really sent it."""
    standin = scene.ladder.standin
    assert answer.status_code == 200, answer.text
    if surface == "click-on-message":
        opened = standin.wait_for("views.open", count=calls["views.open"] + 1)[-1]
        assert opened.ok and opened.args["view"]["title"]["text"] == "Edit objective"
    elif surface == "click-in-modal":
        assert standin.wait_for("views.update", count=calls["views.update"] + 1)[-1].ok
    elif surface == "view-submission":
        assert answer.text == ""
        standin.wait_for("chat.postMessage", count=calls["chat.postMessage"] + 1)
        titles = [o["title"] for o in snapshot(scene.ladder.engine)["objective"]]
        assert SUBMITTED_TITLE in titles
    else:
        found = answer.json()  # options grouped by team (option_groups), or none at all
        groups = found.get("option_groups", [{"options": found.get("options", [])}])
        labels = [o["text"]["text"].removeprefix("↳ ") for g in groups for o in g["options"]]
        assert labels == ["Launch a new communication platform"]


# How each forgery is made: (which secret signs, request options).
FORGERIES: dict[str, tuple[str | None, Callable[[], dict[str, Any]]]] = {
    "genuine": (None, dict),
    "bad-signature": (FORGED_SECRET, dict),
    "missing-signature": (None, lambda: {"sign": False}),
    # A request captured and replayed after Slack's five minutes: its signature is valid.
    "replayed-after-5-minutes": (None, lambda: {"timestamp": int(time.time()) - 301}),
    "timestamp-from-the-future": (None, lambda: {"timestamp": int(time.time()) + 360}),
    # A member's genuine request, rewritten in transit to act as the admin.
    "body-altered-after-signing": (None, lambda: {"tamper": lambda b: b.replace(DEV, CEO)}),
}


@pytest.mark.parametrize("surface", list(SURFACES))
@pytest.mark.parametrize("forgery", list(FORGERIES))
def test_forged_interactions_are_refused_and_change_nothing(
    scene: Scene, surface: str, forgery: str
) -> None:
    ladder = scene.ladder
    before = snapshot(ladder.engine)
    calls_before = web_api_calls(ladder.standin)
    responses_before = ladder.standin.responses
    secret, options = FORGERIES[forgery]
    user = DEV if forgery == "body-altered-after-signing" else CEO

    with SlackSender(
        ladder.url, secret or ladder.acme.signing_secret, ladder.standin, team_id=ACME
    ) as sender:
        answer = SURFACES[surface](scene, sender, user, options())

    if forgery == "genuine":
        _effect_of_genuine(scene, surface, answer, Counter(calls_before))
        return
    assert answer.status_code == 401, answer.text
    assert "options" not in answer.text  # nothing of the workspace in the refusal
    assert snapshot(ladder.engine) == before
    assert web_api_calls(ladder.standin) == calls_before
    assert ladder.standin.responses == responses_before
