"""✨ Suggest KRs in the objective form, over signed HTTP, with a fake OpenAI-compatible model
server on loopback: off by default; when configured, only what the KR parser reads is offered,
with the coach's hints; Add puts one in the form; failures say why and keep what was typed."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.config import load_settings
from storage.models import KeyResult, Objective
from tests.slack.conftest import ACME, ACME_TOKEN, CEO, SECRET, Ladder, serve_ladder
from tests.slack.conftest import TestClock as Clock
from tests.slack.flows import current, initial, open_new_objective, rev_of, type_sentence
from tests.support.llm_server import Asked, FakeLLM, Reply, completion, key_results
from tests.support.slack_standin import SlackStandIn

GOOD = "Cut monthly churn from 4% to 2% by Mar 31"
MILESTONE = "Launch the customer advisory board by Mar 31"  # work, not an outcome: coached
NO_BASELINE = "Cut the support backlog to 50 tickets by Mar 31"  # a decrease with no start
UNREADABLE = "Improve how customers feel about us"  # no number: never offered
TYPED_KR = "Grow weekly active teams from 120 to 300"
KEY_ENV = "LADDER_TEST_LLM_KEY"


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server


def serve_with_model(standin: SlackStandIn, engine: Engine, llm: FakeLLM, **extra: str) -> Any:
    settings = load_settings(
        {
            "SLACK_BOT_TOKEN": ACME_TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": standin.api_url,
            "LADDER_SCHEDULER": "off",
            "LADDER_LLM_URL": llm.url,
            "LADDER_LLM_MODEL": "fake-llama",
            "LADDER_LLM_API_KEY_ENV": KEY_ENV,
            KEY_ENV: "sk-test",
            **extra,
        }
    )
    clock = Clock(datetime(2026, 2, 16, 9, 0, tzinfo=UTC))
    return serve_ladder(settings, standin, engine, clock)


@pytest.fixture
def suggesting(
    standin: SlackStandIn, engine: Engine, llm: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Ladder]:
    monkeypatch.setenv(KEY_ENV, "sk-test")  # read when a suggestion is asked for
    with serve_with_model(standin, engine, llm) as ladder:
        yield ladder


def buttons(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every button of the view, by action_id."""
    found = {}
    for block in view["blocks"]:
        for element in [*block.get("elements", []), block.get("accessory") or {}]:
            if element.get("type") == "button":
                found[element["action_id"]] = element
    return found


def offered(view: dict[str, Any]) -> dict[str, str]:
    """The suggestions on offer: sentence -> the text of its line (preview and hints)."""
    return {
        b["accessory"]["value"]: b["text"]["text"]
        for b in view["blocks"]
        if b.get("accessory", {}).get("action_id", "").startswith("kr_suggestion_add:")
    }


def note(view: dict[str, Any]) -> str:
    [block] = [b for b in view["blocks"] if b.get("block_id") == "kr_suggest_note"]
    return str(block["elements"][0]["text"])


TYPED = {
    "title": ("title", "Delight our customers"),
    "description": ("description", "Churn doubled last quarter & we know why"),
    "kr0_text": ("kr_text_0", TYPED_KR),
}


def typed_values(view: dict[str, Any]) -> dict[str, dict[str, str]]:
    """What the person typed into the form (not Entered: the fields hold it, Slack's state
    says it), at the view's revision."""
    rev = rev_of(view)
    return {f"{name}@{rev}": {action: value} for name, (action, value) in TYPED.items()}


def ask_for_suggestions(ladder: Ladder, view: dict[str, Any]) -> list[dict[str, Any]]:
    """Click ✨ Suggest KRs with the form typed in; the two updates: asking, then answered."""
    before = len(ladder.standin.calls("views.update"))
    ladder.acme.block_action(
        user_id=CEO, action_id="kr_suggest", view=view, values=typed_values(view)
    )
    updates = ladder.standin.wait_for("views.update", count=before + 2, timeout=15)[before:]
    assert all(u.ok for u in updates), [u.response for u in updates]
    return [u.args["view"] for u in updates]


def assert_typed_input_kept(view: dict[str, Any], rev: int) -> None:
    """Same revision (so Slack keeps every input as it is typed), and the form says what was
    typed at the click too."""
    assert rev_of(view) == rev
    for name, (_, value) in TYPED.items():
        assert initial(view, name) == value, name


def test_off_by_default_no_button_and_nothing_leaves(ladder: Ladder, llm: FakeLLM) -> None:
    view = open_new_objective(ladder, "Delight our customers")
    assert "kr_suggest" not in buttons(view)
    view = type_sentence(ladder, view, 0, TYPED_KR)
    assert "kr_suggest" not in buttons(view) and offered(view) == {}
    assert "Suggest" not in json.dumps(view)
    assert llm.requests == []


def test_suggestions_are_read_coached_offered_and_added_with_one_click(
    suggesting: Ladder, llm: FakeLLM
) -> None:
    ladder = suggesting
    llm.reply(key_results(UNREADABLE, MILESTONE, GOOD, NO_BASELINE, TYPED_KR))
    view = open_new_objective(ladder, "Delight our customers")
    assert buttons(view)["kr_suggest"]["text"]["text"] == "✨ Suggest KRs"
    asking, answered = ask_for_suggestions(ladder, view)

    # While the model thinks: a note, no second button, nothing typed lost.
    assert "⏳ Asking fake-llama for key results" in json.dumps(asking, ensure_ascii=False)
    assert "kr_suggest" not in buttons(asking)
    assert_typed_input_kept(asking, rev=0)

    # What was asked: the objective as typed, with the key from the named variable.
    [asked] = llm.requests
    assert asked.headers["Authorization"] == "Bearer sk-test"
    assert asked.body["model"] == "fake-llama"
    for said in (
        "Objective: Delight our customers",
        "Why it matters: Churn doubled last quarter & we know why",
        f"- {TYPED_KR}",
        "Cycle: Q1 2026",
    ):
        assert said in asked.prompt, said

    # What is offered: only what the parser reads, not what is typed already; hints shown.
    assert_typed_input_kept(answered, rev=0)
    lines = offered(answered)
    assert list(lines) == [GOOD, NO_BASELINE, MILESTONE]  # nothing to coach first
    assert "📏 Decrease 4% → 2% by Mar 31" in lines[GOOD] and "💡" not in lines[GOOD]
    assert "💡 “Launch …” names work to do" in lines[MILESTONE]
    # what Create will ask for, as the form says it
    assert "⚠️ A decrease needs a start value" in lines[NO_BASELINE]
    assert "1 more suggestion could not be read" in note(answered)
    assert "Suggested by fake-llama" in json.dumps(answered)
    assert buttons(answered)["kr_suggest"]["text"]["text"] == "✨ Suggest again"

    # Add: into the first empty slot, read as Enter reads it; the others stay on offer.
    view = current(ladder, view)
    before = len(ladder.standin.calls("views.update"))
    ladder.acme.block_action(
        user_id=CEO,
        action_id=buttons(view)["kr_suggestion_add:0"]["action_id"],
        view=view,
        value=GOOD,
    )
    [added] = ladder.standin.wait_for("views.update", count=before + 1)[before:]
    assert added.ok, added.response
    view = current(ladder, view)
    assert rev_of(view) == 1
    assert initial(view, "kr0_text") == TYPED_KR  # what was typed stays
    assert initial(view, "kr1_text") == GOOD
    assert initial(view, "kr1_kind") == "decrease"
    assert (initial(view, "kr1_start"), initial(view, "kr1_target")) == ("4", "2")
    assert initial(view, "kr1_unit") == "%"
    assert list(offered(view)) == [NO_BASELINE, MILESTONE]

    # Create saves it like any typed KR.
    answer = ladder.acme.view_submission(view, user_id=CEO)
    assert answer.status_code == 200 and answer.text == "", answer.text
    ladder.wait_idle()
    with Session(ladder.engine) as session:
        objective = session.exec(select(Objective).where(Objective.workspace_id == ACME)).one()
        krs = session.exec(select(KeyResult).where(KeyResult.objective_id == objective.id)).all()
    assert objective.title == "Delight our customers"
    assert sorted(kr.title for kr in krs) == sorted([TYPED_KR, GOOD])


def test_suggestions_stay_on_offer_when_the_form_is_re_rendered(
    suggesting: Ladder, llm: FakeLLM
) -> None:
    ladder = suggesting
    llm.reply(key_results(GOOD, NO_BASELINE))
    view = open_new_objective(ladder, "Delight our customers")
    ask_for_suggestions(ladder, view)
    view = current(ladder, view)
    # Enter in a KR re-renders the form (a new revision): the offers are kept, less one
    # the person has since typed themselves.
    view = type_sentence(ladder, view, 1, NO_BASELINE)
    assert list(offered(view)) == [GOOD]
    assert len(llm.requests) == 1  # nothing asked again


def test_a_form_changed_while_the_model_thinks_wins(suggesting: Ladder, llm: FakeLLM) -> None:
    ladder = suggesting
    gate = threading.Event()

    def slow(_asked: Asked) -> Reply:
        gate.wait(10)
        return key_results(GOOD)

    llm.answer = slow
    view = open_new_objective(ladder, "Delight our customers")
    before = len(ladder.standin.calls("views.update"))
    ladder.acme.block_action(
        user_id=CEO, action_id="kr_suggest", view=view, values=typed_values(view)
    )
    ladder.standin.wait_for("views.update", count=before + 1)
    # Meanwhile Enter in a KR: the form moves on (a new hash).
    view = type_sentence(ladder, current(ladder, view), 1, NO_BASELINE)
    gate.set()
    late = ladder.standin.wait_for("views.update", count=before + 3, timeout=15)[-1]
    # Slack refuses the older form rather than let it replace the newer one.
    assert late.error == "hash_conflict"
    assert initial(current(ladder, view), "kr1_text") == NO_BASELINE


@pytest.mark.parametrize(
    ("reply", "said"),
    [
        (Reply(500, b'{"error": {"message": "CUDA out of memory"}}'), "answered HTTP 500"),
        (Reply(body=b"<html>Bad gateway</html>"), "the model server's answer is not JSON"),
        (completion("Sorry, I can't help with that."), "suggested nothing Ladder could read"),
        (Reply(body=b"{}", delay=30), "did not answer within 1 seconds"),
    ],
    ids=["500", "not-json", "nothing-readable", "timeout"],
)
def test_a_failure_says_why_and_keeps_what_was_typed(
    standin: SlackStandIn,
    engine: Engine,
    llm: FakeLLM,
    monkeypatch: pytest.MonkeyPatch,
    reply: Reply,
    said: str,
) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-test")
    llm.reply(reply)
    with serve_with_model(standin, engine, llm, LADDER_LLM_TIMEOUT="1") as ladder:
        view = open_new_objective(ladder, "Delight our customers")
        _, answered = ask_for_suggestions(ladder, view)
    assert said in note(answered)
    assert offered(answered) == {}
    assert_typed_input_kept(answered, rev=0)
    assert buttons(answered)["kr_suggest"]["text"]["text"] == "✨ Suggest KRs"  # ask again


def test_no_title_no_question(suggesting: Ladder, llm: FakeLLM) -> None:
    ladder = suggesting
    view = open_new_objective(ladder, "")
    before = len(ladder.standin.calls("views.update"))
    ladder.acme.block_action(user_id=CEO, action_id="kr_suggest", view=view)
    [update] = ladder.standin.wait_for("views.update", count=before + 1)[before:]
    assert "Type the objective first" in note(update.args["view"])
    assert llm.requests == []
