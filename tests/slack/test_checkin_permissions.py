"""Who may check in on a key result, end to end over signed HTTP.

Only the KR's owner, the owner of its objective or a workspace admin may, from every way in:
the objective's overflow menu (on `/okr status` and on the Home tab), the objective's Check in
button (`/okr mine`), a KR's Check in button (Home tab) and the check-in modal's submission.
Anyone else is told privately (an ephemeral answer, or a small modal where there is no
response_url), no check-in modal opens for them, and nothing is stored.

The world: the reference company (CEO, the admin, owns both objectives and their KRs) plus
DEV's objective "Build the chat backend" with one KR of DEV's and one of EVE's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from sqlmodel import Session, col, select

from bot.blocks.loading import LOADING_CALLBACK
from bot.okr.kinds import KRKind
from bot.okr.validate import KRSpec
from storage.models import CheckIn, KeyResult
from storage.objectives import create_objective
from tests.factories import reference_company
from tests.slack.conftest import ACME, CEO, DEV, EVE, Ladder
from tests.slack.flows import modal_shown
from tests.support.slack_standin import ResponsePost

T = TypeVar("T")

REFUSAL = (
    "Only the key result's owner, the objective's owner or a workspace admin can check in on it."
)
EPHEMERAL_TS = "1771232400.000100"
CHANNEL = "C0TEAM"
CHECKIN_MODAL = "checkin_modal"


# ----------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class World:
    platform: int  # CEO's objective
    ceo_krs: list[int]  # its three KRs, CEO's
    backend: int  # DEV's objective
    dev_kr: int  # its KR owned by DEV
    eve_kr: int  # its KR owned by EVE


def seed(ladder: Ladder, build: Callable[[Session], T]) -> T:
    with Session(ladder.engine, expire_on_commit=False) as session:
        out = build(session)
        session.commit()
        return out


def kr_ids(session: Session, objective_id: int) -> list[int]:
    found = session.exec(
        select(KeyResult.id)
        .where(KeyResult.objective_id == objective_id)
        .order_by(col(KeyResult.position))
    ).all()
    return [k for k in found if k is not None]


@pytest.fixture
def world(ladder: Ladder) -> World:
    def build(session: Session) -> World:
        company = reference_company(session, workspace_id=ACME, owner_id=CEO)
        backend = create_objective(
            session=session,
            workspace_id=ACME,
            cycle_id=company.cycle.id,  # type: ignore[arg-type]
            owner_id=DEV,
            title="Build the chat backend",
            key_results=[
                KRSpec("Ship 5 chat services", KRKind.INCREASE, 5, start_value=0),
                KRSpec("Onboard 8 teams", KRKind.INCREASE, 8, start_value=0, owner_id=EVE),
            ],
        )
        session.flush()
        assert company.platform.id is not None and backend.id is not None
        dev_kr, eve_kr = kr_ids(session, backend.id)
        return World(
            platform=company.platform.id,
            ceo_krs=kr_ids(session, company.platform.id),
            backend=backend.id,
            dev_kr=dev_kr,
            eve_kr=eve_kr,
        )

    return seed(ladder, build)


def stored(ladder: Ladder) -> dict[int, float | None]:
    """Every KR's current value."""
    with Session(ladder.engine) as session:
        return {k.id: k.current_value for k in session.exec(select(KeyResult)).all()}  # type: ignore[misc]


def checkins(ladder: Ladder) -> list[tuple[int, str, float | None]]:
    with Session(ladder.engine) as session:
        rows = session.exec(select(CheckIn).order_by(col(CheckIn.key_result_id))).all()
        return [(r.key_result_id, r.author_id, r.value) for r in rows]


def ask(ladder: Ladder, text: str, *, user: str) -> ResponsePost:
    """Type `/okr text` in #team and return the one answer posted to its response_url."""
    before = len(ladder.standin.calls("response_url"))
    response = ladder.acme.slash_command(text, user_id=user, channel_id=CHANNEL)
    assert response.status_code == 200 and response.text == "", response.text
    ladder.standin.wait_for("response_url", count=before + 1)
    posts = [p for p in ladder.standin.responses if p.url == ladder.acme.last_response_url]
    assert len(posts) == 1
    return posts[0]


def status_message(ladder: Ladder, *, user: str) -> dict[str, Any]:
    """`/okr status all` in #team, as everyone in the channel sees and clicks it."""
    assert ask(ladder, "status all", user=user).response_type == "in_channel"
    return ladder.standin.messages(CHANNEL)[-1]


def ephemeral(blocks: list[dict[str, Any]] | None, text: str = "") -> dict[str, Any]:
    """An ephemeral message (e.g. `/okr mine`) as Slack hands it back when clicked."""
    return {"type": "message", "ts": EPHEMERAL_TS, "text": text, "blocks": blocks}


def click(
    ladder: Ladder, message: dict[str, Any], action_id: str, *, user: str, **kwargs: Any
) -> None:
    container = None
    if message["ts"] == EPHEMERAL_TS:
        container = {
            "type": "message",
            "message_ts": EPHEMERAL_TS,
            "channel_id": CHANNEL,
            "is_ephemeral": True,
        }
    response = ladder.acme.block_action(
        user_id=user,
        action_id=action_id,
        message=message,
        channel_id=CHANNEL,
        container=container,
        **kwargs,
    )
    assert response.status_code == 200, response.text


def menu(ladder: Ladder, message: dict[str, Any], objective_id: int, *, user: str) -> None:
    """Pick "Check in" in an objective's overflow menu."""
    click(
        ladder,
        message,
        f"objective_menu:{objective_id}",
        user=user,
        selected_option=f"checkin:{objective_id}",
    )


def kr_button(kr_id: int) -> dict[str, Any]:
    """A KR's Check in button, as the Home tab shows one: here forged for any KR id."""
    return {
        "type": "section",
        "block_id": f"forged_kr:{kr_id}",
        "text": {"type": "mrkdwn", "text": "A key result"},
        "accessory": {
            "type": "button",
            "action_id": f"checkin_kr:{kr_id}",
            "text": {"type": "plain_text", "text": "Check in"},
            "value": str(kr_id),
        },
    }


def home(ladder: Ladder, user: str) -> dict[str, Any]:
    """Open `user`'s Home tab and return it once published."""
    before = len(ladder.standin.calls("views.publish"))
    assert ladder.acme.app_home_opened(user_id=user).status_code == 200
    ladder.standin.wait_for(
        "views.publish", count=before + 1, predicate=lambda c: c.args.get("user_id") == user
    )
    tab = ladder.standin.home_view(ACME, user)
    assert tab is not None
    return tab


def opened_views(ladder: Ladder) -> list[dict[str, Any]]:
    """The views the app showed in modals: opened, or put in place of "Loading…"."""
    return [
        c.args["view"]
        for c in ladder.standin.calls()
        if c.method in ("views.open", "views.update")
        and c.args["view"].get("callback_id") != LOADING_CALLBACK
    ]


def checkin_modals(ladder: Ladder) -> list[dict[str, Any]]:
    """Every check-in modal the app asked Slack to open."""
    views = opened_views(ladder)
    return [v for v in views if isinstance(v, dict) and v.get("callback_id") == CHECKIN_MODAL]


def opened(ladder: Ladder, count: int) -> dict[str, Any]:
    """The view of the `count`-th views.open, once Slack opened it."""
    return modal_shown(ladder, count=count)


def value_blocks(view: dict[str, Any]) -> list[int]:
    """The KRs a check-in modal asks about, in order."""
    ids = [b.get("block_id", "") for b in view["blocks"]]
    return [int(i.removeprefix("value:")) for i in ids if i.startswith("value:")]


def answers(values: dict[int, str]) -> dict[str, dict[str, Any]]:
    """A check-in submission's values: KR id -> what is typed in its "Now at" field."""
    return {f"value:{kr}": {f"value:{kr}": text} for kr, text in values.items()}


def refused_privately(ladder: Ladder, count: int) -> ResponsePost:
    """The `count`-th response_url post: the refusal, only the clicker sees it."""
    ladder.standin.wait_for("response_url", count=count)
    post = ladder.standin.responses[count - 1]
    assert post.response_type == "ephemeral" and not post.replace_original
    assert post.text == REFUSAL
    assert "🚫" in json.dumps(post.blocks, ensure_ascii=False)
    return post


def refused_in_a_small_modal(ladder: Ladder, count: int, user: str) -> None:
    """From the Home tab there is no response_url: a small modal only `user` sees."""
    told = opened(ladder, count)  # a small modal, or the "Loading…" one the refusal replaced
    assert told.get("callback_id") in (None, "", LOADING_CALLBACK) and told.get("submit") is None
    texts = [b["text"]["text"] for b in told["blocks"] if b["type"] == "section"]
    assert texts == [f"🚫 {REFUSAL}"]
    assert ladder.standin.view_stack(ACME, user)[0]["id"] == told["id"]


def admin_asked_about(ladder: Ladder) -> list[str]:
    """Whom users.info was asked about. It also names the owners a status or Home shows
    (never mentioned); one answer serves both, so each person is asked once at most."""
    asked = [c.args["user"] for c in ladder.standin.calls("users.info")]
    assert len(asked) == len(set(asked)), asked
    return asked


# ------------------------------------------------------------------------- refusals


def test_the_objective_menu_refuses_a_non_owner(ladder: Ladder, world: World) -> None:
    before = stored(ladder)
    message = status_message(ladder, user=DEV)  # response_url post 1
    # Check in loads the objective's tree: it opens "Loading…", and the refusal replaces it.
    menu(ladder, message, world.platform, user=DEV)
    refused_in_a_small_modal(ladder, 1, DEV)
    # EVE owns a KR in DEV's objective, but not one of the CEO's.
    menu(ladder, message, world.platform, user=EVE)
    refused_in_a_small_modal(ladder, 2, EVE)
    assert checkin_modals(ladder) == [] and len(ladder.standin.responses) == 1
    assert {DEV, EVE} <= set(admin_asked_about(ladder))  # Slack says: not admins
    assert stored(ladder) == before and checkins(ladder) == []


def test_the_objective_check_in_button_refuses_a_non_owner(ladder: Ladder, world: World) -> None:
    """The CEO's `/okr mine` is ephemeral; DEV forges a click on its Check in button."""
    before = stored(ladder)
    mine = ask(ladder, "mine", user=CEO)  # response_url post 1
    message = ephemeral(mine.blocks, mine.text or "")
    click(
        ladder,
        message,
        f"checkin_objective:{world.platform}",
        user=DEV,
        value=str(world.platform),
    )
    refused_in_a_small_modal(ladder, 1, DEV)
    assert checkin_modals(ladder) == [] and len(ladder.standin.responses) == 1
    assert stored(ladder) == before and checkins(ladder) == []


def test_a_kr_check_in_button_naming_someone_elses_kr_is_refused(
    ladder: Ladder, world: World
) -> None:
    before = stored(ladder)
    # On the Home tab (no response_url): DEV's own tab with a button for the CEO's KR.
    tab = home(ladder, DEV)
    forged = {**tab, "blocks": [*tab["blocks"], kr_button(world.ceo_krs[0])]}
    response = ladder.acme.block_action(
        user_id=DEV, action_id=f"checkin_kr:{world.ceo_krs[0]}", view=forged
    )
    assert response.status_code == 200, response.text
    refused_in_a_small_modal(ladder, 1, DEV)

    # In a message (there is a response_url): EVE on DEV's KR, of DEV's objective.
    message = ephemeral([kr_button(world.dev_kr)])
    click(ladder, message, f"checkin_kr:{world.dev_kr}", user=EVE, value=str(world.dev_kr))
    refused_privately(ladder, 1)

    assert checkin_modals(ladder) == []
    assert len(opened_views(ladder)) == 1  # the small refusal only
    assert stored(ladder) == before and checkins(ladder) == []


def test_the_home_tabs_objective_menu_refuses_a_non_owner(ladder: Ladder, world: World) -> None:
    before = stored(ladder)
    tab = home(ladder, DEV)
    response = ladder.acme.block_action(
        user_id=DEV,
        action_id=f"objective_menu:{world.platform}",
        view=tab,
        selected_option=f"checkin:{world.platform}",
    )
    assert response.status_code == 200, response.text
    refused_in_a_small_modal(ladder, 1, DEV)
    assert checkin_modals(ladder) == []
    assert ladder.standin.view_stack(ACME, CEO) == []
    assert stored(ladder) == before and checkins(ladder) == []


def test_a_submission_naming_someone_elses_kr_stores_nothing(ladder: Ladder, world: World) -> None:
    before = stored(ladder)

    # The CEO's own check-in modal, submitted by DEV (a replayed or forged payload).
    message = status_message(ladder, user=CEO)
    menu(ladder, message, world.platform, user=CEO)
    ceo_modal = opened(ladder, 1)
    assert value_blocks(ceo_modal) == world.ceo_krs
    answer = ladder.acme.view_submission(
        ceo_modal, user_id=DEV, values=answers({world.ceo_krs[0]: "499"})
    )
    assert answer.status_code == 200, answer.text
    # Every KR of the form is on it (untouched fields keep their value, and count too).
    assert answer.json() == {
        "response_action": "errors",
        "errors": {f"value:{k}": REFUSAL for k in world.ceo_krs},
    }
    assert stored(ladder) == before and checkins(ladder) == []

    # DEV's own modal with one of its KR ids swapped for a CEO's: nothing of it is stored,
    # not even DEV's objective's other KR (EVE's), which DEV may check in on.
    menu(ladder, message, world.backend, user=DEV)
    own = opened(ladder, 2)
    assert value_blocks(own) == [world.dev_kr, world.eve_kr]
    target = world.ceo_krs[1]
    forged = json.loads(
        json.dumps(own)
        .replace(f'"value:{world.dev_kr}"', f'"value:{target}"')
        .replace(f'"confidence:{world.dev_kr}"', f'"confidence:{target}"')
    )
    answer = ladder.acme.view_submission(
        forged, user_id=DEV, values=answers({target: "499", world.eve_kr: "7"})
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"response_action": "errors", "errors": {f"value:{target}": REFUSAL}}
    assert stored(ladder) == before and checkins(ladder) == []
    assert ladder.standin.calls("chat.postEphemeral") == []  # no "Checked in" either


def test_a_slash_command_check_in_offers_only_my_own_krs(ladder: Ladder, world: World) -> None:
    assert ladder.acme.slash_command("checkin", user_id=EVE, channel_id=CHANNEL).status_code == 200
    view = opened(ladder, 1)
    assert value_blocks(view) == [world.eve_kr]


# ---------------------------------------------------------------- owners and admins


def test_the_krs_owner_checks_in_from_home_and_sees_only_their_kr(
    ladder: Ladder, world: World
) -> None:
    tab = home(ladder, EVE)
    response = ladder.acme.block_action(
        user_id=EVE, action_id=f"checkin_kr:{world.eve_kr}", view=tab
    )
    assert response.status_code == 200, response.text
    modal = opened(ladder, 1)
    assert modal["callback_id"] == CHECKIN_MODAL and value_blocks(modal) == [world.eve_kr]
    publishes = len(ladder.standin.calls("views.publish"))
    answer = ladder.acme.view_submission(modal, user_id=EVE, values=answers({world.eve_kr: "7"}))
    assert answer.status_code == 200 and answer.text == "", answer.text
    ladder.standin.wait_for("views.publish", count=publishes + 1)  # Home shows the new value
    assert stored(ladder)[world.eve_kr] == 7
    assert checkins(ladder) == [(world.eve_kr, EVE, 7)]

    # The objective's menu offers EVE her KR of it, not DEV's.
    message = status_message(ladder, user=EVE)
    menu(ladder, message, world.backend, user=EVE)
    assert value_blocks(opened(ladder, 2)) == [world.eve_kr]


def test_the_objectives_owner_checks_in_on_all_its_krs(ladder: Ladder, world: World) -> None:
    mine = ask(ladder, "mine", user=DEV)
    click(
        ladder,
        ephemeral(mine.blocks, mine.text or ""),
        f"checkin_objective:{world.backend}",
        user=DEV,
        value=str(world.backend),
    )
    modal = opened(ladder, 1)
    assert value_blocks(modal) == [world.dev_kr, world.eve_kr]
    answer = ladder.acme.view_submission(
        modal, user_id=DEV, values=answers({world.dev_kr: "2", world.eve_kr: "5"})
    )
    assert answer.status_code == 200 and answer.text == "", answer.text
    [thanks] = ladder.standin.wait_for("chat.postEphemeral")
    assert thanks.args["user"] == DEV and "Checked in on 2 key results" in thanks.args["text"]
    values = stored(ladder)
    assert (values[world.dev_kr], values[world.eve_kr]) == (2, 5)
    assert checkins(ladder) == [(world.dev_kr, DEV, 2), (world.eve_kr, DEV, 5)]

    # A KR of DEV's objective that EVE owns, from its own Check in button.
    message = ephemeral([kr_button(world.eve_kr)])
    click(ladder, message, f"checkin_kr:{world.eve_kr}", user=DEV, value=str(world.eve_kr))
    assert value_blocks(opened(ladder, 2)) == [world.eve_kr]
    assert admin_asked_about(ladder) == []  # owning it settles it: Slack is not asked


def test_an_admin_checks_in_on_anyones_krs(ladder: Ladder, world: World) -> None:
    message = status_message(ladder, user=CEO)
    menu(ladder, message, world.backend, user=CEO)
    modal = opened(ladder, 1)
    assert value_blocks(modal) == [world.dev_kr, world.eve_kr]
    answer = ladder.acme.view_submission(modal, user_id=CEO, values=answers({world.dev_kr: "3"}))
    assert answer.status_code == 200 and answer.text == "", answer.text
    ladder.standin.wait_for("chat.postEphemeral")
    assert stored(ladder)[world.dev_kr] == 3
    assert [(kr, who) for kr, who, _ in checkins(ladder)] == [
        (world.dev_kr, CEO),
        (world.eve_kr, CEO),  # left untouched: saved as it stood
    ]

    # A KR's button from the Home tab, for DEV's KR.
    tab = home(ladder, CEO)
    forged = {**tab, "blocks": [*tab["blocks"], kr_button(world.dev_kr)]}
    response = ladder.acme.block_action(
        user_id=CEO, action_id=f"checkin_kr:{world.dev_kr}", view=forged
    )
    assert response.status_code == 200, response.text
    assert value_blocks(opened(ladder, 2)) == [world.dev_kr]
    assert CEO in admin_asked_about(ladder)
