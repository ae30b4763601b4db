"""Connecting a KR to a data source from the objective's edit form, over signed HTTP."""

from __future__ import annotations

import json

from sqlmodel import Session

from bot.blocks.objective_modal import CONNECT_DATA_ACTION
from tests.factories import reference_company
from tests.slack.conftest import ACME, CEO, Ladder
from tests.slack.test_objectives import ask, click, ephemeral, opened


def test_the_edit_form_offers_connect_data_for_each_saved_kr(ladder: Ladder) -> None:
    with Session(ladder.engine, expire_on_commit=False) as session:
        company = reference_company(session, workspace_id=ACME, owner_id=CEO)
    platform = company.platform.id
    mine = ask(ladder, "mine", user=CEO)
    click(ladder, ephemeral(mine), f"edit_objective:{platform}", user=CEO, value=str(platform))
    editing = opened(ladder, 1)
    buttons = [
        e
        for b in editing["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"].startswith(f"{CONNECT_DATA_ACTION}:")
    ]
    assert len(buttons) == 3  # the platform objective's three KRs, each its own button
    first = buttons[0]
    kr_id = int(first["value"])
    assert first["action_id"] == f"{CONNECT_DATA_ACTION}:{kr_id}"

    # Clicking it puts the Connect data modal on top of the form, that KR chosen.
    response = ladder.acme.block_action(
        user_id=CEO, action_id=first["action_id"], value=first["value"], view=editing
    )
    assert response.status_code == 200
    [pushed] = ladder.standin.wait_for("views.push")
    assert pushed.ok, pushed.response
    view = pushed.args["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["callback_id"].startswith("source")
    assert f'"value": "{kr_id}"' in json.dumps(view)  # the KR picked in the modal


def test_a_new_objective_form_has_no_connect_button(ladder: Ladder) -> None:
    from tests.slack.flows import open_new_objective, type_sentence

    view = open_new_objective(ladder, "Grow the community")
    view = type_sentence(ladder, view, 0, "Grow weekly active users from 10k to 25k")
    assert CONNECT_DATA_ACTION not in json.dumps(view)  # nothing saved to connect yet
