"""The new-objective form, help and the parent picker, end to end over signed HTTP.

Issue #14 (7, 8, 9): the form said "(optional)" on fields Create then required; Enter in a KR
sentence said nothing of what was missing; "within six months" quietly set a due date after
the cycle; numbers read differently on each surface; help mixed admin and everyday commands;
the parent picker was a flat list.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, select

from bot.blocks.objective_modal import kr_preview
from bot.okr.kinds import KRKind, UnitKind
from bot.okr.parse import parse_key_result
from bot.okr.validate import KRSpec
from storage.checkins import record_check_in
from storage.models import KeyResult, Objective
from storage.objectives import create_objective
from storage.teams import create_team
from tests.factories import reference_company
from tests.slack.conftest import ACME, CEO, DEV, Ladder
from tests.slack.flows import (
    current,
    element,
    fill,
    filled_modal,
    open_new_objective,
    rev_of,
    type_sentence,
)
from tests.slack.test_checkins import MONDAY, at_utc, posts_to, sender
from tests.slack.test_objectives import EPHEMERAL_TS, ask, click, ephemeral, seed
from tests.slack.test_surfaces import mrkdwn_texts

TODAY = date(2026, 2, 16)  # the ladder fixture's clock
CYCLE_END = date(2026, 3, 31)  # `/okr new` in a fresh workspace makes Q1 2026
KR_FIELDS = ("kind", "start", "target", "unit", "due")


def inputs(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Input blocks by field name (block id without its revision)."""
    return {b["block_id"].split("@")[0]: b for b in view["blocks"] if b["type"] == "input"}


def context_text(view: dict[str, Any], block_id: str) -> str | None:
    found = [b for b in view["blocks"] if b.get("block_id") == block_id]
    return found[0]["elements"][0]["text"] if found else None


def submit(ladder: Ladder, view: dict[str, Any], **values: Any) -> dict[str, Any]:
    """Create with `values` (field -> value; None empties it): the answer ({} = closed)."""
    answer = ladder.acme.view_submission(view, user_id=CEO, values=fill(view, **values))
    assert answer.status_code == 200, answer.text
    return answer.json() if answer.text else {}


def press_enter(ladder: Ladder, view: dict[str, Any], field: str, value: str) -> dict[str, Any]:
    """Enter in one of a KR's fields (or a choice in its kind select): views.update."""
    before = len(ladder.standin.calls("views.update"))
    action = element(view, field)["action_id"]
    ladder.acme.block_action(
        user_id=CEO,
        action_id=action,
        view=view,
        value=value,
        values={f"{field}@{rev_of(view)}": {action: value}},
    )
    assert ladder.standin.wait_for("views.update", count=before + 1)[-1].ok
    return current(ladder, view)


def stored_krs(ladder: Ladder, title: str) -> list[KeyResult]:
    with Session(ladder.engine) as session:
        [objective] = session.exec(select(Objective).where(Objective.title == title)).all()
        return list(
            session.exec(
                select(KeyResult)
                .where(KeyResult.objective_id == objective.id)
                .order_by(col(KeyResult.id))
            ).all()
        )


# ------------------------------------------------------------------ the objective form


def test_the_empty_form_is_short_and_says_optional_only_where_it_is(ladder: Ladder) -> None:
    view = open_new_objective(ladder, "Make the platform fast")
    fields = inputs(view)
    # One sentence per KR; no kind/start/target/unit/due until the sentence is read.
    assert [n for n in fields if n.startswith("kr")] == ["kr0_text", "kr1_text"]
    assert len(fields) <= 8, list(fields)  # was 17 (18 with teams)
    # The first KR is what every objective needs: not labelled optional; the second is.
    assert fields["kr0_text"]["optional"] is False and fields["kr1_text"]["optional"] is True

    # Every input labelled optional can be left empty and Create still succeeds.
    view = type_sentence(ladder, view, 0, "Grow weekly active users from 100 to 500 by June 30")
    optional = [n for n, b in inputs(view).items() if b.get("optional", False)]
    assert {"description", "parent", "kr1_text", "kr0_start", "kr0_unit", "kr0_due"} <= set(
        optional
    )
    assert submit(ladder, view, **dict.fromkeys(optional)) == {}
    [kr] = stored_krs(ladder, "Make the platform fast")
    assert (kr.start_value, kr.target_value) == (100, 500)  # read from the sentence

    # Every text input labelled required is refused empty, under that input. A decrease with
    # no baseline in its sentence needs the start; its target is in the sentence: optional.
    view = open_new_objective(ladder, "Make the platform faster")
    view = type_sentence(ladder, view, 0, "Reduce p95 latency to 100 ms")
    required = [
        n
        for n, b in inputs(view).items()
        if not b.get("optional", False)
        and b["element"]["type"] in ("plain_text_input", "users_select")
    ]
    assert {"title", "owner", "kr0_text", "kr0_start"} <= set(required)
    assert "kr0_target" not in required
    assert inputs(view)["kr0_target"]["hint"]["text"] == "Empty: 100, as the sentence says."
    for name in required:
        answer = submit(ladder, view, **{name: None})
        assert answer.get("response_action") == "errors", name
        assert f"{name}@{rev_of(view)}" in answer["errors"], (name, answer["errors"])


def test_enter_on_a_decrease_without_a_baseline_says_so_under_it(ladder: Ladder) -> None:
    view = open_new_objective(ladder, "Make the platform fast")
    updates = len(ladder.standin.calls("views.update"))
    view = type_sentence(ladder, view, 0, "Reduce p95 latency to 100 ms")
    assert len(ladder.standin.calls("views.update")) == updates + 1  # said at Enter, via update

    start = inputs(view)["kr0_start"]
    assert start["optional"] is False  # never "Start value (optional)" on a decrease
    assert "A decrease needs a start value" in start["hint"]["text"]
    assert inputs(view)["kr0_target"]["element"]["initial_value"] == "100"
    assert context_text(view, "kr0_preview") is None  # said once, under the field

    # An increase needs no baseline: the same field is optional, and says what empty means.
    view = type_sentence(ladder, view, 1, "Grow weekly active users to 500")
    assert inputs(view)["kr1_start"]["optional"] is True
    assert "from 0" in inputs(view)["kr1_start"]["hint"]["text"]

    # Choosing "Decrease to" for it makes its start required at once (kind select dispatches).
    view = press_enter(ladder, view, "kr1_kind", "decrease")
    assert inputs(view)["kr1_start"]["optional"] is False

    # Enter in the start value: the hint goes, the preview says how it will be measured.
    view = press_enter(ladder, view, "kr0_start", "250")
    assert "hint" not in inputs(view)["kr0_start"]
    assert context_text(view, "kr0_preview") == "📏 Decrease 250 → 100 ms by Mar 31"


def test_a_sentence_submitted_without_enter_gets_its_error_under_the_sentence(
    ladder: Ladder,
) -> None:
    view = open_new_objective(ladder, "Make the platform fast")
    answer = submit(ladder, view, kr0_text="Reduce p95 latency to 100 ms")
    errors = answer["errors"]
    [(where, message)] = errors.items()
    assert where == f"kr0_text@{rev_of(view)}"  # the start field is not shown yet
    assert "start value" in message and "Press Enter" in message


def test_a_due_date_after_the_cycle_is_warned_and_the_cycle_end_offered(ladder: Ladder) -> None:
    view = open_new_objective(ladder, "Grow the community")
    view = type_sentence(ladder, view, 0, "Achieve 1 million active users within six months")
    assert inputs(view)["kr0_due"]["element"]["initial_date"] == "2026-08-16"
    [warning] = [b for b in view["blocks"] if b.get("block_id") == "kr0_due_warning"]
    assert "Aug 16" in warning["text"]["text"] and "Mar 31" in warning["text"]["text"]
    assert warning["accessory"]["text"]["text"] == "Use Mar 31"

    before = len(ladder.standin.calls("views.update"))
    ladder.acme.block_action(
        user_id=CEO,
        action_id=warning["accessory"]["action_id"],
        value=warning["accessory"]["value"],
        view=view,
    )
    assert ladder.standin.wait_for("views.update", count=before + 1)[-1].ok
    view = current(ladder, view)
    assert inputs(view)["kr0_due"]["element"]["initial_date"] == CYCLE_END.isoformat()
    assert not [b for b in view["blocks"] if b.get("block_id") == "kr0_due_warning"]
    assert context_text(view, "kr0_preview") == "📏 Increase 0 → 1M active users by Mar 31"

    assert submit(ladder, view) == {}
    [kr] = stored_krs(ladder, "Grow the community")
    assert kr.due_date == CYCLE_END


SENTENCES = [
    "Reduce p95 latency from 250 to 100 ms by June 30",
    "Grow MRR from $50k to $120k",
    "Achieve 1 million active users within six months",
    "Keep NPS at 9 or higher",
    "Ship the mobile app by March 15",
    "Raise engagement from 40% to 52%",
]


@pytest.mark.parametrize("sentence", SENTENCES)
def test_the_preview_line_is_what_the_parser_read_and_what_is_saved(
    ladder: Ladder, sentence: str
) -> None:
    view = open_new_objective(ladder, "Previewed")
    view = type_sentence(ladder, view, 0, sentence)
    preview = context_text(view, "kr0_preview")
    proposal = parse_key_result(sentence, today=TODAY)
    assert proposal is not None and preview is not None
    read = KRSpec(
        sentence,
        proposal.kind,
        1.0 if proposal.kind is KRKind.MILESTONE else proposal.target,  # type: ignore[arg-type]
        start_value=proposal.start,
        unit=proposal.unit,
        unit_label=proposal.unit_label,
        due_date=proposal.due,
    )
    assert preview == f"📏 {kr_preview(read, cycle_end=CYCLE_END)}"

    assert submit(ladder, view) == {}
    [kr] = stored_krs(ladder, "Previewed")
    saved = KRSpec(
        kr.title,
        KRKind(kr.kind),
        kr.target_value,
        start_value=kr.start_value,
        unit=UnitKind(kr.unit),
        unit_label=kr.unit_label,
        due_date=kr.due_date,
    )
    assert preview == f"📏 {kr_preview(saved, cycle_end=CYCLE_END)}"


# ------------------------------------------------------------------ one number format


@pytest.fixture
def priced(ladder: Ladder) -> dict[str, int]:
    """The CEO's KRs whose numbers the issue saw shown differently on each surface."""
    ladder.clock.now = at_utc(MONDAY, 0) - timedelta(days=14)
    with Session(ladder.engine, expire_on_commit=False) as session:
        ref = reference_company(session, workspace_id=ACME, owner_id=CEO, now=ladder.clock.now)
        objective = create_objective(
            session=session,
            workspace_id=ACME,
            cycle_id=ref.cycle.id,
            owner_id=CEO,
            title="Serve customers for less",
            key_results=[
                KRSpec("Cost per ticket", KRKind.DECREASE, 0.25, 0.37, UnitKind.CURRENCY, "USD"),
                KRSpec("Teams on the new plan", KRKind.INCREASE, 10_000, 0, unit_label="teams"),
                KRSpec("Weekly active users", KRKind.INCREASE, 1e6, 0),
                KRSpec("Monthly signups", KRKind.INCREASE, 1e6, 0),
            ],
            now=ladder.clock.now,
        )
        krs = {
            kr.title: kr.id
            for kr in session.exec(
                select(KeyResult).where(KeyResult.objective_id == objective.id)
            ).all()
        }
        for title, value in (("Teams on the new plan", 4844), ("Weekly active users", 464_600)):
            record_check_in(
                session=session,
                workspace_id=ACME,
                key_result_id=krs[title],
                author_id=CEO,
                value=value,
                period_start=ladder.clock.now.date(),
                now=ladder.clock.now,
            )
        session.commit()
    return krs


SAME_EVERYWHERE = ["$0.37 → $0.25", "4.84k / 10k teams", "464.6k / 1M", "0 / 1M"]
OLD_FORMS = [
    re.compile(r"(?<![$€\d.,])\d[\d.,]*[kMBT]? → \$"),  # "0.37 → $0.25": a symbol on one side
    re.compile(r"— / "),  # "— / 1M" before the first check-in
    re.compile(r"\b\d{1,3},\d{3}(\.\d+)? / \d"),  # "4,844 / 10k" beside "464.6k / 1M"
]


def test_the_same_number_reads_the_same_on_every_surface(
    ladder: Ladder, priced: dict[str, int]
) -> None:
    ladder.clock.now = at_utc(MONDAY, 15, 0)
    status = "\n".join(mrkdwn_texts(ask(ladder, "status all", user=CEO).blocks))
    mine = "\n".join(mrkdwn_texts(ask(ladder, "mine", user=CEO).blocks))
    assert ladder.acme.slash_command("checkin", user_id=CEO).status_code == 200
    [opened] = ladder.standin.wait_for("views.open")
    modal = opened.response["view"]
    modal_text = "\n".join(mrkdwn_texts(modal["blocks"]))
    for shown in SAME_EVERYWHERE:
        for name, surface in (("status", status), ("mine", mine), ("check-in", modal_text)):
            assert shown in surface, (shown, name)
    # "Now at" says what it is typed in.
    labels = {b["block_id"]: b["label"]["text"] for b in modal["blocks"] if b["type"] == "input"}
    assert labels[f"value:{priced['Cost per ticket']}"] == "Now at ($)"
    assert labels[f"value:{priced['Teams on the new plan']}"] == "Now at (teams)"

    # The weekly DM, answered: the change is said in the same format.
    sender(ladder).run()
    prompt = next(c for c in posts_to(ladder, CEO) if "metadata" in c.args).response["message"]
    ladder.acme.block_action(user_id=CEO, action_id="prompt_checkin", message=prompt)
    view = ladder.standin.wait_for("views.open", count=2)[-1].response["view"]
    cost = f"value:{priced['Cost per ticket']}"
    answer = ladder.acme.view_submission(
        view, user_id=CEO, values={cost: {element_action(view, cost): "0.36"}}
    )
    assert answer.status_code == 200 and answer.text == "", answer.text
    [update] = ladder.standin.wait_for("chat.update")
    dm = "\n".join(mrkdwn_texts(update.args["blocks"]))
    assert "Cost per ticket: $0.37 → *$0.36*" in dm

    # Grades at cycle close: always two decimals.
    grades = "\n".join(mrkdwn_texts(ask(ladder, "cycle close h1 2026", user=CEO).blocks))
    shown_grades = re.findall(r"[🟢🟡🔴] \*?(\d+\.\d+)", grades)
    assert len(shown_grades) >= 10 and all(len(g.split(".")[1]) == 2 for g in shown_grades)

    for name, surface in (("status", status), ("mine", mine), ("check-in", modal_text), ("dm", dm)):
        for old in OLD_FORMS:
            assert not old.search(surface), (name, old.pattern, old.search(surface))


def element_action(view: dict[str, Any], block_id: str) -> str:
    [block] = [b for b in view["blocks"] if b.get("block_id") == block_id]
    return str(block["element"]["action_id"])


# ------------------------------------------------------------------ help and the picker


def test_help_puts_everyday_commands_first_with_buttons_that_work(ladder: Ladder) -> None:
    post = ask(ladder, "help", user=DEV)
    kinds = [b.get("block_id") or b["type"] for b in post.blocks or []]
    assert kinds.index("help_buttons") < kinds.index("help_everyday") < kinds.index("help_admin")
    buttons = next(b for b in post.blocks or [] if b.get("block_id") == "help_buttons")
    labels = [e["text"]["text"] for e in buttons["elements"]]
    assert labels[:3] == ["➕ New objective", "✅ Check in", "📊 Status"]
    admin = next(b for b in post.blocks or [] if b.get("block_id") == "help_admin")
    assert admin["type"] == "context"  # folded for a member

    message = ephemeral(post)
    click(ladder, message, "help:new", user=DEV, value="new")
    assert filled_modal(ladder)["callback_id"] == "objective_modal"

    before = len(ladder.standin.calls("response_url"))
    click(ladder, message, "help:status", user=DEV, value="status")
    ladder.standin.wait_for("response_url", count=before + 1)
    answered = ladder.standin.responses[-1]
    assert answered.text and "help" not in answered.text.lower()
    assert message["ts"] == EPHEMERAL_TS


def test_the_parent_picker_groups_objectives_by_team_and_level(ladder: Ladder) -> None:
    def build(session: Session) -> dict[str, int]:
        ref = reference_company(session, workspace_id=ACME, owner_id=CEO)
        engineering = create_team(session=session, workspace_id=ACME, name="Engineering")
        platform = create_team(
            session=session, workspace_id=ACME, name="Platform", parent_id=engineering.id
        )
        api = create_objective(
            session=session,
            workspace_id=ACME,
            cycle_id=ref.cycle.id,
            owner_id=DEV,
            title="Ship the API",
            team_id=platform.id,
            parent_id=ref.platform.id,
        )
        hiring = create_objective(
            session=session,
            workspace_id=ACME,
            cycle_id=ref.cycle.id,
            owner_id=DEV,
            title="Hire the platform team",
            team_id=platform.id,
        )
        return {"api": api.id, "hiring": hiring.id, "platform": ref.platform.id}  # type: ignore[dict-item]

    ids = seed(ladder, build)
    view = open_new_objective(ladder, "Grow the community")
    parent = element(view, "parent")
    assert parent["type"] == "external_select"  # nothing loaded when the form opens
    answer = ladder.acme.block_suggestion(
        user_id=CEO,
        action_id=parent["action_id"],
        block_id=f"parent@{rev_of(view)}",
        value="",
        view=view,
    ).json()
    groups = {
        g["label"]["text"]: [o["text"]["text"] for o in g["options"]]
        for g in answer["option_groups"]
    }
    assert list(groups) == ["🏢 Company", "👥 Engineering › Platform"]
    assert set(groups["🏢 Company"]) == {
        "Launch a new communication platform",
        "Enhance customer support",
    }
    # Top level first, then what ladders up to another objective, marked.
    assert groups["👥 Engineering › Platform"] == ["Hire the platform team", "↳ Ship the API"]
    narrowed = ladder.acme.block_suggestion(
        user_id=CEO,
        action_id=parent["action_id"],
        block_id=f"parent@{rev_of(view)}",
        value="api",
        view=view,
    ).json()
    assert [
        (g["label"]["text"], [o["value"] for o in g["options"]]) for g in narrowed["option_groups"]
    ] == [("👥 Engineering › Platform", [str(ids["api"])])]
