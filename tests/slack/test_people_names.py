"""The display-name cache behind status, Home and `/okr mine`, against the Slack stand-in.

Owners are shown by name because a mention notifies them; names come from users.info (or
users.list pages when many are unknown), cached per workspace, never failing a render.
"""

from __future__ import annotations

from slack_sdk import WebClient

from bot.app import make_client
from bot.config import load_settings
from bot.services.people import (
    LIST_ABOVE,
    NAME_RETRY_SECONDS,
    NAME_SECONDS,
    PeopleDirectory,
)
from tests.slack.conftest import ACME, ACME_TOKEN, CEO, DEV, EVE, OTHER, SECRET, STRANGER
from tests.support.slack_standin import SlackStandIn


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def client_for(standin: SlackStandIn) -> WebClient:
    """The app's own client (its retry handlers), pointed at the stand-in."""
    settings = load_settings(
        {
            "SLACK_BOT_TOKEN": ACME_TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": standin.api_url,
        }
    )
    return make_client(settings)


def asked(standin: SlackStandIn, method: str = "users.info") -> list[str]:
    return [c.args.get("user", "") for c in standin.calls(method)]


def test_names_are_cached_per_workspace_and_refreshed_after_a_while(
    standin: SlackStandIn,
) -> None:
    clock = Clock()
    people = PeopleDirectory(clock=clock)
    client = client_for(standin)

    names = people.names(client, workspace_id=ACME, user_ids=[CEO, DEV, CEO])
    assert names == {CEO: "ceo", DEV: "dev"}  # the display name Slack shows
    assert sorted(asked(standin)) == [CEO, DEV]  # each once, duplicates folded
    # A name lookup also answers the admin question: Slack is not asked twice.
    assert people.is_admin(client, workspace_id=ACME, user_id=CEO)
    assert len(asked(standin)) == 2

    clock.now += NAME_SECONDS - 1
    assert people.names(client, workspace_id=ACME, user_ids=[DEV, CEO]) == names
    assert len(asked(standin)) == 2  # from the cache

    # Another workspace is its own cache (the same id on Enterprise Grid may differ).
    people.names(client, workspace_id=OTHER, user_ids=[CEO])
    assert len(asked(standin)) == 3

    standin.set_user(DEV, profile={**standin.user(DEV)["profile"], "display_name": "Dev P."})
    clock.now += 2
    assert people.names(client, workspace_id=ACME, user_ids=[DEV]) == {DEV: "Dev P."}
    assert len(asked(standin)) == 4


def test_a_failed_lookup_keeps_the_last_name_and_waits_before_asking_again(
    standin: SlackStandIn,
) -> None:
    clock = Clock()
    people = PeopleDirectory(clock=clock)
    client = client_for(standin)
    assert people.names(client, workspace_id=ACME, user_ids=[EVE]) == {EVE: "eve"}

    clock.now += NAME_SECONDS
    standin.fail_next("users.info", error="fatal_error")
    assert people.names(client, workspace_id=ACME, user_ids=[EVE]) == {EVE: "eve"}  # stale
    assert len(asked(standin)) == 2

    # A user Slack does not know (here: another workspace's) has no name; the caller shows a
    # placeholder, and Slack is not asked again at every render.
    assert people.names(client, workspace_id=ACME, user_ids=[STRANGER]) == {}
    assert people.names(client, workspace_id=ACME, user_ids=[STRANGER, EVE]) == {EVE: "eve"}
    assert asked(standin).count(STRANGER) == 1
    clock.now += NAME_RETRY_SECONDS
    people.names(client, workspace_id=ACME, user_ids=[STRANGER, EVE])
    assert asked(standin).count(STRANGER) == 2
    assert asked(standin).count(EVE) == 3  # the stale name is refreshed too


def test_many_unknown_names_come_from_users_list_pages_within_slacks_tiers(
    standin: SlackStandIn,
) -> None:
    many = [f"U0P{i:04d}" for i in range(450)]
    for i, user_id in enumerate(many):
        standin.add_user(ACME, user_id, name=f"person{i}")
    standin.apply_slack_tiers()  # users.info Tier 4, users.list Tier 2: 429 past them
    people = PeopleDirectory(clock=Clock())
    client = client_for(standin)

    names = people.names(client, workspace_id=ACME, user_ids=many)
    assert names == {user_id: f"person{i}" for i, user_id in enumerate(many)}
    assert standin.calls("users.info") == []  # not 450 Tier 4 calls
    assert len(standin.calls("users.list")) == 3  # 200 a page: 453 members
    assert standin.ratelimited_count() == 0
    # Every member a page brought is cached: a few more names cost nothing.
    assert people.names(client, workspace_id=ACME, user_ids=[CEO, DEV]) == {
        CEO: "ceo",
        DEV: "dev",
    }
    assert standin.calls("users.info") == [] and len(standin.calls("users.list")) == 3

    # A few unknown: users.info each, a few at a time.
    fresh = PeopleDirectory(clock=Clock())
    assert len(fresh.names(client, workspace_id=ACME, user_ids=many[:LIST_ABOVE])) == LIST_ABOVE
    assert len(standin.calls("users.info")) == LIST_ABOVE
    assert standin.ratelimited_count() == 0
