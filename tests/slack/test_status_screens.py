"""`/okr status`, `/okr mine` and the App Home as people read them (issue 14), over signed HTTP.

- Owners are named, never mentioned: a mention notifies, so one status in #general pinged
  every owner. No `<@` on these surfaces.
- The summary comes before the first objective; past a few objectives only the top level is
  shown, with the aligned objectives below each counted.
- After `/okr cycle close`, status shows the closed cycle's grades until the new cycle has
  objectives.
- A team's own status carries no team label on each line; vision and mission take one line.
- `/okr mine` has one set of actions; Home's "Check in on all" opens every KR the person owns.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

from sqlmodel import Session, select

from bot.blocks.tree import STATUS_FULL_MAX
from bot.okr.kinds import KRKind
from bot.okr.validate import KRSpec
from storage.cycles import create_cycle
from storage.models import KeyResult
from storage.objectives import create_objective
from storage.teams import create_team, link_channel
from storage.workspaces import ensure_workspace, update_workspace
from tests.factories import MISSION, VISION
from tests.slack.conftest import ACME, CEO, DEV, EVE, OTHER, STRANGER, Ladder
from tests.slack.flows import modal_shown
from tests.slack.test_surfaces import ask, element_ids, mrkdwn_texts, readable, seed, shown

LONG_VISION = VISION + " " + "And much more besides, said at great length. " * 6


def company(session: Session) -> dict[str, Any]:
    """Three company objectives, each with team objectives aligned below (13 in all)."""
    ensure_workspace(session=session, workspace_id=ACME, name="Acme Tech")
    update_workspace(session=session, workspace_id=ACME, vision=LONG_VISION, mission=MISSION)
    cycle = create_cycle(
        session=session,
        workspace_id=ACME,
        name="Q1 2026",
        start_date=date(2026, 1, 5),
        end_date=date(2026, 3, 31),
    )
    platform = create_team(session=session, workspace_id=ACME, name="Platform")
    growth = create_team(session=session, workspace_id=ACME, name="Growth")
    link_channel(session=session, workspace_id=ACME, team_id=platform.id, channel_id="C0PLAT")

    def objective(title: str, owner: str, team: int | None, parent: int | None) -> int:
        made = create_objective(
            session=session,
            workspace_id=ACME,
            cycle_id=cycle.id,
            owner_id=owner,
            title=title,
            team_id=team,
            parent_id=parent,
            key_results=[
                KRSpec(f"{title}: first measure", KRKind.INCREASE, 100, start_value=0),
                KRSpec(f"{title}: second measure", KRKind.INCREASE, 10, start_value=0),
            ],
        )
        return made.id  # type: ignore[return-value]

    tops = [objective(f"Company goal {i}", CEO, None, None) for i in range(3)]
    for i in range(6):
        objective(f"Platform goal {i}", DEV if i % 2 else EVE, platform.id, tops[i % 3])
    for i in range(4):
        objective(f"Growth goal {i}", EVE, growth.id, tops[0])
    return {"cycle": cycle, "tops": tops, "platform": platform.id}


def sections(post_blocks: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return [b for b in post_blocks or [] if b["type"] == "section"]


def owned_kr_ids(ladder: Ladder, user: str) -> list[int]:
    with Session(ladder.engine) as session:
        query = select(KeyResult.id).where(KeyResult.owner_id == user)
        return sorted(session.exec(query).all())  # type: ignore[arg-type]


def test_status_names_owners_puts_the_summary_first_and_collapses_a_big_tree(
    ladder: Ladder,
) -> None:
    tree = seed(ladder, company)
    post = ask(ladder, ladder.acme, "status all", user=DEV, channel="C0GENERAL")
    assert post.response_type == "in_channel"
    blocks = post.blocks or []

    # Nobody is notified: owners are named (the stand-in's display names), never mentioned.
    assert "<@" not in shown(post)
    text = readable(post)
    assert "· ceo ·" in text
    posted = ladder.standin.messages("C0GENERAL")[-1]
    assert "<@" not in json.dumps(posted)

    # The summary is the first thing under the header, before any objective.
    first_objective = next(i for i, b in enumerate(blocks) if "Company goal" in json.dumps(b))
    summary = next(i for i, b in enumerate(blocks) if "13 objectives" in json.dumps(b))
    assert summary == 1 < first_objective
    # Vision and mission: one short line, not the full text.
    [why] = [t for t in mrkdwn_texts(blocks) if "🔭" in t]
    assert "🎯" in why and "\n" not in why and LONG_VISION not in why

    # 13 > STATUS_FULL_MAX: the three company goals, their aligned objectives counted.
    assert STATUS_FULL_MAX < 13
    objectives = [s for s in sections(blocks) if s.get("accessory")]
    assert [s["text"]["text"].split("\n")[0] for s in objectives] == [
        "*Company goal 0*",
        "*Company goal 1*",
        "*Company goal 2*",
    ]
    assert "↳ 6 aligned objectives" in objectives[0]["text"]["text"]  # 2 Platform + 4 Growth
    assert "↳ 2 aligned objectives" in objectives[1]["text"]["text"]
    assert "first measure" not in text  # KR lines wait for the full tree
    assert "Platform goal" not in text
    assert "*Home* tab" in mrkdwn_texts(blocks[-1])[0]

    # ⋯ › Open: the objective, its KRs and everything aligned below it, privately, in full.
    top = tree["tops"][0]
    response = ladder.acme.block_action(
        user_id=EVE,
        action_id=f"objective_menu:{top}",
        selected_option=f"view:{top}",
        message=posted,
        channel_id="C0GENERAL",
    )
    assert response.status_code == 200, response.text
    view = modal_shown(ladder)
    assert view["type"] == "modal" and "<@" not in json.dumps(view)
    texts = [s["text"]["text"] for s in sections(view["blocks"])]
    assert [t.split("\n")[0].split("*")[1] for t in texts] == [
        "Company goal 0",
        "Platform goal 0",
        "Platform goal 3",
        "Growth goal 0",
        "Growth goal 1",
        "Growth goal 2",
        "Growth goal 3",
    ]
    assert "Company goal 0: first measure" in texts[0]
    assert "Growth goal 3: second measure" in texts[-1]
    assert "· Growth ·" in texts[-1]  # two teams below: labels say which
    # Another workspace cannot open it (ids are guessable numbers).
    before = len(ladder.standin.calls("views.open"))
    ladder.other.block_action(
        user_id=STRANGER,
        action_id=f"objective_menu:{top}",
        selected_option=f"view:{top}",
        message=posted,
        channel_id="C0GENERAL",
    )
    ladder.wait_idle()
    [told] = [p for p in ladder.standin.responses if p.team_id == OTHER]
    # "View" loads a tree, so it opens "Loading…" first: this single-workspace app's token
    # cannot use Other Co's trigger, so nothing opens and the person is told.
    assert "did not open the form" in json.dumps(told.body)
    assert not [c for c in ladder.standin.calls("views.update") if c.team_id == OTHER]
    assert "Company goal" not in json.dumps(
        [c.args for c in ladder.standin.calls("views.open")[before:]]
        + [p.body for p in ladder.standin.responses if p.team_id == OTHER]
    )


def test_a_teams_status_has_no_team_label_and_all_shows_them(ladder: Ladder) -> None:
    seed(ladder, company)
    team = ask(ladder, ladder.acme, "status", user=DEV, channel="C0PLAT")
    assert team.blocks is not None
    assert team.blocks[0]["text"]["text"] == "OKR status · Platform"
    objectives = [s["text"]["text"] for s in sections(team.blocks) if s.get("accessory")]
    assert len(objectives) == 6  # six objectives: the whole tree, with KRs
    assert all("Platform" not in t.replace("Platform goal", "") for t in objectives)
    assert "· dev ·" in readable(team) and "· eve ·" in readable(team)
    assert "<@" not in shown(team)

    # A person's status: named in the header (which could not render a mention anyway).
    person = ask(ladder, ladder.acme, f"status <@{EVE}|eve>", user=DEV)
    assert person.blocks is not None
    assert person.blocks[0]["text"]["text"] == "OKR status · eve"
    assert "<@" not in shown(person)


def test_status_shows_the_closed_cycles_grades_until_the_new_cycle_has_objectives(
    ladder: Ladder,
) -> None:
    seed(ladder, company)
    closed = ask(ladder, ladder.acme, "cycle close Q1 2026", user=CEO)
    assert "Q1 2026 is closed" in closed.blocks[0]["text"]["text"]  # type: ignore[index]
    assert "<@" not in shown(closed)  # the grades post (in the channel) pings nobody either
    ask(ladder, ladder.acme, "cycle new Q2 2026", user=CEO)

    post = ask(ladder, ladder.acme, "status all", user=DEV)
    text = readable(post)
    assert "No objectives here yet" not in text
    assert "*Q1 2026* is closed · 13 objectives · average grade *0.0*" in text
    assert "🔴 *0.0*  *Company goal 0* · ceo" in text
    assert "↳ 6 aligned objectives" in text
    assert "<@" not in shown(post)
    # The same in a team's channel: that team's grades.
    team = readable(ask(ladder, ladder.acme, "status", user=DEV, channel="C0PLAT"))
    assert "*Q1 2026* is closed · 6 objectives" in team and "Platform goal 0" in team

    # The new cycle's first objective takes over.
    def first_of_q2(session: Session) -> None:
        from storage.cycles import find_cycle

        q2 = find_cycle(session=session, workspace_id=ACME, name="Q2 2026")
        assert q2 is not None
        create_objective(
            session=session, workspace_id=ACME, cycle_id=q2.id, owner_id=DEV, title="Fresh start"
        )

    seed(ladder, first_of_q2)
    text = readable(ask(ladder, ladder.acme, "status all", user=DEV))
    assert "Fresh start" in text and "is closed" not in text and "Company goal" not in text


def test_mine_names_nobody_and_offers_one_set_of_actions(ladder: Ladder) -> None:
    seed(ladder, company)
    post = ask(ladder, ladder.acme, "mine", user=DEV)
    assert "<@" not in shown(post)
    text = readable(post)
    assert "· dev ·" not in text  # my own objectives do not name me to myself
    assert "3 objectives" in text  # the summary first
    for block in post.blocks or []:
        if block["type"] != "actions":
            continue
        labels = [e["text"]["text"] for e in block["elements"] if e["type"] == "button"]
        assert labels == ["✅ Check in", "✏️ Edit"]
        [menu] = [e for e in block["elements"] if e["type"] == "overflow"]
        verbs = [o["value"].split(":")[0] for o in menu["options"]]
        assert verbs == ["align", "trend", "archive"]  # nothing the buttons already do


def test_home_names_owners_and_checks_in_on_all_my_krs_at_once(ladder: Ladder) -> None:
    seed(ladder, company)
    standin = ladder.standin
    assert ladder.acme.app_home_opened(user_id=DEV).status_code == 200
    [published] = standin.wait_for("views.publish")
    assert published.ok, published.response
    home = published.args["view"]
    text = "\n".join(mrkdwn_texts(home["blocks"]))
    assert "<@" not in json.dumps(home)
    assert "· ceo ·" in text  # Company objectives, named
    assert "Your team · Platform" in json.dumps(home, ensure_ascii=False)
    team_part = text.split("*Company goal")[0]
    assert "· Platform ·" not in team_part  # the team section is all one team
    [summary] = [line for line in text.splitlines() if re.match(r"\d+ objectives · ", line)]
    assert text.index(summary) < text.index("*Platform goal")  # summary first
    assert not re.search(r"\b0 (on track|at risk|off track|not started)", summary)
    [why] = [t for t in mrkdwn_texts(home["blocks"]) if "🔭" in t]
    assert "\n" not in why

    mine = owned_kr_ids(ladder, DEV)
    assert len(mine) == 6  # 3 objectives, 2 KRs each
    assert "checkin_all" in element_ids(home["blocks"])
    tab = standin.home_view(ACME, DEV)
    assert tab is not None
    response = ladder.acme.block_action(user_id=DEV, action_id="checkin_all", view=tab)
    assert response.status_code == 200, response.text
    [opened] = standin.wait_for("views.open")
    assert opened.ok, opened.response
    modal = opened.response["view"]
    assert modal["callback_id"] == "checkin_modal"
    asked = sorted(
        int(b["block_id"].removeprefix("value:"))
        for b in modal["blocks"]
        if b.get("block_id", "").startswith("value:")
    )
    assert asked == mine


def test_status_still_posts_when_slack_will_not_name_an_owner(ladder: Ladder) -> None:
    seed(ladder, company)
    ladder.standin.fail_next("users.info", error="fatal_error", times=10)
    post = ask(ladder, ladder.acme, "status all", user=DEV)
    assert post.response_type == "in_channel"
    assert "<@" not in shown(post)
    assert "· someone ·" in readable(post)
