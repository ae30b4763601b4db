"""Alignment, editing, archiving and permission refusals, end to end over signed HTTP.

Objectives are seeded through storage (the reference company, owned by the CEO) or typed into
the objective modal; every change then goes through what a person does in Slack: the modal's
searchable parent select, the overflow menu on `/okr status` and the Home tab, the Edit button
on `/okr mine`, and the align/archive modals.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from sqlmodel import Session, col, select

from bot.blocks.dialogs import ALIGN_PARENT_ACTION
from bot.blocks.objective_modal import PARENT_ACTION
from bot.blocks.tree import INDENT
from bot.okr.kinds import KRKind, Level, UnitKind
from bot.okr.validate import KRSpec
from storage.models import KeyResult, Objective, Team, Workspace
from storage.objectives import create_objective
from storage.teams import channels_by_team
from storage.workspaces import ensure_workspace
from tests.factories import VISION, ReferenceCompany, reference_company
from tests.slack.conftest import ACME, CEO, DEV, EVE, OTHER, Ladder
from tests.slack.flows import element, fill, initial, modal_shown, rev_of, type_sentence
from tests.support.slack_standin import ResponsePost, dm_channel_id

T = TypeVar("T")

PLATFORM = "Launch a new communication platform"
SUPPORT = "Enhance customer support"
BACKEND = "Build the chat backend"
TICKETS = "Answer every ticket within an hour"
EPHEMERAL_TS = "1771232400.000100"


# ----------------------------------------------------------------------------- helpers


def seed(ladder: Ladder, build: Callable[[Session], T]) -> T:
    with Session(ladder.engine, expire_on_commit=False) as session:
        out = build(session)
        session.commit()
        return out


def acme_company(ladder: Ladder) -> ReferenceCompany:
    return seed(ladder, lambda s: reference_company(s, workspace_id=ACME, owner_id=CEO))


def add_objective(
    ladder: Ladder,
    company: ReferenceCompany,
    title: str,
    *,
    owner: str = CEO,
    parent: int | None = None,
    krs: tuple[KRSpec, ...] = (),
    level: Level | None = None,
) -> int:
    def build(session: Session) -> int:
        objective = create_objective(
            session=session,
            workspace_id=ACME,
            cycle_id=company.cycle.id,
            owner_id=owner,
            title=title,
            parent_id=parent,
            key_results=krs,
            level=level,
        )
        assert objective.id is not None
        return objective.id

    return seed(ladder, build)


def objective(ladder: Ladder, objective_id: int) -> Objective:
    with Session(ladder.engine) as session:
        return session.get_one(Objective, objective_id)


def key_results(ladder: Ladder, objective_id: int) -> list[KeyResult]:
    with Session(ladder.engine) as session:
        return list(
            session.exec(
                select(KeyResult)
                .where(KeyResult.objective_id == objective_id)
                .order_by(col(KeyResult.id))
            ).all()
        )


def snapshot(ladder: Ladder) -> list[tuple[Any, ...]]:
    """Every objective and key result as stored: compare before/after a refused change."""
    with Session(ladder.engine) as session:
        objectives = session.exec(select(Objective).order_by(col(Objective.id))).all()
        krs = session.exec(select(KeyResult).order_by(col(KeyResult.id))).all()
        return [
            *[
                (o.id, o.title, o.owner_id, o.parent_id, o.team_id, o.archived_at)
                for o in objectives
            ],
            *[
                (k.id, k.objective_id, k.title, k.start_value, k.target_value, k.archived_at)
                for k in krs
            ],
        ]


def ask(ladder: Ladder, text: str, *, user: str, channel: str = "C0TEAM") -> ResponsePost:
    """Type `/okr text` and return the one answer posted to that command's response_url."""
    before = len(ladder.standin.calls("response_url"))
    response = ladder.acme.slash_command(text, user_id=user, channel_id=channel)
    assert response.status_code == 200 and response.text == "", response.text
    ladder.standin.wait_for("response_url", count=before + 1)
    posts = [p for p in ladder.standin.responses if p.url == ladder.acme.last_response_url]
    assert len(posts) == 1
    return posts[0]


def shown(post: ResponsePost) -> str:
    return json.dumps([post.text, post.blocks], ensure_ascii=False)


def status_message(ladder: Ladder, *, user: str = CEO) -> dict[str, Any]:
    """`/okr status all` in #team: posted in the channel, as people see and click it."""
    post = ask(ladder, "status all", user=user)
    assert post.response_type == "in_channel"
    return ladder.standin.messages("C0TEAM")[-1]


def ephemeral(post: ResponsePost) -> dict[str, Any]:
    """An ephemeral answer (e.g. `/okr mine`) as Slack hands it back when clicked."""
    return {"type": "message", "ts": EPHEMERAL_TS, "text": post.text, "blocks": post.blocks}


def click(
    ladder: Ladder, message: dict[str, Any], action_id: str, *, user: str, **kwargs: Any
) -> None:
    container = None
    if message["ts"] == EPHEMERAL_TS:
        container = {
            "type": "message",
            "message_ts": EPHEMERAL_TS,
            "channel_id": "C0TEAM",
            "is_ephemeral": True,
        }
    response = ladder.acme.block_action(
        user_id=user,
        action_id=action_id,
        message=message,
        channel_id="C0TEAM",
        container=container,
        **kwargs,
    )
    assert response.status_code == 200, response.text


def menu(
    ladder: Ladder, message: dict[str, Any], verb: str, objective_id: int, *, user: str
) -> None:
    click(
        ladder,
        message,
        f"objective_menu:{objective_id}",
        user=user,
        selected_option=f"{verb}:{objective_id}",
    )


def opened(ladder: Ladder, count: int) -> dict[str, Any]:
    """The view of the `count`-th views.open, once it happened."""
    return modal_shown(ladder, count=count)


def refusal(ladder: Ladder, count: int) -> ResponsePost:
    """The `count`-th response_url post, which must be a refusal only the clicker sees."""
    ladder.standin.wait_for("response_url", count=count)
    post = ladder.standin.responses[count - 1]
    assert post.response_type == "ephemeral" and not post.replace_original
    return post


def options(ladder: Ladder, view: dict[str, Any], typed: str, *, user: str = CEO) -> list[dict]:
    """What the parent select offers when `typed` is typed into it."""
    parent = element(view, "parent") if view["callback_id"] == "objective_modal" else None
    action_id, block_id = (
        (PARENT_ACTION, f"parent@{rev_of(view)}") if parent else (ALIGN_PARENT_ACTION, "parent")
    )
    answer = ladder.acme.block_suggestion(
        user_id=user, action_id=action_id, block_id=block_id, value=typed, view=view
    )
    assert answer.status_code == 200, answer.text
    return parent_options(answer.json())


def parent_options(answer: dict[str, Any]) -> list[dict]:
    """Every option offered, group after group (the picker groups objectives by team)."""
    if "option_groups" in answer:
        return [o for group in answer["option_groups"] for o in group["options"]]
    return answer["options"]


def titles(found: list[dict]) -> list[str]:
    """Option titles without the level mark ("↳ " before an objective that ladders up)."""
    return [o["text"]["text"].removeprefix("↳ ") for o in found]


def option_for(found: list[dict], title: str) -> dict:
    [option] = [o for o in found if o["text"]["text"].removeprefix("↳ ") == title]
    return option


def submit(ladder: Ladder, view: dict[str, Any], *, user: str, **kw: Any) -> dict[str, Any]:
    """Press Submit; the app's answer as JSON ({} when it just closes the modal)."""
    answer = ladder.acme.view_submission(view, user_id=user, **kw)
    assert answer.status_code == 200, answer.text
    return answer.json() if answer.text else {}


def align_choice(option: dict | None) -> dict[str, dict[str, Any]]:
    return {"parent": {ALIGN_PARENT_ACTION: option}}


def section_texts(blocks: list[dict] | None) -> list[str]:
    return [b["text"]["text"] for b in blocks or [] if b["type"] == "section"]


def objective_texts(blocks: list[dict] | None) -> list[str]:
    """A status's objectives: its sections with a ⋯ menu (the summary above them has none)."""
    return [
        b["text"]["text"]
        for b in blocks or []
        if b["type"] == "section" and b.get("accessory", {}).get("type") == "overflow"
    ]


# ----------------------------------------------------------------------------- search


def test_parent_search_narrows_past_100_objectives_and_skips_itself(ladder: Ladder) -> None:
    company = acme_company(ladder)

    def many(session: Session) -> list[int]:
        ids = []
        for n in range(1, 121):
            o = create_objective(
                session=session,
                workspace_id=ACME,
                cycle_id=company.cycle.id,
                owner_id=EVE,
                title=f"Initiative {n:03d}",
            )
            ids.append(o.id)
        ensure_workspace(session=session, workspace_id=OTHER, name="Other Co")
        other = reference_company(session, workspace_id=OTHER, owner_id=CEO)
        create_objective(
            session=session,
            workspace_id=OTHER,
            cycle_id=other.cycle.id,
            owner_id=CEO,
            title="Initiative 111 of Other Co",
        )
        return ids

    initiatives = seed(ladder, many)
    acme_ids = {company.platform.id, company.support.id, *initiatives}
    view = open_modal(ladder, "Grow the community", user=CEO)
    assert element(view, "parent")["type"] == "external_select"

    # Nothing typed: a full page, never more than Slack's 100 options, only Acme's.
    everything = options(ladder, view, "")
    assert len(everything) == 100
    assert {int(o["value"]) for o in everything} <= acme_ids
    assert len({o["value"] for o in everything}) == 100
    # Typing narrows it, case-insensitively; the other workspace's namesakes never show.
    assert sorted(titles(options(ladder, view, "initiative 11"))) == [
        f"Initiative {n}" for n in range(110, 120)
    ]
    assert titles(options(ladder, view, "COMMUNICATION")) == [PLATFORM]
    assert option_for(options(ladder, view, "platform"), PLATFORM)["value"] == str(
        company.platform.id
    )
    # LIKE wildcards typed by people are literal characters.
    assert options(ladder, view, "Initiative 1_0") == []
    assert options(ladder, view, "%") == []
    assert titles(options(ladder, view, "bakery")) == []

    # Editing an objective: it is not offered as its own parent.
    mine = ask(ladder, "mine", user=CEO)
    click(
        ladder,
        ephemeral(mine),
        f"edit_objective:{company.platform.id}",
        user=CEO,
        value=str(company.platform.id),
    )
    editing = opened(ladder, 2)
    assert editing["title"]["text"] == "Edit objective"
    assert options(ladder, editing, "platform") == []
    assert titles(options(ladder, editing, "support")) == [SUPPORT]
    assert str(company.platform.id) not in {o["value"] for o in options(ladder, editing, "")}


def open_modal(ladder: Ladder, text: str, *, user: str, channel: str = "C0TEAM") -> dict:
    before = len(ladder.standin.calls("views.open"))
    response = ladder.acme.slash_command(f"new {text}", user_id=user, channel_id=channel)
    assert response.status_code == 200, response.text
    return opened(ladder, before + 1)


# ----------------------------------------------------------------------------- alignment


def test_members_add_teams_and_link_free_channels_admins_reshape(ladder: Ladder) -> None:
    def teams() -> dict[str, tuple[int | None, list[str]]]:
        with Session(ladder.engine) as session:
            rows = session.exec(select(Team).where(Team.workspace_id == ACME)).all()
            links = channels_by_team(session=session, workspace_id=ACME)
            return {t.name: (t.parent_id, links.get(t.id, [])) for t in rows}  # type: ignore[arg-type]

    assert "created" in shown(ask(ladder, "team new Platform", user=DEV))
    assert "created" in shown(ask(ladder, "team new Mobile", user=DEV))
    assert "linked" in shown(ask(ladder, "team link Platform", user=DEV, channel="C0PLAT"))
    before = teams()

    refused = shown(ask(ladder, "team link Mobile", user=DEV, channel="C0PLAT"))
    assert "only workspace admins can link it to another team" in refused
    refused = shown(ask(ladder, "team move Mobile under Platform", user=DEV))
    assert "Only workspace admins can move teams." in refused
    assert teams() == before  # nothing changed

    assert "linked" in shown(ask(ladder, "team link Platform", user=DEV, channel="C0PLAT"))
    assert "linked" in shown(ask(ladder, "team link Mobile", user=CEO, channel="C0PLAT"))
    assert "now under" in shown(ask(ladder, "team move Mobile under Platform", user=CEO))
    after = teams()
    assert after["Mobile"][1] == ["C0PLAT"] and after["Platform"][1] == []
    assert after["Mobile"][0] is not None


def test_team_objective_aligns_under_a_company_objective(ladder: Ladder) -> None:
    company = acme_company(ladder)
    assert "created" in shown(ask(ladder, "team new Platform team", user=CEO))
    assert "linked" in shown(ask(ladder, "team link Platform team", user=CEO, channel="C0PLAT"))
    with Session(ladder.engine) as session:
        [team] = session.exec(select(Team).where(Team.workspace_id == ACME)).all()

    # In the team's channel the modal starts on the team; the parent is searched for.
    view = open_modal(ladder, BACKEND, user=DEV, channel="C0PLAT")
    assert initial(view, "level") == f"team:{team.id}"
    view = type_sentence(ladder, view, 0, "Handle 2,000 messages per second", user=DEV)
    assert initial(view, "kr0_target") == "2,000"
    parent = option_for(options(ladder, view, "communication", user=DEV), PLATFORM)
    answer = submit(ladder, view, user=DEV, values=fill(view, parent=parent))
    assert answer == {}

    [dm] = ladder.standin.wait_for("chat.postMessage")
    assert dm.response["channel"] == dm_channel_id(DEV)
    assert f"It ladders up to *{PLATFORM}*" in json.dumps(dm.args["blocks"], ensure_ascii=False)
    with Session(ladder.engine) as session:
        child = session.exec(select(Objective).where(Objective.title == BACKEND)).one()
    assert (child.parent_id, child.team_id, child.owner_id) == (company.platform.id, team.id, DEV)
    assert child.level == "team"

    # `/okr status` in the team's channel: the team's tree only.
    team_status = ask(ladder, "status", user=DEV, channel="C0PLAT")
    assert team_status.response_type == "in_channel"
    assert team_status.blocks is not None
    assert team_status.blocks[0]["text"]["text"] == "OKR status · Platform team"
    texts = objective_texts(team_status.blocks)
    assert len(texts) == 1 and texts[0].startswith(f"*{BACKEND}*")
    assert section_texts(team_status.blocks)[0].startswith("*1 objective ·")  # summary first
    assert "Platform team" not in texts[0]  # the whole message is that team's: no label
    assert PLATFORM not in shown(team_status) and SUPPORT not in shown(team_status)

    # `/okr status all`: the team objective sits indented under the company objective.
    everything = objective_texts(ask(ladder, "status all", user=DEV).blocks)
    heads = [t.split("\n", 1)[0] for t in everything]
    assert heads == [f"*{PLATFORM}*", f"{INDENT}↳ *{BACKEND}*", f"*{SUPPORT}*"]
    assert "· dev · Platform team ·" in everything[1]  # named, not mentioned; teams differ


def test_align_from_the_overflow_menu_refuses_loops(ladder: Ladder) -> None:
    company = acme_company(ladder)
    platform, support = company.platform.id, company.support.id
    tickets = add_objective(ladder, company, TICKETS, parent=support)
    message = status_message(ladder)
    assert message["blocks"][0]["text"]["text"] == "OKR status · all objectives"

    # Support ladders up to the platform: chosen in the align modal's search.
    menu(ladder, message, "align", support, user=CEO)
    view = opened(ladder, 1)
    assert view["callback_id"] == "align_modal"
    assert f"*{SUPPORT}* ladders up to:" in json.dumps(view["blocks"], ensure_ascii=False)
    found = options(ladder, view, "")
    assert sorted(titles(found)) == sorted([PLATFORM, TICKETS])  # never itself
    assert submit(ladder, view, user=CEO, values=align_choice(option_for(found, PLATFORM))) == {}
    assert objective(ladder, support).parent_id == platform

    # The platform under its own grandchild, or under itself, would be a loop.
    before = snapshot(ladder)
    menu(ladder, message, "align", platform, user=CEO)
    view = opened(ladder, 2)
    for target, title in ((tickets, TICKETS), (support, SUPPORT), (platform, PLATFORM)):
        chosen = {"text": {"type": "plain_text", "text": title}, "value": str(target)}
        answer = submit(ladder, view, user=CEO, values=align_choice(chosen))
        assert answer["response_action"] == "errors", answer
        assert "loop" in answer["errors"]["parent"], answer
        assert snapshot(ladder) == before

    # Opened again, the modal shows the current parent; emptying it makes a top-level one.
    menu(ladder, message, "align", support, user=CEO)
    view = opened(ladder, 3)
    [parent_block] = [b for b in view["blocks"] if b.get("block_id") == "parent"]
    assert parent_block["element"]["initial_option"]["value"] == str(platform)
    assert submit(ladder, view, user=CEO, values=align_choice(None)) == {}
    assert objective(ladder, support).parent_id is None
    assert objective(ladder, tickets).parent_id == support


# ----------------------------------------------------------------------------- editing


def test_edit_prefills_exact_values_and_updates_in_place(ladder: Ladder) -> None:
    company = acme_company(ladder)
    platform = company.platform.id
    krs_before = key_results(ladder, platform)
    mine = ask(ladder, "mine", user=CEO)
    click(ladder, ephemeral(mine), f"edit_objective:{platform}", user=CEO, value=str(platform))
    view = opened(ladder, 1)

    assert view["title"]["text"] == "Edit objective" and view["submit"]["text"] == "Save"
    assert initial(view, "title") == PLATFORM
    assert element(view, "owner")["initial_user"] == CEO
    assert json.loads(view["private_metadata"])["kr_ids"] == [k.id for k in krs_before]
    prefilled = [
        tuple(initial(view, f"kr{i}_{f}") for f in ("text", "kind", "start", "target", "unit"))
        for i in range(3)
    ]
    assert prefilled == [
        (
            "Achieve 1 million active users within six months",
            "increase",
            "0",
            "1,000,000",
            "active users",
        ),
        ("Increase user engagement by 30%", "increase", "40", "52", "%"),
        ("Reduce latency to under 100 milliseconds", "decrease", "250", "100", "ms"),
    ]
    assert initial(view, "kr0_due") == "2026-07-05"

    answer = submit(
        ladder,
        view,
        user=CEO,
        values=fill(view, title="Launch the communication platform", kr0_target="2M"),
    )
    assert answer == {}
    [dm] = ladder.standin.wait_for("chat.postMessage")
    assert dm.response["channel"] == dm_channel_id(CEO)
    assert dm.args["text"] == "Objective updated: Launch the communication platform"

    assert objective(ladder, platform).title == "Launch the communication platform"
    krs_after = key_results(ladder, platform)
    assert [k.id for k in krs_after] == [k.id for k in krs_before]  # updated, not recreated
    assert [(k.kind, k.start_value, k.target_value, k.unit, k.archived_at) for k in krs_after] == [
        (KRKind.INCREASE, 0.0, 2_000_000.0, UnitKind.NUMBER, None),
        (KRKind.INCREASE, 40.0, 52.0, UnitKind.PERCENT, None),
        (KRKind.DECREASE, 250.0, 100.0, UnitKind.DURATION, None),
    ]
    with Session(ladder.engine) as session:
        assert len(session.exec(select(KeyResult)).all()) == 5


def test_edit_to_a_descendant_parent_changes_nothing(ladder: Ladder) -> None:
    company = acme_company(ladder)
    platform = company.platform.id
    backend = add_objective(ladder, company, BACKEND, parent=platform)
    before = snapshot(ladder)
    mine = ask(ladder, "mine", user=CEO)
    click(ladder, ephemeral(mine), f"edit_objective:{platform}", user=CEO, value=str(platform))
    view = opened(ladder, 1)
    chosen = option_for(options(ladder, view, "chat"), BACKEND)

    answer = submit(ladder, view, user=CEO, values=fill(view, title="Renamed", parent=chosen))
    assert answer["response_action"] == "errors", answer
    rev = rev_of(view)
    assert list(answer["errors"]) == [f"parent@{rev}"], answer
    assert "loop" in answer["errors"][f"parent@{rev}"]
    assert snapshot(ladder) == before  # the new title was not half-saved either
    assert objective(ladder, backend).parent_id == platform
    assert ladder.standin.calls("chat.postMessage") == []


# ----------------------------------------------------------------------------- archiving


def test_archive_asks_first_and_moves_children_up(ladder: Ladder) -> None:
    company = acme_company(ladder)
    platform, support = company.platform.id, company.support.id
    seed(ladder, lambda s: _align(s, platform, support))
    backend = add_objective(ladder, company, BACKEND, owner=DEV, parent=platform)
    message = status_message(ladder)

    menu(ladder, message, "archive", platform, user=CEO)
    view = opened(ladder, 1)
    assert view["callback_id"] == "archive_modal" and view["submit"]["text"] == "Archive"
    question = json.dumps(view["blocks"], ensure_ascii=False)
    assert f"Archive *{PLATFORM}*?" in question
    assert f"_{BACKEND}_) move up to *{SUPPORT}*" in question
    assert objective(ladder, platform).archived_at is None  # asking changes nothing

    assert submit(ladder, view, user=CEO)["response_action"] == "update"
    done = ladder.standin.view(view["id"])
    assert done is not None
    assert section_texts(done["blocks"]) == [
        f"🗄️ *{PLATFORM}* is archived. 1 aligned objective(s) moved up a level."
    ]
    archived = objective(ladder, platform)
    assert archived.archived and archived.archived_at is not None
    assert archived.archived_at.replace(tzinfo=None) == ladder.clock.now.replace(tzinfo=None)
    assert objective(ladder, backend).parent_id == support
    assert [k.archived_at for k in key_results(ladder, platform)] == [None] * 3  # history kept

    after = ask(ladder, "status all", user=CEO)
    assert PLATFORM not in shown(after)
    heads = [t.split("\n", 1)[0] for t in objective_texts(after.blocks)]
    assert heads == [f"*{SUPPORT}*", f"{INDENT}↳ *{BACKEND}*"]
    # Nor can it be chosen as a parent any more.
    new = open_modal(ladder, "Something new", user=CEO)
    assert options(ladder, new, "communication") == []


def test_a_parent_archived_while_the_modal_was_open_is_refused(ladder: Ladder) -> None:
    company = acme_company(ladder)
    support = company.support.id
    view = open_modal(ladder, BACKEND, user=DEV)
    view = type_sentence(ladder, view, 0, "Handle 2,000 messages per second", user=DEV)
    chosen = option_for(options(ladder, view, "support", user=DEV), SUPPORT)

    message = status_message(ladder)  # meanwhile the CEO archives that objective
    menu(ladder, message, "archive", support, user=CEO)
    assert submit(ladder, opened(ladder, 2), user=CEO)["response_action"] == "update"
    assert objective(ladder, support).archived

    answer = submit(ladder, view, user=DEV, values=fill(view, parent=chosen))
    assert answer["response_action"] == "errors", answer
    assert list(answer["errors"]) == [f"parent@{rev_of(view)}"]
    assert "archived" in answer["errors"][f"parent@{rev_of(view)}"]
    with Session(ladder.engine) as session:
        assert session.exec(select(Objective).where(Objective.title == BACKEND)).all() == []
    assert ladder.standin.calls("chat.postMessage") == []


def _align(session: Session, child: int, parent: int) -> None:
    session.get_one(Objective, child).parent_id = parent


# ----------------------------------------------------------------------------- permissions


def test_non_owner_gets_a_private_refusal_and_nothing_changes(ladder: Ladder) -> None:
    company = acme_company(ladder)
    platform = company.platform.id
    before = snapshot(ladder)
    message = status_message(ladder, user=DEV)

    refused = "Only <@U0CEO> (the owner) or a workspace admin can change this objective."
    for n, verb in enumerate(("align", "archive"), start=2):
        menu(ladder, message, verb, platform, user=DEV)
        post = refusal(ladder, n)
        assert post.text == refused, verb
    assert ladder.standin.calls("views.open") == []
    # Edit opens "Loading…" at once (its form loads a tree): the refusal takes its place.
    menu(ladder, message, "edit", platform, user=DEV)
    told = opened(ladder, 1)
    assert told["submit"] is None
    assert section_texts(told["blocks"]) == [f"🚫 {refused}"]
    assert len(ladder.standin.responses) == 3  # nothing more in the channel
    # The admin question went to Slack (users.info), once thanks to the cache (the status
    # asked users.info for its owner's name too).
    [info] = [c for c in ladder.standin.calls("users.info") if c.args["user"] == DEV]
    assert info.response["user"]["is_admin"] is False

    # From the Home tab there is no response_url: a small modal only DEV sees.
    assert ladder.acme.app_home_opened(user_id=DEV).status_code == 200
    ladder.standin.wait_for("views.publish")
    home = ladder.standin.home_view(ACME, DEV)
    assert home is not None
    response = ladder.acme.block_action(
        user_id=DEV,
        action_id=f"objective_menu:{platform}",
        view=home,
        selected_option=f"archive:{platform}",
    )
    assert response.status_code == 200
    told = opened(ladder, 2)
    assert "callback_id" not in told or not told["callback_id"]
    assert told["submit"] is None
    assert "Only <@U0CEO> (the owner)" in section_texts(told["blocks"])[0]
    assert ladder.standin.view_stack(ACME, DEV)[0]["id"] == told["id"]
    assert ladder.standin.view_stack(ACME, CEO) == []

    assert snapshot(ladder) == before


def test_owner_may_edit_their_own_and_an_admin_anyones(ladder: Ladder) -> None:
    company = acme_company(ladder)
    mine = add_objective(
        ladder,
        company,
        BACKEND,
        owner=DEV,
        krs=(KRSpec("Ship 5 chat services", KRKind.INCREASE, 5, start_value=0),),
        level=Level.PERSONAL,
    )

    # The owner, not an admin: the edit opens and saves; Slack is not even asked who they are.
    post = ask(ladder, "mine", user=DEV)
    click(ladder, ephemeral(post), f"edit_objective:{mine}", user=DEV, value=str(mine))
    view = opened(ladder, 1)
    assert initial(view, "title") == BACKEND
    answer = submit(ladder, view, user=DEV, values=fill(view, kr0_target="6"))
    assert answer == {}
    assert [k.target_value for k in key_results(ladder, mine)] == [6.0]
    assert ladder.standin.calls("users.info") == []

    # The admin edits DEV's objective; DEV stays the owner and hears about it.
    message = status_message(ladder, user=CEO)
    menu(ladder, message, "edit", mine, user=CEO)
    view = opened(ladder, 2)
    assert element(view, "owner")["initial_user"] == DEV
    assert submit(ladder, view, user=CEO, values=fill(view, title="Build the chat core")) == {}
    with_owner = objective(ladder, mine)
    assert (with_owner.title, with_owner.owner_id) == ("Build the chat core", DEV)
    dms = ladder.standin.wait_for("chat.postMessage", count=2)
    assert [d.response["channel"] for d in dms] == [dm_channel_id(DEV)] * 2
    # One users.info for CEO: the status's name lookup also answered the admin question.
    [info] = [c for c in ladder.standin.calls("users.info") if c.args["user"] == CEO]
    assert info.response["user"]["is_admin"] is True


def test_only_admins_set_the_vision(ladder: Ladder) -> None:
    acme_company(ladder)
    post = ask(ladder, "vision Ship fast, break nothing", user=DEV)
    assert post.response_type is None  # ephemeral: only DEV sees it
    assert post.text == "Only workspace admins can set the vision."
    assert "🚫" in shown(post)
    with Session(ladder.engine) as session:
        assert session.get_one(Workspace, ACME).vision == VISION
    assert "Ship fast" not in shown(ask(ladder, "vision", user=EVE))

    assert ask(ladder, "vision Ship fast, break nothing", user=CEO).text == (
        "Vision set: “Ship fast, break nothing”"
    )
    with Session(ladder.engine) as session:
        assert session.get_one(Workspace, ACME).vision == "Ship fast, break nothing"


def test_forged_submissions_are_refused_and_change_nothing(ladder: Ladder) -> None:
    company = acme_company(ladder)
    platform, support = company.platform.id, company.support.id
    message = status_message(ladder)

    # Modals opened by the CEO, submitted by DEV.
    menu(ladder, message, "edit", platform, user=CEO)
    edit = opened(ladder, 1)
    menu(ladder, message, "align", support, user=CEO)
    align = opened(ladder, 2)
    menu(ladder, message, "archive", support, user=CEO)
    archive = opened(ladder, 3)
    before = snapshot(ladder)
    refused = "Only <@U0CEO> (the owner) or a workspace admin can change this objective."

    answer = submit(ladder, edit, user=DEV, values=fill(edit, title="Mine now", owner=DEV))
    assert answer == {"response_action": "errors", "errors": {f"title@{rev_of(edit)}": refused}}
    parent = {"text": {"type": "plain_text", "text": PLATFORM}, "value": str(platform)}
    answer = submit(ladder, align, user=DEV, values=align_choice(parent))
    assert answer == {"response_action": "errors", "errors": {"parent": refused}}
    answer = submit(ladder, archive, user=DEV)
    assert section_texts(answer["view"]["blocks"]) == [f"🚫 {refused}"]
    assert snapshot(ladder) == before
    assert ladder.standin.calls("chat.postMessage") == []

    # DEV's own objective, with the CEO's key result ids slipped into the metadata.
    own = add_objective(
        ladder,
        company,
        BACKEND,
        owner=DEV,
        krs=(KRSpec("Ship 5 chat services", KRKind.INCREASE, 5, start_value=0),),
    )
    before = snapshot(ladder)
    post = ask(ladder, "mine", user=DEV)
    click(ladder, ephemeral(post), f"edit_objective:{own}", user=DEV, value=str(own))
    view = opened(ladder, 4)
    ceo_krs = [k.id for k in key_results(ladder, platform)]
    meta = json.loads(view["private_metadata"])
    forged = {**view, "private_metadata": json.dumps({**meta, "kr_ids": ceo_krs[:2]})}
    answer = submit(ladder, forged, user=DEV)  # slot 0 rewrites one, empty slot 1 archives one
    assert answer["response_action"] == "errors", answer
    assert snapshot(ladder) == before
