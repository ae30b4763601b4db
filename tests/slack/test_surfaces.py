"""Every Slack surface over real signed HTTP: forgeries, workspace isolation, help, /okr mine
and check-ins, the App Home, /okr status, /okr cycle and /okr team.

The app runs with one bot token (Acme's). Requests from Other Co still carry team_id T0OTHER,
so their data must stay apart; commands answer through response_url, which needs no token.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar
from urllib.parse import quote_plus

import pytest
from sqlmodel import Session, select

from bot.blocks.help import EVERYDAY, SETUP, SUBCOMMANDS
from bot.blocks.loading import LOADING_CALLBACK
from bot.blocks.objective_modal import PARENT_ACTION
from bot.okr.kinds import KRKind, UnitKind
from bot.okr.validate import KRSpec
from storage.checkins import record_check_in
from storage.cycles import create_cycle
from storage.models import CheckIn, Cycle, KeyResult, Objective, Workspace
from storage.objectives import create_objective
from storage.teams import create_team, link_channel
from storage.workspaces import ensure_workspace, update_workspace
from tests.factories import MISSION, VISION, ReferenceCompany, reference_company
from tests.slack.conftest import ACME, CEO, DEV, EVE, OTHER, STRANGER, Ladder
from tests.slack.flows import filled_modal, modal_shown, open_new_objective
from tests.support.slack_sender import SlackSender
from tests.support.slack_standin import ResponsePost

T = TypeVar("T")

PLATFORM = "Launch a new communication platform"
SUPPORT = "Enhance customer support"
BAKERY = "Open a bakery in Lyon"
CROISSANTS = "Sell 10,000 croissants a month"
GRID = "Train the Lyon staff"  # owned in Other Co by an Enterprise Grid user also in Acme
OTHER_TITLES = (BAKERY, CROISSANTS, GRID)
ACME_TITLES = (PLATFORM, SUPPORT, "Net Promoter Score", VISION, MISSION)


# ----------------------------------------------------------------------------- helpers


def seed(ladder: Ladder, build: Callable[[Session], T]) -> T:
    with Session(ladder.engine, expire_on_commit=False) as session:
        out = build(session)
        session.commit()
        return out


def acme_company(ladder: Ladder) -> ReferenceCompany:
    return seed(ladder, lambda s: reference_company(s, workspace_id=ACME, owner_id=CEO))


def other_company(session: Session) -> None:
    ensure_workspace(session=session, workspace_id=OTHER, name="Other Co")
    update_workspace(
        session=session,
        workspace_id=OTHER,
        vision="Bread for everyone.",
        mission="Bake before dawn.",
    )
    cycle = create_cycle(
        session=session,
        workspace_id=OTHER,
        name="H1 2026",
        start_date=date(2026, 1, 5),
        end_date=date(2026, 7, 5),
    )
    create_objective(
        session=session,
        workspace_id=OTHER,
        cycle_id=cycle.id,
        owner_id=STRANGER,
        title=BAKERY,
        key_results=[KRSpec(CROISSANTS, KRKind.INCREASE, 10_000, start_value=0)],
    )
    create_objective(
        session=session,
        workspace_id=OTHER,
        cycle_id=cycle.id,
        owner_id=CEO,  # same user id in both workspaces, as on Enterprise Grid
        title=GRID,
        key_results=[KRSpec("Train 12 bakers", KRKind.INCREASE, 12, start_value=0)],
    )


def ask(
    ladder: Ladder, sender: SlackSender, text: str, *, user: str, channel: str = "C0TEAM"
) -> ResponsePost:
    """Type `/okr text` and return the one answer posted to that command's response_url."""
    before = len(ladder.standin.calls("response_url"))
    response = sender.slash_command(text, user_id=user, channel_id=channel)
    assert response.status_code == 200, response.text
    assert response.text == ""  # acked at once; the answer goes to response_url
    ladder.standin.wait_for("response_url", count=before + 1)
    url = sender.last_response_url
    posts = [p for p in ladder.standin.responses if p.url == url]
    assert len(posts) == 1, ladder.standin.calls("response_url")[-1]
    return posts[0]


def shown(post: ResponsePost) -> str:
    """Everything a person could read in a response: fallback text and blocks."""
    return json.dumps([post.text, post.blocks], ensure_ascii=False)


def sent_to(ladder: Ladder, team: str) -> str:
    """Everything the app sent towards a workspace (response_url posts and Web API calls)."""
    posts = [p.body for p in ladder.standin.responses if p.team_id == team]
    calls = [c.args for c in ladder.standin.calls(team_id=team) if c.method != "response_url"]
    return json.dumps([posts, calls], ensure_ascii=False)


def web_api_calls(ladder: Ladder) -> list[str]:
    return [c.method for c in ladder.standin.calls() if c.method != "response_url"]


def element_ids(blocks: list[dict[str, Any]] | None) -> list[str]:
    ids: list[str] = []
    for block in blocks or []:
        if isinstance(block.get("accessory"), dict):
            ids.append(block["accessory"].get("action_id", ""))
        for el in block.get("elements") or []:
            if isinstance(el, dict) and "action_id" in el:
                ids.append(el["action_id"])
    return ids


def ephemeral_message(post: ResponsePost) -> dict[str, Any]:
    """An ephemeral answer as Slack hands it back in a block_actions payload."""
    return {"type": "message", "ts": "1771232400.000100", "text": post.text, "blocks": post.blocks}


EPHEMERAL = {
    "type": "message",
    "message_ts": "1771232400.000100",
    "channel_id": "C0TEAM",
    "is_ephemeral": True,
}


def click(
    ladder: Ladder,
    sender: SlackSender,
    post: ResponsePost,
    action_id: str,
    *,
    user: str,
    **kwargs: Any,
) -> None:
    response = sender.block_action(
        user_id=user,
        action_id=action_id,
        message=ephemeral_message(post),
        channel_id="C0TEAM",
        container=EPHEMERAL,
        **kwargs,
    )
    assert response.status_code == 200, response.text


def vision_of(ladder: Ladder, workspace_id: str) -> str | None:
    with Session(ladder.engine) as session:
        ws = session.get(Workspace, workspace_id)
        return ws.vision if ws else None


def kr_ids(ladder: Ladder, objective_id: int) -> list[int]:
    with Session(ladder.engine) as session:
        query = select(KeyResult.id).where(KeyResult.objective_id == objective_id)
        return list(session.exec(query.order_by(KeyResult.position)).all())


def checkins(ladder: Ladder) -> list[CheckIn]:
    with Session(ladder.engine) as session:
        return list(session.exec(select(CheckIn).order_by(CheckIn.id)).all())


# ----------------------------------------------------------------------------- forgeries


Forgery = Callable[..., Any]


def _tamper(user: str, text: str) -> Callable[[str], str]:
    """Rewrite a signed `<sub> harmless` typed by DEV into `text` typed by `user`."""
    return lambda body: body.replace(f"user_id={DEV}", f"user_id={user}").replace(
        "harmless", quote_plus(text.split(" ", 1)[1])
    )


FORGERIES: dict[str, tuple[dict[str, Any], Forgery]] = {
    # Signed with a secret that is not the app's.
    "bad signature": (
        {},
        lambda forger, ladder, text, user: forger.slash_command(text, user_id=user),
    ),
    "missing signature": (
        {"sign": False},
        lambda forger, ladder, text, user: ladder.acme.slash_command(
            text, user_id=user, sign=False
        ),
    ),
    # Slack's rule: more than 5 minutes off is refused, even when correctly signed.
    "timestamp over 5 minutes old": (
        {"timestamp": -301},
        lambda forger, ladder, text, user: ladder.acme.slash_command(
            text, user_id=user, timestamp=int(time.time()) - 301
        ),
    ),
    # A member signs a harmless request; the body is rewritten to act as the admin.
    "body altered after signing": (
        {"tamper": True},
        lambda forger, ladder, text, user: ladder.acme.slash_command(
            text.split(" ")[0] + " harmless", user_id=DEV, tamper=_tamper(user, text)
        ),
    ),
}


def _forged_event(forger: SlackSender, ladder: Ladder, how: dict[str, Any]) -> int:
    """app_home_opened, forged the same way."""
    if not how:
        return forger.app_home_opened(user_id=DEV).status_code
    if "timestamp" in how:
        return ladder.acme.app_home_opened(
            user_id=DEV, timestamp=int(time.time()) + how["timestamp"]
        ).status_code
    if "tamper" in how:
        swap = lambda body: body.replace(f'"user": "{DEV}"', f'"user": "{EVE}"')  # noqa: E731
        return ladder.acme.app_home_opened(user_id=DEV, tamper=swap).status_code
    return ladder.acme.app_home_opened(user_id=DEV, **how).status_code


@pytest.mark.parametrize("forgery", list(FORGERIES))
def test_forged_requests_are_refused_and_change_nothing(ladder: Ladder, forgery: str) -> None:
    acme_company(ladder)
    standin = ladder.standin
    with Session(ladder.engine) as session:
        cycles_before = len(session.exec(select(Cycle)).all())
    calls_before = web_api_calls(ladder)
    how, forge = FORGERIES[forgery]

    with SlackSender(ladder.url, "f" * 32, standin, team_id=ACME) as forger:
        for text in ("vision We sell your data", "new Stolen objective", "status all"):
            assert forge(forger, ladder, text, CEO).status_code == 401, text
        assert _forged_event(forger, ladder, how) == 401

    # A genuine request afterwards is served: the app is up and the forgeries left no trace.
    post = ask(ladder, ladder.acme, "vision", user=CEO)
    assert post.text is not None and VISION in post.text
    assert vision_of(ladder, ACME) == VISION
    assert standin.responses == [post]
    assert web_api_calls(ladder) == calls_before  # no views.open/publish, no users.info
    with Session(ladder.engine) as session:
        assert len(session.exec(select(Cycle)).all()) == cycles_before  # `new` drafted nothing
        assert [o.title for o in session.exec(select(Objective)).all()] == [PLATFORM, SUPPORT]


def test_a_replayed_request_is_refused_after_six_minutes(ladder: Ladder) -> None:
    acme_company(ladder)
    now = int(time.time())
    # The same signed command, as captured and sent again six minutes later: refused.
    replay = ladder.acme.slash_command("vision Replayed", user_id=CEO, timestamp=now - 360)
    assert replay.status_code == 401
    assert vision_of(ladder, ACME) == VISION
    assert ladder.standin.responses == []
    # Sent in time, the very same command is accepted: only its age made the difference.
    post = ask(ladder, ladder.acme, "vision Fresh", user=CEO)
    assert post.text == "Vision set: “Fresh”"
    assert vision_of(ladder, ACME) == "Fresh"


# ----------------------------------------------------------------------------- isolation


def test_commands_only_show_the_callers_workspace(ladder: Ladder) -> None:
    acme_company(ladder)
    seed(ladder, other_company)
    calls_before = web_api_calls(ladder)

    acme_all = ask(ladder, ladder.acme, "status all", user=CEO)
    acme_mine = ask(ladder, ladder.acme, "mine", user=CEO)
    acme_ceo = ask(ladder, ladder.acme, f"status <@{CEO}|ceo>", user=DEV)
    other_all = ask(ladder, ladder.other, "status all", user=STRANGER)
    other_mine = ask(ladder, ladder.other, "mine", user=STRANGER)
    other_grid = ask(ladder, ladder.other, "mine", user=CEO)  # the Grid user, in Other Co
    other_ceo = ask(ladder, ladder.other, f"status <@{CEO}>", user=STRANGER)

    for post in (acme_all, acme_mine, acme_ceo):
        assert PLATFORM in shown(post) and SUPPORT in shown(post)
        for title in OTHER_TITLES:
            assert title not in shown(post), (title, post.text)
    assert BAKERY in shown(other_all) and GRID in shown(other_all)
    assert "Bread for everyone." in shown(other_all)
    assert BAKERY in shown(other_mine) and GRID not in shown(other_mine)
    assert GRID in shown(other_grid) and BAKERY not in shown(other_grid)
    assert GRID in shown(other_ceo) and BAKERY not in shown(other_ceo)
    everything_to_other = sent_to(ladder, OTHER)
    for title in ACME_TITLES:
        assert title not in everything_to_other, title
    # All answered through response_url; the only Web API calls name the owners (users.info:
    # status and mine show names, not mentions, which would notify every owner).
    names_asked = web_api_calls(ladder)[len(calls_before) :]
    assert web_api_calls(ladder)[: len(calls_before)] == calls_before
    assert names_asked and set(names_asked) == {"users.info"}
    for post in (acme_all, acme_mine, acme_ceo, other_all, other_mine, other_grid, other_ceo):
        assert "<@" not in shown(post)


def test_parent_search_only_offers_the_callers_objectives(ladder: Ladder) -> None:
    acme_company(ladder)
    seed(ladder, other_company)
    view = open_new_objective(ladder, "Grow the community")
    [parent] = [b for b in view["blocks"] if b["block_id"].startswith("parent@")]
    # The same modal as Slack would send it from Other Co's installation. (Bolt reads the
    # workspace from view.app_installed_team_id first, so a view keeps its own workspace.)
    other_view = {**view, "team_id": OTHER, "app_installed_team_id": OTHER}

    def options(sender: SlackSender, user: str, typed: str) -> list[str]:
        answer = sender.block_suggestion(
            user_id=user,
            action_id=PARENT_ACTION,
            block_id=parent["block_id"],
            value=typed,
            view=view if sender is ladder.acme else other_view,
        )
        assert answer.status_code == 200, answer.text
        found = answer.json()
        groups = found.get("option_groups", [{"options": found.get("options", [])}])
        # labels carry the level ("↳ " under a parent): compare the titles
        return [o["text"]["text"].removeprefix("↳ ") for g in groups for o in g["options"]]

    assert sorted(options(ladder.acme, CEO, "")) == sorted([PLATFORM, SUPPORT])
    assert options(ladder.acme, CEO, "bakery") == []
    assert sorted(options(ladder.other, STRANGER, "")) == sorted([BAKERY, GRID])
    assert options(ladder.other, STRANGER, "platform") == []


def test_actions_on_another_workspaces_objective_are_refused(ladder: Ladder) -> None:
    acme = acme_company(ladder)
    seed(ladder, other_company)
    # Other Co's people act on a message naming Acme's ids (Acme ids are guessable numbers).
    acme_msg = ask(ladder, ladder.acme, "mine", user=CEO)
    acme_status = ask(ladder, ladder.acme, "status all", user=CEO)  # its ⋯ has every action
    acme_krs = kr_ids(ladder, acme.platform.id)
    seen = len(ladder.standin.calls())
    platform, support = acme.platform.id, acme.support.id
    # Edit and Check in load a tree, so they open "Loading…" first (no data in it); here the
    # single-workspace app's token cannot use Other Co's trigger, and the person is told.
    attempts: list[tuple[str, dict[str, Any], str]] = [
        (f"edit_objective:{platform}", {}, "Slack did not open the form"),
        (f"checkin_objective:{platform}", {}, "Slack did not open the form"),
        (
            f"objective_menu:{support}",
            {"selected_option": f"edit:{support}"},
            "Slack did not open the form",
        ),
        (f"objective_menu:{support}", {"selected_option": f"archive:{support}"}, "no longer"),
        (f"objective_menu:{support}", {"selected_option": f"align:{support}"}, "no longer"),
    ]
    for n, (action_id, extra, said) in enumerate(attempts, start=1):
        before = len(ladder.standin.responses)
        message = acme_status if action_id.startswith("objective_menu") else acme_msg
        click(ladder, ladder.other, message, action_id, user=STRANGER, **extra)
        ladder.standin.wait_for("response_url", team_id=OTHER, count=n)
        answer = ladder.standin.responses[before]
        assert answer.team_id == OTHER
        assert answer.response_type == "ephemeral" and not answer.replace_original
        assert said in answer.text, (action_id, answer.text)
    ladder.wait_idle()

    # no views.open with anyone's data: only the three loading views, refused
    tried = [c for c in ladder.standin.calls()[seen:] if c.method != "response_url"]
    assert [c.method for c in tried] == ["views.open"] * 3
    assert {c.args["view"]["callback_id"] for c in tried} == {LOADING_CALLBACK}
    assert not any(c.ok for c in tried)
    assert "views.update" not in web_api_calls(ladder)

    # A check-in modal naming an Acme KR, submitted in Other Co: refused, nothing recorded.
    opens = len(ladder.standin.calls("views.open"))
    click(ladder, ladder.acme, acme_msg, f"checkin_objective:{platform}", user=CEO)
    opened = modal_shown(ladder, count=opens + 1)
    forged = {**opened, "team_id": OTHER, "app_installed_team_id": OTHER}
    answer = ladder.other.view_submission(
        forged, user_id=STRANGER, values={f"value:{k}": {f"value:{k}": "999"} for k in acme_krs}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["response_action"] == "errors"
    assert "no longer exists" in answer.json()["errors"]["note"]
    assert checkins(ladder) == []
    with Session(ladder.engine) as session:
        assert [session.get_one(KeyResult, k).current_value for k in acme_krs] == [None] * 3
    everything_to_other = sent_to(ladder, OTHER)
    for title in ACME_TITLES:
        assert title not in everything_to_other, title


# ----------------------------------------------------------------------------- help

STRAY_CONTROL = re.compile(r"<(?![@#!]|https?://|mailto:)")  # `<x>` in mrkdwn is a link


def mrkdwn_texts(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["text"]] if node.get("type") == "mrkdwn" else []
        return own + [t for v in node.values() for t in mrkdwn_texts(v)]
    if isinstance(node, list):
        return [t for v in node for t in mrkdwn_texts(v)]
    return []


def readable(post: ResponsePost) -> str:
    """The mrkdwn a person reads; Slack would turn any bare `<…>` in it into a link."""
    texts = mrkdwn_texts(post.blocks)
    for text in texts:
        assert not STRAY_CONTROL.search(text), text
    return "\n".join(texts)


@pytest.mark.parametrize("typed", ["", "help", "HELP", "?"])
def test_help_lists_every_command_with_an_example(ladder: Ladder, typed: str) -> None:
    post = ask(ladder, ladder.acme, typed, user=DEV)
    assert post.response_type in (None, "ephemeral")  # only the person who asked sees it
    text = readable(post)
    # Everyday commands in full, first; set-up and admin folded to one line for a member.
    for name, _, _ in EVERYDAY:
        assert f"*`/okr {name}`*" in text, name
    for name, _, _ in SETUP:
        assert f"`/okr {name}`" in text and f"*`/okr {name}`*" not in text, name
    assert max(text.index(f"*`/okr {n}`*") for n, _, _ in EVERYDAY) < text.index("`/okr team`")
    for example in ("/okr new Launch the platform", "/okr status all"):
        assert example in text, example
    assert "I don't know" not in text
    # Admins see the set-up commands in full, after the everyday ones.
    admin = readable(ask(ladder, ladder.acme, typed, user=CEO))
    for name, _, _ in SETUP:
        assert f"*`/okr {name}`*" in admin, name
    assert "/okr cycle close Q4 2026" in admin
    assert admin.index("*`/okr export`*") < admin.index("*Set-up and admin*")
    assert set(SUBCOMMANDS) >= {n for n, _, _ in EVERYDAY}


def test_a_typo_suggests_the_command_next_to_the_help(ladder: Ladder) -> None:
    post = ask(ladder, ladder.acme, "stauts all", user=DEV)
    assert post.response_type in (None, "ephemeral")
    text = readable(post)
    assert text.startswith("🤔 I don't know `/okr stauts`. Did you mean `/okr status`?")
    assert "*`/okr mine`*" in text  # the full help follows
    assert post.text.startswith("Unknown command /okr stauts")

    post = ask(ladder, ladder.acme, "xyzzy", user=DEV)
    assert "I don't know `/okr xyzzy`." in readable(post)
    assert "Did you mean" not in readable(post)

    # Slack escapes what was typed (`<!channel>`); the echo must not ping the channel.
    post = ask(ladder, ladder.acme, "<!channel>", user=DEV)
    assert "<!channel>" not in shown(post) and "&lt;!channel&gt;" in readable(post)
    assert all(p.response_type in (None, "ephemeral") for p in ladder.standin.responses)


# ----------------------------------------------------------------------------- /okr mine


def test_mine_checks_in_once_per_view_and_edits(ladder: Ladder) -> None:
    acme = acme_company(ladder)
    standin = ladder.standin
    platform, support = acme.platform.id, acme.support.id

    post = ask(ladder, ladder.acme, "mine", user=CEO)
    assert post.response_type in (None, "ephemeral")
    text = readable(post)
    for needle in (PLATFORM, SUPPORT, "Reduce latency to under 100 milliseconds", "0 / 1M"):
        assert needle in text, needle
    ids = element_ids(post.blocks)
    for objective in (platform, support):
        assert f"checkin_objective:{objective}" in ids and f"edit_objective:{objective}" in ids
    assert "don't own" in readable(ask(ladder, ladder.acme, "mine", user=EVE))

    # Edit opens the objective in the modal, prefilled.
    click(ladder, ladder.acme, post, f"edit_objective:{platform}", user=CEO)
    edit = modal_shown(ladder, count=1)
    assert edit["title"]["text"] == "Edit objective"
    assert PLATFORM in json.dumps(edit["blocks"])

    # Check in opens one modal for the objective's three KRs.
    click(ladder, ladder.acme, post, f"checkin_objective:{platform}", user=CEO)
    view = modal_shown(ladder, count=2)
    assert view["callback_id"] == "checkin_modal"
    users, engagement, latency = kr_ids(ladder, platform)
    values = {
        f"value:{users}": {f"value:{users}": "600,000"},
        f"confidence:{users}": {f"confidence:{users}": "8"},
        f"value:{engagement}": {f"value:{engagement}": "45"},
        f"value:{latency}": {f"value:{latency}": "180"},
        "note": {"note": "Beta opened to 600k people"},
        "blocker": {"blocker": "Need two more SREs"},
    }
    answer = ladder.acme.view_submission(view, user_id=CEO, values=values)
    assert answer.status_code == 200 and answer.text == "", answer.text
    [thanks] = standin.wait_for("chat.postEphemeral")
    assert thanks.ok and thanks.args["channel"] == "C0TEAM" and thanks.args["user"] == CEO
    assert "Checked in on 3 key results" in thanks.args["text"]

    # The same view again (a double click, or Slack retrying): nothing is recorded twice.
    again = ladder.acme.view_submission(view, user_id=CEO, values=values)
    assert again.status_code == 200 and again.text == ""
    standin.wait_for("chat.postEphemeral", count=2)
    rows = checkins(ladder)
    assert sorted(r.key_result_id for r in rows) == sorted([users, engagement, latency])
    assert {(r.author_id, r.note, r.blocker) for r in rows} == {
        (CEO, "Beta opened to 600k people", "Need two more SREs")
    }
    with Session(ladder.engine) as session:
        kr = session.get_one(KeyResult, users)
        assert (kr.current_value, kr.confidence) == (600_000, 8)
        assert session.get_one(KeyResult, latency).current_value == 180

    # A typo is answered on the field, and nothing is stored.
    click(ladder, ladder.acme, post, f"checkin_objective:{support}", user=CEO)
    view = modal_shown(ladder, count=3)
    nps, resolved = kr_ids(ladder, support)
    bad = ladder.acme.view_submission(
        view,
        user_id=CEO,
        values={
            f"value:{nps}": {f"value:{nps}": "lots"},
            f"value:{resolved}": {f"value:{resolved}": "50"},
        },
    )
    assert bad.json()["response_action"] == "errors"
    assert set(bad.json()["errors"]) == {f"value:{nps}"}
    assert len(checkins(ladder)) == 3

    mine = readable(ask(ladder, ladder.acme, "mine", user=CEO))
    assert "600k / 1M active users" in mine and "💪 8/10" in mine


# ----------------------------------------------------------------------------- App Home


def mobile_team(session: Session, company: ReferenceCompany) -> int:
    """A Platform team whose objectives DEV and EVE own; returns DEV's KR id."""
    team = create_team(session=session, workspace_id=ACME, name="Platform")
    link_channel(session=session, workspace_id=ACME, team_id=team.id, channel_id="C0PLAT")
    mobile = create_objective(
        session=session,
        workspace_id=ACME,
        cycle_id=company.cycle.id,
        owner_id=DEV,
        team_id=team.id,
        parent_id=company.platform.id,
        title="Ship the mobile app",
        key_results=[KRSpec("Reach 50,000 downloads", KRKind.INCREASE, 50_000, start_value=0)],
    )
    create_objective(
        session=session,
        workspace_id=ACME,
        cycle_id=company.cycle.id,
        owner_id=EVE,
        team_id=team.id,
        title="Make the app dependable",
        key_results=[
            KRSpec(
                "Crash-free sessions",
                KRKind.AT_LEAST,
                99.5,
                unit=UnitKind.PERCENT,
            )
        ],
    )
    [kr] = session.exec(select(KeyResult).where(KeyResult.objective_id == mobile.id)).all()
    return kr.id  # type: ignore[return-value]


def test_app_home_shows_the_why_my_krs_my_team_and_the_company(ladder: Ladder) -> None:
    company = acme_company(ladder)
    downloads = seed(ladder, lambda s: mobile_team(s, company))
    standin = ladder.standin

    assert ladder.acme.app_home_opened(user_id=DEV).status_code == 200
    [published] = standin.wait_for("views.publish")
    assert published.ok, published.response
    assert published.args["user_id"] == DEV
    home = published.args["view"]
    blocks = home["blocks"]
    text = "\n".join(mrkdwn_texts(blocks))
    headers = [b["text"]["text"] for b in blocks if b["type"] == "header"]
    assert headers == [
        "Ladder · OKRs",
        "Your key results",
        "Your team · Platform",
        "Company objectives",
    ]
    assert VISION in text and MISSION in text
    [mine] = [b for b in blocks if b.get("block_id") == f"home_kr:{downloads}"]
    assert "Reach 50,000 downloads" in mine["text"]["text"]
    assert mine["accessory"]["action_id"] == f"checkin_kr:{downloads}"
    team_part = text.split("Make the app dependable")[0]
    assert "Ship the mobile app" in team_part
    for title in (PLATFORM, SUPPORT):
        assert title in text
    assert "new_objective" in element_ids(blocks)
    assert "No objectives" not in text

    # Check in from Home: the modal opens; saving republishes the Home tab with the new value.
    tab = standin.home_view(ACME, DEV)
    assert tab is not None
    ladder.acme.block_action(user_id=DEV, action_id=f"checkin_kr:{downloads}", view=tab)
    [opened] = standin.wait_for("views.open")
    assert opened.ok, opened.response
    modal = opened.response["view"]
    answer = ladder.acme.view_submission(
        modal, user_id=DEV, values={f"value:{downloads}": {f"value:{downloads}": "20k"}}
    )
    assert answer.status_code == 200 and answer.text == "", answer.text
    republished = standin.wait_for("views.publish", count=2)[-1]
    assert republished.ok, republished.response
    assert "20k / 50k" in json.dumps(republished.args["view"], ensure_ascii=False)
    assert [c.author_id for c in checkins(ladder)] == [DEV]

    # "New objective" opens the modal, owned by whoever clicked.
    tab = standin.home_view(ACME, DEV)
    ladder.acme.block_action(user_id=DEV, action_id="new_objective", view=tab)
    created = filled_modal(ladder, count=2)
    assert created["title"]["text"] == "New objective"
    assert f'"initial_user": "{DEV}"' in json.dumps(created)


def big_company(session: Session) -> None:
    """300 objectives, half in a team, nested three deep; DEV owns 30 with 60 KRs."""
    ensure_workspace(session=session, workspace_id=ACME, name="Acme Tech")
    update_workspace(session=session, workspace_id=ACME, vision=VISION, mission=MISSION)
    cycle = create_cycle(
        session=session,
        workspace_id=ACME,
        name="H1 2026",
        start_date=date(2026, 1, 5),
        end_date=date(2026, 7, 5),
    )
    team = create_team(session=session, workspace_id=ACME, name="Platform")
    parents: dict[int | None, int | None] = {None: None, team.id: None}
    for i in range(300):
        team_id = team.id if i % 2 else None
        kr_title = f"Key result {i} of a long and detailed objective " + "y" * 140
        objective = create_objective(
            session=session,
            workspace_id=ACME,
            cycle_id=cycle.id,
            owner_id=DEV if i < 30 else CEO,
            team_id=team_id,
            parent_id=parents[team_id] if i % 3 else None,
            title=f"Objective {i:03d} " + "x" * 130,
            key_results=[KRSpec(kr_title, KRKind.INCREASE, 100, start_value=0)] * 2,
        )
        parents[team_id] = objective.id


def test_a_large_tree_stays_within_slacks_limits(ladder: Ladder) -> None:
    seed(ladder, big_company)
    standin = ladder.standin

    ladder.acme.app_home_opened(user_id=DEV)
    [published] = standin.wait_for("views.publish")
    assert published.ok, published.response  # the stand-in refuses > 100 blocks or > 250 kB
    home = published.args["view"]
    assert len(home["blocks"]) <= 100
    assert len(json.dumps(home).encode()) <= 250_000
    text = "\n".join(mrkdwn_texts(home["blocks"]))
    assert "…and 40 more key results" in text  # 60 KRs, 20 shown
    assert "more team objectives" in text and "more objectives" in text
    assert "Objective 000" in text

    post = ask(ladder, ladder.acme, "status all", user=CEO)
    assert post.response_type == "in_channel"
    assert post.blocks is not None and len(post.blocks) <= 50
    for text in mrkdwn_texts(post.blocks):
        assert len(text) <= 3000
    assert "300 objectives" in post.blocks[1]["text"]["text"]  # the summary comes first
    footer = post.blocks[-1]["elements"][0]["text"]
    assert "more top-level objectives" in footer and "*Home* tab" in footer

    mine = ask(ladder, ladder.acme, "mine", user=DEV)
    assert mine.blocks is not None and len(mine.blocks) <= 50
    assert "…and 7 more" in readable(mine)  # 30 objectives, two blocks each after the summary


# ----------------------------------------------------------------------------- /okr status


def test_status_without_a_team_here_says_what_to_type(ladder: Ladder) -> None:
    acme_company(ladder)
    post = ask(ladder, ladder.acme, "status", user=DEV, channel="C0RANDOM")
    assert post.response_type in (None, "ephemeral")  # nothing is posted in the channel
    text = readable(post)
    assert "isn't linked to a team" in text
    assert "`/okr status all`" in text and "`/okr team new &lt;name&gt;`" in text
    assert PLATFORM not in shown(post)

    seed(ladder, lambda s: create_team(session=s, workspace_id=ACME, name="Support"))
    text = readable(ask(ladder, ladder.acme, "status", user=DEV, channel="C0RANDOM"))
    assert "`/okr team link &lt;team&gt;`" in text and "Support" in text

    text = readable(ask(ladder, ladder.acme, "status Nonexistent", user=DEV))
    assert "No team called “Nonexistent”" in text and "Support" in text


def test_status_in_a_linked_channel_shows_its_team(ladder: Ladder) -> None:
    company = acme_company(ladder)
    seed(ladder, lambda s: mobile_team(s, company))
    for post in (
        ask(ladder, ladder.acme, "status", user=DEV, channel="C0PLAT"),
        ask(ladder, ladder.acme, "status platform", user=DEV, channel="C0RANDOM"),
    ):
        assert post.response_type == "in_channel"
        assert post.blocks is not None
        assert post.blocks[0]["text"]["text"] == "OKR status · Platform"
        assert "Ship the mobile app" in shown(post) and "Make the app dependable" in shown(post)
        assert SUPPORT not in shown(post)
    # The first tree was posted in the channel it was typed in.
    [posted] = ladder.standin.messages("C0PLAT")
    assert "Ship the mobile app" in json.dumps(posted["blocks"])
    assert ladder.standin.messages("C0RANDOM") != []


@pytest.mark.parametrize("mention", [f"<@{DEV}|dev>", f"<@{DEV}>"])
def test_status_of_a_person(ladder: Ladder, mention: str) -> None:
    company = acme_company(ladder)
    seed(ladder, lambda s: mobile_team(s, company))
    post = ask(ladder, ladder.acme, f"status {mention}", user=EVE)
    assert post.response_type == "in_channel"
    assert post.blocks is not None
    # Named, not mentioned: a mention would notify them (and a header cannot render one).
    assert post.blocks[0]["text"]["text"] == "OKR status · dev"
    assert post.text is not None and post.text.startswith("OKR status · dev: 1 objective")
    assert "<@" not in shown(post)
    assert "Ship the mobile app" in shown(post)
    for title in (PLATFORM, SUPPORT, "Make the app dependable"):
        assert title not in shown(post), title


# ----------------------------------------------------------------------------- cycles, teams


def test_cycles_are_listed_by_anyone_created_and_closed_by_admins(ladder: Ladder) -> None:
    company = acme_company(ladder)
    seed(
        ladder,
        lambda s: [
            record_check_in(
                session=s,
                workspace_id=ACME,
                key_result_id=kr_id,
                author_id=CEO,
                value=value,
                period_start=date(2026, 2, 16),
                now=ladder.clock(),
            )
            for kr_id, value in zip(
                kr_ids(ladder, company.platform.id), (700_000, 52, 100), strict=True
            )
        ],
    )

    post = ask(ladder, ladder.acme, "cycle", user=DEV)
    assert post.response_type in (None, "ephemeral")
    assert "*H1 2026* Jan 5, 2026 – Jul 5, 2026 · open" in readable(post)

    for typed in ("new Q3 2026", "create Q3 2026", "add Q3 2026"):
        refused = ask(ladder, ladder.acme, f"cycle {typed}", user=DEV)
        assert "🚫 Only workspace admins can create cycles." in readable(refused), typed
    assert ladder.standin.last("users.info").args["user"] == DEV
    with Session(ladder.engine) as session:
        assert [c.name for c in session.exec(select(Cycle)).all()] == ["H1 2026"]
    post = ask(ladder, ladder.acme, "cycle new Q3 2026", user=CEO)
    assert "Cycle *Q3 2026* created: Jul 1, 2026 – Sep 30, 2026." in readable(post)
    post = ask(ladder, ladder.acme, "cycle new Sprint 9 2026-03-02 2026-03-13", user=CEO)
    assert "Cycle *Sprint 9* created: Mar 2, 2026 – Mar 13, 2026." in readable(post)
    post = ask(ladder, ladder.acme, "cycle new Sprint 10 2026-02-30 2026-03-13", user=CEO)
    assert "real dates" in readable(post)
    post = ask(ladder, ladder.acme, "cycle new Whenever", user=CEO)
    assert "can't tell the dates" in readable(post)
    text = readable(ask(ladder, ladder.acme, "cycle list", user=DEV))
    assert text.index("Q3 2026") < text.index("Sprint 9") < text.index("H1 2026")

    refused = ask(ladder, ladder.acme, "cycle close H1 2026", user=DEV)
    assert "🚫 Only workspace admins can close cycles." in readable(refused)
    with Session(ladder.engine) as session:
        assert session.get_one(Cycle, company.cycle.id).closed_at is None

    closed = ask(ladder, ladder.acme, "cycle close h1 2026", user=CEO)
    assert closed.response_type == "in_channel"  # grades concern everyone
    assert closed.blocks is not None
    assert closed.blocks[0]["text"]["text"] == "H1 2026 is closed · grades"
    text = readable(closed)
    # The overall figure opens the post: (0.9 + 0.0) / 2, then one line per objective with
    # its KRs' grades on one compact line; grades have two decimals, like every grade.
    summary = closed.blocks[1]["text"]["text"]
    assert summary == "🟡 *Average grade 0.45* across 2 objectives · 🟢 1 · 🔴 1"
    assert f"🟢 *0.90*  {PLATFORM}\n" in text  # (0.7 + 1 + 1) / 3
    assert " · 🔴 0.00 Resolve 90% of customer inquiries within 24 hou…\n" in text
    assert "0.70 or more" in text
    assert len(closed.blocks) == 4  # header, summary, one section of grades, legend
    with Session(ladder.engine) as session:
        assert session.get_one(Cycle, company.cycle.id).closed_at is not None
    assert "already closed" in readable(ask(ladder, ladder.acme, "cycle close H1 2026", user=CEO))
    assert "No cycle called “Q9”" in readable(ask(ladder, ladder.acme, "cycle close Q9", user=CEO))
    assert "I didn't get that" in readable(ask(ladder, ladder.acme, "cycle frobnicate", user=CEO))
    # Only the close went to the channel.
    in_channel = [p for p in ladder.standin.responses if p.response_type == "in_channel"]
    assert in_channel == [closed]


def test_teams_are_created_nested_linked_and_listed(ladder: Ladder) -> None:
    acme_company(ladder)

    def team(text: str, channel: str = "C0TEAM", user: str = DEV) -> str:
        post = ask(ladder, ladder.acme, f"team {text}".strip(), user=user, channel=channel)
        assert post.response_type in (None, "ephemeral")
        return readable(post)

    assert "No teams yet" in team("")
    assert "Team *Engineering* created" in team("new Engineering")
    assert "Team *Platform* under *Engineering* created" in team("new Platform parent engineering")
    assert "already exists" in team("new platform")
    assert "No team called “Design”" in team("new Mobile parent Design")
    assert "now linked to *Platform*" in team("link Platform", channel="C0PLAT")
    listed = team("list")
    assert "• *Engineering*" in listed and "• *Platform* (in Engineering) · <#C0PLAT>" in listed
    assert "*Platform* is now at the top level" in team("move Platform under none", user=CEO)
    assert "• *Platform* · <#C0PLAT>" in team("")
    assert "I didn't get that" in team("frobnicate")
    # The linked channel now answers `/okr status` with the team's tree.
    post = ask(ladder, ladder.acme, "status", user=DEV, channel="C0PLAT")
    assert post.response_type == "in_channel"
    assert post.blocks is not None and post.blocks[0]["text"]["text"] == "OKR status · Platform"
