"""Company, team and personal objectives over signed HTTP (issue 18, levels and alignment).

- `/okr status @person` shows that person's objectives, their own (personal) ones included,
  from the stored roll-up; Home shows mine in a section of their own.
- A team or personal objective aligned to nothing is flagged where it is shown, with an Align
  button for its owner; a company objective without its why is flagged, with the button to
  write it. Nothing else is flagged.
- The form asks for the level; a company objective needs its why, said under that field.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from sqlmodel import Session, select

from bot.blocks.tree import ALIGN_OBJECTIVE_ACTION, EDIT_OBJECTIVE_ACTION
from bot.okr.kinds import KRKind, Level
from bot.okr.validate import KRSpec
from storage.cycles import create_cycle
from storage.models import Objective
from storage.objectives import create_objective
from storage.teams import create_team, link_channel
from storage.workspaces import ensure_workspace, update_workspace
from tests.factories import MISSION, VISION
from tests.slack.conftest import ACME, CEO, DEV, EVE, Ladder
from tests.slack.flows import (
    current,
    element,
    fill,
    modal_shown,
    open_new_objective,
    rev_of,
    type_sentence,
)
from tests.slack.test_surfaces import (
    ask,
    click,
    element_ids,
    mrkdwn_texts,
    readable,
    seed,
)

ORPHAN_FLAG = "Ladders up to nothing"
NO_WHY_FLAG = "Says no why"
WHY = "The mission: technology that transforms lives, for everyone."


def levels(session: Session) -> dict[str, int]:
    """Every level, aligned and not: two company objectives (one says its why), two team
    objectives (one aligned), two of EVE's own (one aligned under the team's)."""
    ensure_workspace(session=session, workspace_id=ACME, name="Acme Tech")
    update_workspace(session=session, workspace_id=ACME, vision=VISION, mission=MISSION)
    cycle = create_cycle(
        session=session,
        workspace_id=ACME,
        name="Q1 2026",
        start_date=date(2026, 1, 5),
        end_date=date(2026, 3, 31),
    )
    platform = create_team(session=session, workspace_id=ACME, name="Platform")
    link_channel(session=session, workspace_id=ACME, team_id=platform.id, channel_id="C0PLAT")
    ids: dict[str, int] = {}

    def objective(
        title: str,
        owner: str,
        level: Level,
        *,
        parent: str | None = None,
        why: str = "",
    ) -> None:
        made = create_objective(
            session=session,
            workspace_id=ACME,
            cycle_id=cycle.id,
            owner_id=owner,
            title=title,
            description=why,
            team_id=platform.id if level is Level.TEAM else None,
            parent_id=ids[parent] if parent else None,
            level=level,
            key_results=[KRSpec(f"{title}: measure", KRKind.INCREASE, 100, start_value=0)],
        )
        ids[title] = made.id  # type: ignore[assignment]

    objective("Delight every customer", CEO, Level.COMPANY, why=WHY)
    objective("Grow revenue", CEO, Level.COMPANY)  # no why
    objective("Make the API fast", DEV, Level.TEAM, parent="Delight every customer")
    objective("Rewrite the build", DEV, Level.TEAM)  # an orphan team objective
    objective("Learn Rust", EVE, Level.PERSONAL, parent="Make the API fast")
    objective("Speak at a conference", EVE, Level.PERSONAL)  # an orphan of EVE's own
    return ids


def section_of(blocks: list[dict[str, Any]], title: str) -> tuple[str, dict[str, Any] | None]:
    """The text of the objective's section, and the block right after it if it is its fix
    (an actions block of one button)."""
    for i, block in enumerate(blocks):
        text = (block.get("text") or {}).get("text", "")
        if block["type"] == "section" and f"*{title}*" in text:
            after = blocks[i + 1] if i + 1 < len(blocks) else None
            fix = after if after and after["type"] == "actions" else None
            return text, fix
    raise AssertionError(f"{title} not shown")


def fix_ids(fix: dict[str, Any] | None) -> list[str]:
    return [e["action_id"] for e in (fix or {}).get("elements", [])]


def test_a_persons_status_shows_their_own_objectives_with_the_orphan_flagged(
    ladder: Ladder,
) -> None:
    ids = seed(ladder, levels)
    post = ask(ladder, ladder.acme, f"status <@{EVE}|eve>", user=DEV)
    assert post.response_type == "in_channel"
    blocks = post.blocks or []
    assert blocks[0]["text"]["text"] == "OKR status · eve"
    text = readable(post)
    assert "*2 objectives ·" in text  # the summary: EVE's two, from the stored roll-up
    assert "Make the API fast" not in text and "Rewrite the build" not in text  # DEV's

    aligned, aligned_fix = section_of(blocks, "Learn Rust")
    orphan, orphan_fix = section_of(blocks, "Speak at a conference")
    assert ORPHAN_FLAG not in aligned and aligned_fix is None
    assert ORPHAN_FLAG in orphan
    assert fix_ids(orphan_fix) == [f"{ALIGN_OBJECTIVE_ACTION}:{ids['Speak at a conference']}"]
    assert "<@" not in json.dumps(blocks)

    # Someone else's Align is refused privately; the owner's opens the align dialog.
    orphan_id = ids["Speak at a conference"]
    click(
        ladder,
        ladder.acme,
        post,
        f"{ALIGN_OBJECTIVE_ACTION}:{orphan_id}",
        user=DEV,
        value=str(orphan_id),
    )
    ladder.wait_idle()
    assert ladder.standin.calls("views.open") == []
    assert "the owner" in json.dumps(ladder.standin.responses[-1].body)
    click(
        ladder,
        ladder.acme,
        post,
        f"{ALIGN_OBJECTIVE_ACTION}:{orphan_id}",
        user=EVE,
        value=str(orphan_id),
    )
    [opened] = ladder.standin.wait_for("views.open")
    assert opened.ok, opened.response
    view = opened.response["view"]
    assert view["callback_id"] == "align_modal"
    assert "Speak at a conference" in json.dumps(view["blocks"], ensure_ascii=False)

    # Aligned under the team's objective, it is flagged no more.
    parent = ids["Make the API fast"]
    chosen = {"text": {"type": "plain_text", "text": "Make the API fast"}, "value": str(parent)}
    [parent_block] = [b for b in view["blocks"] if b.get("block_id") == "parent"]
    values = {"parent": {parent_block["element"]["action_id"]: chosen}}
    answer = ladder.acme.view_submission(view, user_id=EVE, values=values)
    assert answer.status_code == 200 and not answer.text.strip(), answer.text
    after = ask(ladder, ladder.acme, f"status <@{EVE}|eve>", user=DEV)
    assert ORPHAN_FLAG not in readable(after)
    assert not [i for i in element_ids(after.blocks) if i.startswith(ALIGN_OBJECTIVE_ACTION)]


def test_status_all_flags_orphans_and_company_objectives_without_a_why_and_nothing_else(
    ladder: Ladder,
) -> None:
    ids = seed(ladder, levels)
    post = ask(ladder, ladder.acme, "status all", user=DEV)
    blocks = post.blocks or []
    expected = {
        "Delight every customer": None,
        "Grow revenue": (NO_WHY_FLAG, EDIT_OBJECTIVE_ACTION),
        "Make the API fast": None,
        "Rewrite the build": (ORPHAN_FLAG, ALIGN_OBJECTIVE_ACTION),
        "Learn Rust": None,
        "Speak at a conference": (ORPHAN_FLAG, ALIGN_OBJECTIVE_ACTION),
    }
    for title, flag in expected.items():
        text, fix = section_of(blocks, title)
        if flag is None:
            assert ORPHAN_FLAG not in text and NO_WHY_FLAG not in text, title
            assert fix is None, title
        else:
            words, action = flag
            assert words in text, title
            assert fix_ids(fix) == [f"{action}:{ids[title]}"], title
    # Personal objectives say so where teams are labelled; none is called company-wide.
    learn, _ = section_of(blocks, "Learn Rust")
    assert "· personal ·" in learn
    assert "Company-wide" not in readable(post)
    assert len(blocks) <= 50


def test_home_shows_my_personal_objectives_apart_and_the_company_level_without_them(
    ladder: Ladder,
) -> None:
    ids = seed(ladder, levels)
    assert ladder.acme.app_home_opened(user_id=EVE).status_code == 200
    [published] = ladder.standin.wait_for("views.publish")
    home = published.args["view"]["blocks"]
    headers = [b["text"]["text"] for b in home if b["type"] == "header"]
    assert "Your personal objectives" in headers
    start = headers_at(home, "Your personal objectives") + 1
    end = next(i for i in range(start, len(home)) if home[i]["type"] == "header")
    section = "\n".join(mrkdwn_texts(home[start:end]))
    assert "*Learn Rust*" in section and "*Speak at a conference*" in section
    assert "Make the API fast" not in section  # DEV's, not EVE's own
    _, orphan_fix = section_of(home, "Speak at a conference")
    assert fix_ids(orphan_fix) == [f"{ALIGN_OBJECTIVE_ACTION}:{ids['Speak at a conference']}"]
    assert section_of(home, "Learn Rust")[1] is None
    # Company objectives: the company level only (EVE's own have no team either).
    company = home[headers_at(home, "Company objectives") :]
    shown = json.dumps(company, ensure_ascii=False)
    assert "Delight every customer" in shown and "Grow revenue" in shown
    assert "Learn Rust" not in shown and "Speak at a conference" not in shown
    # Fix buttons on Home are the viewer's own: EVE does not own "Grow revenue".
    assert f"{EDIT_OBJECTIVE_ACTION}:{ids['Grow revenue']}" not in element_ids(company)

    # DEV has no personal objective: no such section; his orphan team objective has Align.
    assert ladder.acme.app_home_opened(user_id=DEV).status_code == 200
    published = ladder.standin.wait_for("views.publish", count=2)[-1]
    home = published.args["view"]["blocks"]
    assert "Your personal objectives" not in [
        b["text"]["text"] for b in home if b["type"] == "header"
    ]
    _, fix = section_of(home, "Rewrite the build")
    assert fix_ids(fix) == [f"{ALIGN_OBJECTIVE_ACTION}:{ids['Rewrite the build']}"]
    assert section_of(home, "Make the API fast")[1] is None


def headers_at(blocks: list[dict[str, Any]], text: str) -> int:
    return next(
        i for i, b in enumerate(blocks) if b["type"] == "header" and b["text"]["text"] == text
    )


def test_mine_offers_align_beside_an_orphan_only(ladder: Ladder) -> None:
    ids = seed(ladder, levels)
    post = ask(ladder, ladder.acme, "mine", user=EVE)
    actions = {
        b["block_id"]: [e["action_id"] for e in b["elements"] if e["type"] == "button"]
        for b in post.blocks or []
        if b["type"] == "actions"
    }
    orphan, aligned = ids["Speak at a conference"], ids["Learn Rust"]
    assert f"{ALIGN_OBJECTIVE_ACTION}:{orphan}" in actions[f"mine:{orphan}"]
    assert not [a for a in actions[f"mine:{aligned}"] if a.startswith(ALIGN_OBJECTIVE_ACTION)]
    text = readable(post)
    assert text.count(ORPHAN_FLAG) == 1


# ------------------------------------------------------------------------------ the form


def submit(ladder: Ladder, view: dict[str, Any], user: str = CEO, **values: Any) -> dict[str, Any]:
    answer = ladder.acme.view_submission(view, user_id=user, values=fill(view, **values))
    assert answer.status_code == 200, answer.text
    return answer.json() if answer.text else {}


def choose_level(ladder: Ladder, view: dict[str, Any], value: str) -> dict[str, Any]:
    """Pick a level: the form re-labels the why (views.update), keeping what is typed."""
    before = len(ladder.standin.calls("views.update"))
    ladder.acme.block_action(
        user_id=CEO,
        action_id="level",
        view=view,
        value=value,
        values=fill(view, level=value),
    )
    assert ladder.standin.wait_for("views.update", count=before + 1)[-1].ok
    return current(ladder, view)


def stored(ladder: Ladder, title: str) -> Objective:
    with Session(ladder.engine) as session:
        return session.exec(select(Objective).where(Objective.title == title)).one()


def test_the_form_asks_for_the_level_and_a_company_objectives_why(ladder: Ladder) -> None:
    view = open_new_objective(ladder, "Be the most trusted platform")
    level = element(view, "level")
    values = [o["value"] for o in level["options"]]
    assert values[:2] == ["company", "personal"]
    # Typed outside a team's channel: the writer's own objective unless they choose.
    assert level["initial_option"]["value"] == "personal"
    why = next(b for b in view["blocks"] if b.get("block_id") == f"description@{rev_of(view)}")
    assert why["optional"] is True and why["label"]["text"] == "Why it matters"

    view = type_sentence(ladder, view, 0, "Raise NPS from 30 to 50 by March 31")
    view = choose_level(ladder, view, "company")
    why = next(b for b in view["blocks"] if b.get("block_id") == f"description@{rev_of(view)}")
    assert why["optional"] is False
    assert "vision or mission" in why["label"]["text"]

    # Company without a why: refused under the why, nothing saved.
    answer = submit(ladder, view, level="company", description=None)
    assert answer["response_action"] == "errors"
    assert list(answer["errors"]) == [f"description@{rev_of(view)}"]
    assert "vision or mission" in answer["errors"][f"description@{rev_of(view)}"]
    with Session(ladder.engine) as session:
        assert session.exec(select(Objective)).all() == []

    # With it: a company objective, no team, its why stored.
    assert submit(ladder, view, level="company", description=WHY) == {}
    saved = stored(ladder, "Be the most trusted platform")
    assert (saved.level, saved.team_id, saved.description) == ("company", None, WHY)


def test_a_personal_objective_needs_no_why_and_is_nobodys_company_objective(
    ladder: Ladder,
) -> None:
    view = open_new_objective(ladder, "Learn to give talks", user=EVE)
    view = type_sentence(ladder, view, 0, "Grow talks given from 0 to 3 by March 31", user=EVE)
    answer = ladder.acme.view_submission(view, user_id=EVE, values=fill(view))
    assert answer.status_code == 200 and not answer.text.strip(), answer.text
    saved = stored(ladder, "Learn to give talks")
    assert (saved.level, saved.team_id, saved.owner_id) == ("personal", None, EVE)
    # The confirmation does not say a person's own objective serves the mission: it says
    # it ladders up to nothing yet, with the button that aligns it.
    [dm] = ladder.standin.wait_for("chat.postMessage")
    said = json.dumps(dm.args["blocks"], ensure_ascii=False)
    assert ORPHAN_FLAG in said and "serves the mission" not in said
    assert f"{ALIGN_OBJECTIVE_ACTION}:{saved.id}" in element_ids(dm.args["blocks"])

    # Editing keeps the level; a team objective needs a team (the select offers them).
    post = ask(ladder, ladder.acme, "mine", user=EVE)
    assert f"{ALIGN_OBJECTIVE_ACTION}:{saved.id}" in element_ids(post.blocks)  # an orphan
    click(
        ladder,
        ladder.acme,
        post,
        f"{EDIT_OBJECTIVE_ACTION}:{saved.id}",
        user=EVE,
        value=str(saved.id),
    )
    edit = modal_shown(ladder, count=2)  # Edit opens "Loading…", then fills it
    assert element(edit, "level")["initial_option"]["value"] == "personal"
    answer = ladder.acme.view_submission(edit, user_id=EVE, values=fill(edit, level=None))
    assert answer.json()["errors"] == {
        f"level@{rev_of(edit)}": "Choose a level: the company's, a team's, or the owner's own."
    }
