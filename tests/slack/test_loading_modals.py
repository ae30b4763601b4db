"""Modals whose form needs the database open "Loading…" at the ack (views.open with the fresh
trigger, no database work) and get their form after it (views.update by view id, with the
hash of the open), over signed HTTP as Slack sends the requests."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlmodel import Session, select

from bot.blocks.loading import LOADING_CALLBACK, LOADING_TEXT
from bot.blocks.objective_modal import build_objective_form
from bot.services.objectives import ObjectiveService
from storage.models import KeyResult, Objective
from tests.slack.conftest import ACME, CEO, DEV, Ladder
from tests.slack.flows import current, fill
from tests.support.blockkit import validate_view


def _texts(view: dict[str, Any]) -> list[str]:
    return [b["text"]["text"] for b in view["blocks"] if b.get("type") == "section"]


def test_new_opens_loading_then_the_full_form_which_saves(ladder: Ladder) -> None:
    standin = ladder.standin
    answer = ladder.acme.slash_command("new Grow the community", user_id=CEO, channel_id="C0TEAM")
    assert answer.status_code == 200 and answer.text == ""

    # At the ack: a small view with the form's title, opened with the command's trigger.
    [opened] = standin.wait_for("views.open")
    assert opened.ok, opened.response
    loading = opened.args["view"]
    assert loading["callback_id"] == LOADING_CALLBACK
    assert loading["title"]["text"] == "New objective"
    assert _texts(loading) == [LOADING_TEXT] and "submit" not in loading
    assert validate_view(loading) == []

    # After it: the same view (id) becomes the form, guarded by the hash of the open.
    view_id = opened.response["view"]["id"]
    [updated] = standin.wait_for("views.update")
    assert updated.ok, updated.response
    assert updated.args["view_id"] == view_id
    assert updated.args["hash"] == opened.response["view"]["hash"]
    assert [c.method for c in standin.calls() if c.method.startswith("views.")] == [
        "views.open",
        "views.update",
    ]
    expected = build_objective_form(
        ObjectiveService(ladder.engine, clock=ladder.clock).new_objective_form(
            workspace_id=ACME, user_id=CEO, title="Grow the community", channel_id="C0TEAM"
        )
    )
    assert updated.args["view"] == expected

    # The form as shown is submitted: created, as from any form.
    view = current(ladder, opened.response["view"])
    assert view["callback_id"] == "objective_modal"
    ladder.wait_idle()
    submitted = ladder.acme.view_submission(
        view,
        user_id=CEO,
        values=fill(view, kr0_text="Grow weekly active users from 100 to 500 by 2026-03-31"),
    )
    assert submitted.status_code == 200, submitted.text
    assert submitted.text in ("", "{}") or submitted.json() == {}
    with Session(ladder.engine) as session:
        [objective] = session.exec(select(Objective).where(Objective.workspace_id == ACME)).all()
        assert objective.title == "Grow the community" and objective.owner_id == CEO
        [kr] = session.exec(select(KeyResult).where(KeyResult.objective_id == objective.id)).all()
        assert (kr.start_value, kr.target_value) == (100, 500)


def test_a_form_that_cannot_be_built_says_so_in_the_modal(
    ladder: Ladder, caplog: pytest.LogCaptureFixture
) -> None:
    """Edit loads a tree, so it opens as "Loading…"; DEV does not own the objective, so Slack
    is asked whether DEV is an admin, and Slack fails: the modal says what happened."""
    standin = ladder.standin
    created = ladder.acme.slash_command("new Ship the API", user_id=CEO)
    assert created.status_code == 200
    form = current(ladder, standin.wait_for("views.update")[0].response["view"])
    ladder.wait_idle()
    answer = ladder.acme.view_submission(
        form,
        user_id=CEO,
        values=fill(form, kr0_text="Grow weekly active users from 100 to 500 by 2026-03-31"),
    )
    assert answer.status_code == 200, answer.text
    with Session(ladder.engine) as session:
        [objective] = session.exec(select(Objective)).all()
    assert ladder.acme.slash_command("status all", user_id=DEV, channel_id="C0TEAM").status_code
    standin.wait_for("response_url")
    ladder.wait_idle()
    message = standin.messages("C0TEAM")[-1]
    standin.reset()

    standin.fail_next("users.info", error="fatal_error", times=10)
    chosen = ladder.acme.block_action(
        user_id=DEV,
        action_id=f"objective_menu:{objective.id}",
        message=message,
        selected_option=f"edit:{objective.id}",
    )
    assert chosen.status_code == 200
    with caplog.at_level(logging.INFO, logger="ladder.listeners"):
        [opened] = standin.wait_for("views.open")
        [updated] = standin.wait_for("views.update")
        ladder.wait_idle()
    assert opened.args["view"]["title"]["text"] == "Edit objective"
    assert updated.ok and updated.args["view_id"] == opened.response["view"]["id"]
    shown = updated.args["view"]
    assert shown["title"]["text"] == "Edit objective" and "submit" not in shown
    [text] = _texts(shown)
    assert text.startswith("⚠️ Slack did not answer Ladder just now") and "try again" in text
    assert validate_view(shown) == []
    assert standin.responses == []  # said once, where the person looks
    work = [r.getMessage() for r in caplog.records if "event=work" in r.getMessage()]
    assert any("status=error" in line and "error=" in line for line in work), work
    with Session(ladder.engine) as session:
        assert session.get_one(Objective, objective.id).title == "Ship the API"


def test_a_view_changed_meanwhile_is_left_alone(
    ladder: Ladder, caplog: pytest.LogCaptureFixture
) -> None:
    """Slack refuses the update with hash_conflict (the view changed after the open): Ladder
    neither overwrites it nor tells the person something failed."""
    standin = ladder.standin
    standin.fail_next("views.update", error="hash_conflict")
    with caplog.at_level(logging.INFO, logger="ladder.listeners"):
        assert ladder.acme.slash_command("new Grow", user_id=CEO).status_code == 200
        [opened] = standin.wait_for("views.open")
        [refused] = standin.wait_for("views.update")
        ladder.wait_idle()
    assert opened.ok and refused.error == "hash_conflict"
    assert standin.responses == [] and standin.calls("chat.postMessage") == []
    assert len(standin.calls("views.update")) == 1  # no second try over the person's view
    lines = [r.getMessage() for r in caplog.records]
    assert any("event=modal_changed" in line and "hash_conflict" in line for line in lines)
    assert not any("status=error" in line for line in lines if "event=work" in line), lines


def test_a_loading_view_slack_will_not_open_is_told_and_not_filled(ladder: Ladder) -> None:
    standin = ladder.standin
    standin.fail_next("views.open", error="expired_trigger_id")
    assert ladder.acme.slash_command("new Grow", user_id=CEO).status_code == 200
    standin.wait_for("response_url")
    ladder.wait_idle()
    [told] = standin.responses
    assert "did not open the form" in (told.text or "")
    assert told.response_type == "ephemeral"
    assert standin.calls("views.update") == []
