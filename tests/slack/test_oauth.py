"""OAuth mode end to end: Ladder installed to two workspaces through Bolt's install flow over
real HTTP, each workspace served with its own bot token, kept apart, uninstalled, reinstalled,
and rotating tokens refreshed, by requests and by the background sender alike.

The browser steps are played by httpx (GET /slack/install, then the redirect back with the
code); Slack's side of the install (the person approving, oauth.v2.access) by the stand-in.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

import httpx
import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, select

from bot.app import NotInstalledClient, build_app, workspace_clients
from bot.config import BOT_SCOPES, ConfigError, Settings, load_settings
from bot.jobs.sender import Sender
from bot.services.delivery import DeliveryService
from bot.services.installs import installation_store
from storage.migrate import SLACK_TABLES
from storage.models import CheckIn, Objective, Workspace
from tests.slack.conftest import (
    ACME,
    ACME_TOKEN,
    CEO,
    DEV,
    OTHER,
    OTHER_TOKEN,
    SECRET,
    STRANGER,
    Ladder,
    serve_ladder,
)
from tests.slack.conftest import TestClock as Clock  # not a test class
from tests.slack.flows import current, fill, rev_of
from tests.support.slack_sender import SlackSender
from tests.support.slack_standin import RecordedCall, SlackStandIn

CLIENT_ID = "1111111111.2222222222222"
CLIENT_SECRET = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
PUBLIC_URL = "https://ladder.example.com"
REDIRECT_URI = f"{PUBLIC_URL}/slack/oauth_redirect"
BAKER = "U0BAKER"  # Other Co's admin
MONDAY_3PM = datetime(2026, 2, 16, 15, 0, tzinfo=UTC)  # 10:00 in New York, 16:00 in Berlin
REPO = Path(__file__).resolve().parents[2]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class Commits:
    """Wakes a waiting test after each ORM commit: event listeners run after Slack's request
    is acknowledged, so their effect is awaited this way instead of by sleeping."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._count = 0

    def _committed(self, _session: OrmSession) -> None:
        with self._cond:
            self._count += 1
            self._cond.notify_all()

    def __enter__(self) -> Commits:
        event.listen(OrmSession, "after_commit", self._committed)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(OrmSession, "after_commit", self._committed)

    def wait_until(self, predicate: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                seen = self._count
            if predicate():  # outside the lock: it reads the database itself
                return
            with self._cond:
                while self._count == seen:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise AssertionError(f"timed out after {timeout}s waiting for {what}")
                    self._cond.wait(remaining)


def clear_slack_tables(engine: Engine) -> None:
    """The engine fixture empties the SQLModel tables only; these belong to slack_sdk."""
    with engine.begin() as connection:
        for name in SLACK_TABLES:
            connection.execute(sa.text(f"DELETE FROM {name}"))


def oauth_env(standin: SlackStandIn, **extra: str) -> dict[str, str]:
    return {
        "SLACK_CLIENT_ID": CLIENT_ID,
        "SLACK_CLIENT_SECRET": CLIENT_SECRET,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": standin.api_url,
        "LADDER_PUBLIC_URL": PUBLIC_URL,
        "LADDER_SCHEDULER": "off",
        **extra,
    }


@contextmanager
def running(settings: Settings, standin: SlackStandIn, engine: Engine) -> Iterator[Ladder]:
    """The app built from `settings`, served on a loopback port, with a sender per workspace."""
    with serve_ladder(settings, standin, engine, Clock(MONDAY_3PM)) as ladder:
        yield ladder


@pytest.fixture
def ladder(standin: SlackStandIn, engine: Engine) -> Iterator[Ladder]:
    """Ladder in OAuth mode, installed nowhere yet (overrides the single-token fixture)."""
    standin.set_oauth_app(CLIENT_ID, CLIENT_SECRET)
    standin.add_user(OTHER, BAKER, name="baker", is_admin=True)
    clear_slack_tables(engine)
    with running(load_settings(oauth_env(standin)), standin, engine) as app:
        yield app
    clear_slack_tables(engine)


@pytest.fixture
def commits() -> Iterator[Commits]:
    with Commits() as waiter:
        yield waiter


# ----------------------------------------------------------------------------- helpers


def base(ladder: Ladder) -> str:
    return ladder.url.removesuffix("/slack/events")


def start_install(ladder: Ladder, browser: httpx.Client) -> tuple[dict[str, str], str]:
    """GET /slack/install: (the authorize URL's query, the state cookie Slack's redirect
    brings back)."""
    answer = browser.get(f"{base(ladder)}/slack/install")
    assert answer.status_code == 302, answer.text
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}" == ladder.standin.base_url
    assert location.path == "/oauth/v2/authorize"
    cookie = answer.headers["set-cookie"].split(";")[0]
    return dict(parse_qsl(location.query, keep_blank_values=True)), cookie


def install(ladder: Ladder, team: str, user: str) -> dict[str, Any]:
    """The whole install, as a person in `team` does it; returns oauth.v2.access's answer."""
    with httpx.Client() as browser:
        query, cookie = start_install(ladder, browser)
        code = ladder.standin.authorize(
            team, user, scopes=query["scope"], redirect_uri=query.get("redirect_uri")
        )
        done = browser.get(
            f"{base(ladder)}/slack/oauth_redirect",
            params={"code": code, "state": query["state"]},
            headers={"Cookie": cookie},
        )
    assert done.status_code == 200, done.text
    assert "Thank you!" in done.text
    [exchange] = [c for c in ladder.standin.calls("oauth.v2.access") if c.args.get("code") == code]
    assert exchange.ok, exchange.response
    return exchange.response


def workspace(ladder: Ladder, team: str) -> Workspace | None:
    with Session(ladder.engine) as session:
        return session.get(Workspace, team)


def slack_rows(ladder: Ladder, team: str) -> dict[str, int]:
    with ladder.engine.connect() as connection:
        return {
            name: connection.execute(
                sa.text(f"SELECT count(*) FROM {name} WHERE team_id = :t"), {"t": team}
            ).scalar_one()
            for name in ("slack_installations", "slack_bots")
        }


def app_calls(ladder: Ladder, team: str) -> list[RecordedCall]:
    """Web API calls the app made for a workspace (response_url posts need no token)."""
    return [
        c
        for c in ladder.standin.calls(team_id=team)
        if c.method not in ("response_url", "upload", "oauth.v2.access")
    ]


def new_objective(
    ladder: Ladder, sender: SlackSender, *, user: str, title: str, kr: str
) -> dict[str, Any]:
    """/okr new, type one KR sentence, submit: the objective's confirmation DM call."""
    team = sender.team_id
    opened_before = len(ladder.standin.calls("views.open", team_id=team))
    assert sender.slash_command(f"new {title}", user_id=user).status_code == 200
    view = ladder.standin.wait_for("views.open", team_id=team, count=opened_before + 1)[-1]
    assert view.ok, view.response
    loading = view.response["view"]  # "Loading…", then the form (views.update of that view)
    ladder.standin.wait_for("views.update", predicate=lambda c: c.args["view_id"] == loading["id"])
    modal = current(ladder, loading)
    updates_before = len(ladder.standin.calls("views.update", team_id=team))
    rev = rev_of(modal)
    sender.block_action(
        user_id=user,
        action_id="kr_text_0",
        view=modal,
        value=kr,
        values={f"kr0_text@{rev}": {"kr_text_0": kr}},
    )
    ladder.standin.wait_for("views.update", team_id=team, count=updates_before + 1)
    modal = ladder.standin.view(modal["id"]) or {}
    posts_before = len(ladder.standin.calls("chat.postMessage", team_id=team))
    answer = sender.view_submission(modal, user_id=user, values=fill(modal, kr0_start="0"))
    assert answer.status_code == 200 and answer.text == "", answer.text
    return ladder.standin.wait_for("chat.postMessage", team_id=team, count=posts_before + 1)[-1]


def ask(ladder: Ladder, sender: SlackSender, text: str, *, user: str) -> str:
    """`/okr text`: everything the one answer on the command's response_url shows."""
    before = len(ladder.standin.calls("response_url"))
    assert sender.slash_command(text, user_id=user).status_code == 200
    ladder.standin.wait_for("response_url", count=before + 1)
    [post] = [p for p in ladder.standin.responses if p.url == sender.last_response_url]
    return json.dumps([post.text, post.blocks], ensure_ascii=False)


def open_home(ladder: Ladder, sender: SlackSender, *, user: str) -> str:
    before = len(ladder.standin.calls("views.publish", team_id=sender.team_id))
    assert sender.app_home_opened(user_id=user).status_code == 200
    [*_, published] = ladder.standin.wait_for(
        "views.publish", team_id=sender.team_id, count=before + 1
    )
    assert published.ok, published.response
    return json.dumps(published.args["view"], ensure_ascii=False)


def open_settings(ladder: Ladder, sender: SlackSender, *, user: str) -> dict[str, Any]:
    before = len(ladder.standin.calls("views.open", team_id=sender.team_id))
    assert sender.slash_command("settings", user_id=user).status_code == 200
    [*_, opened] = ladder.standin.wait_for("views.open", team_id=sender.team_id, count=before + 1)
    assert opened.ok, opened.response
    return opened.response["view"]


def weekday_shown(view: dict[str, Any]) -> str:
    [block] = [b for b in view["blocks"] if b.get("block_id") == "checkin_weekday"]
    return str(block["element"]["initial_option"]["value"])


def sender_for(ladder: Ladder) -> Sender:
    """The background sender exactly as `clock`/`serve` build it in OAuth mode."""
    return Sender(
        DeliveryService(ladder.engine, clock=ladder.clock),
        workspace_clients(ladder.settings, ladder.engine),
    )


def prompts(ladder: Ladder, since: int = 0) -> list[RecordedCall]:
    return [
        c
        for c in ladder.standin.calls("chat.postMessage")[since:]
        if (c.args.get("metadata") or {}).get("event_type") == "ladder_outbox"
    ]


# ----------------------------------------------------------------------------- install


def test_install_redirects_to_slack_with_the_manifest_scopes_and_a_state(ladder: Ladder) -> None:
    with httpx.Client() as browser:
        query, cookie = start_install(ladder, browser)
    assert query["client_id"] == CLIENT_ID
    assert query["scope"] == ",".join(BOT_SCOPES)
    assert query["user_scope"] == ""
    assert query["redirect_uri"] == REDIRECT_URI  # from LADDER_PUBLIC_URL
    assert len(query["state"]) >= 32 and cookie == f"slack-app-oauth-state={query['state']}"
    with ladder.engine.connect() as connection:
        states = connection.execute(sa.text("SELECT state FROM slack_oauth_states")).all()
    assert [row.state for row in states] == [query["state"]]  # kept in Ladder's database


def test_two_workspaces_install_and_each_is_served_with_its_own_token(
    ladder: Ladder, commits: Commits
) -> None:
    acme = install(ladder, ACME, CEO)
    other = install(ladder, OTHER, BAKER)
    acme_token, other_token = acme["access_token"], other["access_token"]
    assert acme["team"]["id"] == ACME and other["team"]["id"] == OTHER
    assert acme_token != other_token
    # Stored in Ladder's database, one installation and one bot per workspace.
    assert (
        slack_rows(ladder, ACME)
        == slack_rows(ladder, OTHER)
        == {
            "slack_installations": 1,
            "slack_bots": 1,
        }
    )
    store = installation_store(ladder.engine, client_id=CLIENT_ID)
    assert store.find_bot(enterprise_id=None, team_id=ACME).bot_token == acme_token  # type: ignore[union-attr]
    assert (workspace(ladder, ACME).active, workspace(ladder, ACME).name) == (True, "Acme Tech")  # type: ignore[union-attr]
    assert workspace(ladder, OTHER).active is True  # type: ignore[union-attr]

    # Data created in each through commands and modals.
    ask(ladder, ladder.acme, "vision Connect everyone", user=CEO)
    ask(ladder, ladder.other, "vision Bread for everyone", user=BAKER)
    new_objective(ladder, ladder.acme, user=CEO, title="Launch the platform", kr="Reach 1000 users")
    new_objective(
        ladder, ladder.other, user=STRANGER, title="Open a bakery", kr="Sell 500 croissants"
    )
    with Session(ladder.engine) as session:
        owners = {(o.workspace_id, o.title) for o in session.exec(select(Objective)).all()}
    assert owners == {(ACME, "Launch the platform"), (OTHER, "Open a bakery")}

    # Settings: Acme's admin moves check-ins to Wednesday; Other Co keeps Monday.
    view = open_settings(ladder, ladder.acme, user=CEO)
    answer = ladder.acme.view_submission(
        view, user_id=CEO, values={"checkin_weekday": {"checkin_weekday": "2"}}
    )
    assert answer.text == "", answer.text
    assert weekday_shown(open_settings(ladder, ladder.other, user=BAKER)) == "0"
    assert weekday_shown(open_settings(ladder, ladder.acme, user=CEO)) == "2"

    # Status and Home show each workspace its own.
    acme_status = ask(ladder, ladder.acme, "status all", user=DEV)
    other_status = ask(ladder, ladder.other, "status all", user=STRANGER)
    assert "Launch the platform" in acme_status and "Connect everyone" in acme_status
    assert "Open a bakery" in other_status and "Bread for everyone" in other_status
    for text in ("Open a bakery", "Bread for everyone", "croissants"):
        assert text not in acme_status and text not in open_home(ladder, ladder.acme, user=CEO)
    for text in ("Launch the platform", "Connect everyone", "1000 users"):
        assert text not in other_status
        assert text not in open_home(ladder, ladder.other, user=STRANGER)

    # Monday 10:00 in New York: Other Co's owner is asked; Acme checks in on Wednesdays.
    report = sender_for(ladder).run()
    assert report.sent == 1 and report.failed == 0
    [prompt] = prompts(ladder)
    assert (prompt.team_id, prompt.token, prompt.args["channel"]) == (
        OTHER,
        other_token,
        STRANGER,
    )
    assert "croissants" in json.dumps(prompt.args["blocks"])
    ladder.other.block_action(
        user_id=STRANGER, action_id="prompt_no_change", message=prompt.response["message"]
    )
    ladder.standin.wait_for("chat.update", team_id=OTHER)
    with Session(ladder.engine) as session:
        [check_in] = session.exec(select(CheckIn)).all()
    assert (check_in.workspace_id, check_in.author_id) == (OTHER, STRANGER)

    # Wednesday 10:00 in New York: now Acme's owner, and nobody twice.
    ladder.clock.now = MONDAY_3PM + timedelta(days=2)
    before = len(ladder.standin.calls("chat.postMessage"))
    assert sender_for(ladder).run().sent == 1
    [acme_prompt] = prompts(ladder, since=before)
    assert (acme_prompt.team_id, acme_prompt.token, acme_prompt.args["channel"]) == (
        ACME,
        acme_token,
        CEO,
    )
    assert "Open a bakery" not in json.dumps(acme_prompt.args)

    # Every Web API call the app made for a workspace carried that workspace's token, and
    # never the tokens Slack had issued outside the install.
    acme_calls, other_calls = app_calls(ladder, ACME), app_calls(ladder, OTHER)
    assert acme_calls and other_calls
    assert {c.token for c in acme_calls} == {acme_token}
    assert {c.token for c in other_calls} == {other_token}
    assert not [c for c in ladder.standin.calls() if c.token in (ACME_TOKEN, OTHER_TOKEN)]
    assert all(c.ok for c in acme_calls + other_calls), [c for c in acme_calls if not c.ok]


@pytest.mark.parametrize("forgery", ["unknown state", "no cookie", "replayed", "cancelled"])
def test_a_forged_or_stale_install_is_refused_with_a_clear_page(
    ladder: Ladder, forgery: str
) -> None:
    with httpx.Client() as browser:
        query, cookie = start_install(ladder, browser)
        code = ladder.standin.authorize(ACME, CEO, redirect_uri=REDIRECT_URI)
        params = {"code": code, "state": query["state"]}
        headers = {"Cookie": cookie}
        if forgery == "unknown state":  # a state Ladder never issued, cookie to match
            params["state"] = "forged-state"
            headers = {"Cookie": "slack-app-oauth-state=forged-state"}
        elif forgery == "no cookie":  # the redirect reached a browser that did not start it
            headers = {}
        elif forgery == "replayed":  # a completed install's redirect, sent again
            install(ladder, OTHER, BAKER)
            other_query, other_cookie = start_install(ladder, browser)
            replay = {
                "code": ladder.standin.authorize(OTHER, BAKER, redirect_uri=REDIRECT_URI),
                "state": other_query["state"],
            }
            first = browser.get(
                f"{base(ladder)}/slack/oauth_redirect",
                params=replay,
                headers={"Cookie": other_cookie},
            )
            assert first.status_code == 200
            params, headers = replay, {"Cookie": other_cookie}
        else:  # the person clicked Cancel on Slack's page
            params = {"error": "access_denied", "state": query["state"]}
        exchanges = len(ladder.standin.calls("oauth.v2.access"))
        answer = browser.get(f"{base(ladder)}/slack/oauth_redirect", params=params, headers=headers)

    expected = {
        "unknown state": (401, "expired or was already used"),
        "no cookie": (400, "did not start from the Ladder install page"),
        "replayed": (401, "expired or was already used"),
        "cancelled": (200, "cancelled in Slack"),
    }[forgery]
    assert (answer.status_code, expected[1] in answer.text) == (expected[0], True), answer.text
    assert "Ladder was not installed" in answer.text
    assert 'href="/slack/install"' in answer.text or "href='/slack/install'" in answer.text
    assert "slack-app-oauth-state=deleted" in answer.headers["set-cookie"]
    assert len(ladder.standin.calls("oauth.v2.access")) == exchanges  # Slack never asked
    assert slack_rows(ladder, ACME) == {"slack_installations": 0, "slack_bots": 0}
    assert workspace(ladder, ACME) is None


def test_only_the_install_paths_are_served(ladder: Ladder) -> None:
    assert httpx.post(f"{base(ladder)}/slack/install").status_code == 404
    assert httpx.get(f"{base(ladder)}/slack/elsewhere").status_code == 404
    assert httpx.get(f"{base(ladder)}/healthz").json() == {"ok": True}


# ----------------------------------------------------------------------------- uninstall


def seed_krs(ladder: Ladder) -> None:
    """A KR owned by CEO in Acme and by STRANGER in Other Co."""
    from bot.okr.kinds import KRKind
    from bot.okr.validate import KRSpec
    from storage.cycles import create_cycle
    from storage.objectives import create_objective
    from storage.workspaces import ensure_workspace

    with Session(ladder.engine) as session:
        for team, owner in ((ACME, CEO), (OTHER, STRANGER)):
            ensure_workspace(session=session, workspace_id=team)
            cycle = create_cycle(
                session=session,
                workspace_id=team,
                name="H1 2026",
                start_date=date(2026, 1, 5),
                end_date=date(2026, 7, 5),
            )
            create_objective(
                session=session,
                workspace_id=team,
                cycle_id=cycle.id,
                owner_id=owner,
                title=f"Grow {team}",
                key_results=[KRSpec("Reach 100 customers", KRKind.INCREASE, 100, start_value=0)],
                now=MONDAY_3PM - timedelta(days=14),
            )
        session.commit()


def test_uninstall_stops_everything_there_and_a_reinstall_brings_it_back(
    ladder: Ladder, commits: Commits
) -> None:
    install(ladder, ACME, CEO)
    other_token = install(ladder, OTHER, BAKER)["access_token"]
    seed_krs(ladder)

    ladder.standin.uninstall(ACME)  # Slack revokes the tokens, then tells the app
    assert ladder.acme.event({"type": "app_uninstalled"}).status_code == 200
    commits.wait_until(
        lambda: workspace(ladder, ACME).active is False,  # type: ignore[union-attr]
        "Acme to be deactivated",
    )
    gone = workspace(ladder, ACME)
    assert gone is not None and gone.deactivated_at == MONDAY_3PM
    assert slack_rows(ladder, ACME) == {"slack_installations": 0, "slack_bots": 0}
    assert slack_rows(ladder, OTHER) == {"slack_installations": 1, "slack_bots": 1}
    client = workspace_clients(ladder.settings, ladder.engine)(ACME)
    assert isinstance(client, NotInstalledClient)

    # The sender prompts Other Co's owner and nobody in Acme (planned or not).
    report = sender_for(ladder).run(force=True)
    assert (report.sent, report.failed) == (1, 0)
    assert [(c.team_id, c.token) for c in prompts(ladder)] == [(OTHER, other_token)]
    assert app_calls(ladder, ACME) == [
        c for c in app_calls(ladder, ACME) if c.method == "auth.test"
    ]

    # Reinstalled: active again, the retention clock stopped, prompts flow with the new token.
    ladder.clock.advance(days=1)
    new_token = install(ladder, ACME, CEO)["access_token"]
    back = workspace(ladder, ACME)
    assert back is not None and (back.active, back.deactivated_at) == (True, None)
    before = len(ladder.standin.calls("chat.postMessage"))
    assert sender_for(ladder).run(force=True).failed == 0
    [prompt] = [c for c in prompts(ladder, since=before) if c.team_id == ACME]
    assert (prompt.token, prompt.args["channel"]) == (new_token, CEO)
    assert prompt.args["metadata"]["event_type"] == "ladder_outbox"


def test_a_workspace_without_an_installation_is_treated_like_a_revoked_token(
    ladder: Ladder, caplog: pytest.LogCaptureFixture
) -> None:
    other_token = install(ladder, OTHER, BAKER)["access_token"]
    seed_krs(ladder)  # Acme has data (e.g. from single-workspace days) but never installed

    report = sender_for(ladder).run(force=True)

    assert (report.sent, report.failed) == (1, 0)
    assert [(c.team_id, c.token) for c in prompts(ladder)] == [(OTHER, other_token)]
    assert app_calls(ladder, ACME) == []  # not even an attempt without a token
    stopped = workspace(ladder, ACME)
    assert stopped is not None and stopped.active is False
    assert stopped.deactivated_at is not None  # its retention period has started
    caplog.clear()
    assert sender_for(ladder).run(force=True).failed == 0
    assert "T0ACME" not in caplog.text  # later runs leave it alone, quietly
    install(ladder, ACME, CEO)
    assert workspace(ladder, ACME).active is True  # type: ignore[union-attr]


def test_revoked_bot_token_deactivates_and_forgets_only_that_workspace(
    ladder: Ladder, commits: Commits
) -> None:
    install(ladder, ACME, CEO)
    install(ladder, OTHER, BAKER)
    bot_user = ladder.standin.workspace(ACME).bot_user_id
    ladder.standin.uninstall(ACME)
    answer = ladder.acme.event({"type": "tokens_revoked", "tokens": {"bot": [bot_user]}})
    assert answer.status_code == 200
    commits.wait_until(
        lambda: workspace(ladder, ACME).active is False,  # type: ignore[union-attr]
        "Acme to be deactivated",
    )
    assert slack_rows(ladder, ACME) == {"slack_installations": 0, "slack_bots": 0}
    assert slack_rows(ladder, OTHER) == {"slack_installations": 1, "slack_bots": 1}
    assert workspace(ladder, OTHER).active is True  # type: ignore[union-attr]


def test_revoked_user_tokens_keep_the_bot(ladder: Ladder) -> None:
    from bot.services.installs import InstallService

    install(ladder, ACME, CEO)
    store = installation_store(ladder.engine, client_id=CLIENT_ID)
    service = InstallService(ladder.engine, clock=ladder.clock, store=store)
    service.tokens_revoked(workspace_id=ACME, user_ids=[DEV])  # someone else's: nothing
    assert slack_rows(ladder, ACME) == {"slack_installations": 1, "slack_bots": 1}
    service.tokens_revoked(workspace_id=ACME, user_ids=[CEO])  # the installer's user token
    assert slack_rows(ladder, ACME) == {"slack_installations": 0, "slack_bots": 1}
    assert workspace(ladder, ACME).active is True  # type: ignore[union-attr]
    assert store.find_bot(enterprise_id=None, team_id=ACME) is not None


# ----------------------------------------------------------------------------- rotation


def test_rotating_tokens_are_refreshed_before_they_expire(ladder: Ladder) -> None:
    # Tokens issued at install expire in an hour: inside Bolt's two-hour window, so the
    # first use refreshes them; refreshed ones last twelve hours.
    ladder.standin.set_oauth_app(CLIENT_ID, CLIENT_SECRET, token_rotation=True, token_lifetime=3600)
    acme = install(ladder, ACME, CEO)
    other = install(ladder, OTHER, BAKER)
    assert acme["access_token"].startswith("xoxe.xoxb-") and acme["expires_in"] == 3600
    ladder.standin.set_oauth_app(
        CLIENT_ID, CLIENT_SECRET, token_rotation=True, token_lifetime=12 * 3600
    )
    store = installation_store(ladder.engine, client_id=CLIENT_ID)

    # A request from Acme: Bolt refreshes first, then uses the new token.
    open_home(ladder, ladder.acme, user=CEO)
    [refresh] = [c for c in ladder.standin.calls("oauth.v2.access") if c.args.get("grant_type")]
    assert refresh.args["grant_type"] == "refresh_token"
    assert refresh.args["refresh_token"] == acme["refresh_token"]
    assert refresh.team_id == ACME and refresh.ok
    rotated = refresh.response["access_token"]
    [publish] = ladder.standin.calls("views.publish")
    assert publish.token == rotated
    ladder.standin.expire_token(acme["access_token"])  # the old one's hour is over
    installation = store.find_installation(enterprise_id=None, team_id=ACME)
    assert installation is not None and installation.bot_token == rotated
    assert installation.bot_refresh_token == refresh.response["refresh_token"]
    open_home(ladder, ladder.acme, user=CEO)  # twelve hours left: no second refresh
    assert len(ladder.standin.calls("oauth.v2.access")) == 3
    assert ladder.standin.calls("views.publish")[-1].token == rotated

    # The background sender refreshes Other Co's token the same way, and saves it so that
    # the next request finds the new pair (the old refresh token works only once).
    seed_krs(ladder)
    ladder.clock.now = MONDAY_3PM
    report = sender_for(ladder).run(force=True)
    assert report.sent == 2 and report.failed == 0
    refreshes = [c for c in ladder.standin.calls("oauth.v2.access") if c.args.get("grant_type")]
    assert [(c.team_id, c.args["refresh_token"]) for c in refreshes] == [
        (ACME, acme["refresh_token"]),
        (OTHER, other["refresh_token"]),
    ]
    other_rotated = refreshes[-1].response["access_token"]
    by_team = {c.team_id: c.token for c in prompts(ladder)}
    assert by_team == {ACME: rotated, OTHER: other_rotated}
    ladder.standin.expire_token(other["access_token"])
    open_home(ladder, ladder.other, user=STRANGER)
    assert ladder.standin.calls("views.publish")[-1].token == other_rotated
    assert len(ladder.standin.calls("oauth.v2.access")) == 4  # nothing refreshed twice
    expired = [c for c in ladder.standin.calls() if c.error == "token_expired"]
    assert expired == []


# ----------------------------------------------------------------------------- settings


def test_bot_scopes_and_events_match_the_manifest() -> None:
    manifest = yaml.safe_load((REPO / "slack-manifest.yml").read_text())
    assert tuple(manifest["oauth_config"]["scopes"]["bot"]) == BOT_SCOPES
    assert (
        f"{'https://ladder.example.com'}/slack/oauth_redirect"
        in (manifest["oauth_config"]["redirect_urls"])
    )
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    assert {"app_uninstalled", "tokens_revoked"} <= set(events)


def test_oauth_settings_are_checked_with_one_clear_line(standin: SlackStandIn) -> None:
    settings = load_settings(oauth_env(standin))
    assert settings.oauth_mode and settings.slack_redirect_uri == REDIRECT_URI
    assert settings.retention_days == 30
    assert CLIENT_SECRET not in repr(settings) and SECRET not in str(settings)
    assert "oauth_mode=True" in repr(settings)
    explicit = load_settings(
        oauth_env(standin, SLACK_REDIRECT_URI="https://other.example/slack/oauth_redirect")
    )
    assert explicit.slack_redirect_uri == "https://other.example/slack/oauth_redirect"
    assert load_settings(oauth_env(standin, LADDER_RETENTION_DAYS="7")).retention_days == 7

    def refused(**env: str) -> str:
        with pytest.raises(ConfigError) as info:
            load_settings({k: v for k, v in oauth_env(standin, **env).items() if v})
        message = str(info.value)
        assert "\n" not in message
        return message

    assert refused(SLACK_CLIENT_SECRET="").startswith("SLACK_CLIENT_SECRET is not set")
    assert refused(SLACK_CLIENT_ID="").startswith("SLACK_CLIENT_ID is not set")
    assert refused(SLACK_CLIENT_ID="abc").startswith("SLACK_CLIENT_ID is malformed")
    assert refused(SLACK_SIGNING_SECRET="").startswith("SLACK_SIGNING_SECRET is not set")
    assert refused(SLACK_BOT_TOKEN="xoxb-1").startswith("SLACK_BOT_TOKEN cannot be combined")
    assert refused(SLACK_APP_TOKEN="xapp-1").startswith("SLACK_APP_TOKEN cannot be combined")
    assert refused(SLACK_REDIRECT_URI="https://x.example/cb").startswith(
        "SLACK_REDIRECT_URI must end with /slack/oauth_redirect"
    )
    assert refused(LADDER_PUBLIC_URL="ladder.example.com").startswith("LADDER_PUBLIC_URL is not")
    assert refused(LADDER_RETENTION_DAYS="0").startswith("LADDER_RETENTION_DAYS is not")
    assert refused(LADDER_RETENTION_DAYS="soon").startswith("LADDER_RETENTION_DAYS is not")
    # Single-workspace mode is unchanged: the token alone.
    single = load_settings(
        {"SLACK_BOT_TOKEN": ACME_TOKEN, "SLACK_SIGNING_SECRET": SECRET, "LADDER_SCHEDULER": "off"}
    )
    assert not single.oauth_mode and single.slack_client_secret is None


def test_without_a_public_url_slack_uses_the_apps_only_redirect_url(
    standin: SlackStandIn, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_REDIRECT_URI", "")  # as a .env copied from .env.example has it
    env = {k: v for k, v in oauth_env(standin).items() if k != "LADDER_PUBLIC_URL"}
    app = build_app(load_settings(env), engine)
    assert app.oauth_flow is not None and app.oauth_flow.settings.redirect_uri is None
    url = app.oauth_flow.settings.authorize_url_generator.generate(state="s")
    assert "redirect_uri" not in url and url.startswith(f"{standin.base_url}/oauth/v2/authorize?")


def test_production_server_serves_installs_in_oauth_mode(
    standin: SlackStandIn, tmp_path: Path
) -> None:
    from tests.support.production_server import production_server

    env = {k: v for k, v in oauth_env(standin).items() if k not in ("SLACK_API_URL",)}
    secret = env.pop("SLACK_SIGNING_SECRET")
    with production_server(
        standin.api_url, tmp_path, signing_secret=secret, bot_token="", **env
    ) as server:
        server.wait_serving()
        answer = httpx.get(f"{server.base}/slack/install", timeout=5)
        assert answer.status_code == 302, answer.text
        assert answer.headers["location"].startswith(f"{standin.base_url}/oauth/v2/authorize")
        refused = httpx.get(f"{server.base}/slack/oauth_redirect?state=x&code=y", timeout=5)
        assert refused.status_code == 400 and "Ladder was not installed" in refused.text
        assert server.stop() == 0
    assert "Traceback" not in server.log_text()


def test_single_workspace_start_up_reactivates_the_tokens_workspace(
    standin: SlackStandIn, engine: Engine
) -> None:
    from bot.config import ConfigError
    from bot.server import check_bot_token, reactivate_token_workspace
    from storage.db import session_scope
    from storage.workspaces import ensure_workspace, set_workspace_active

    settings = load_settings(
        {
            "SLACK_BOT_TOKEN": ACME_TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": standin.api_url,
        }
    )
    with session_scope(engine) as session:  # its old token was revoked a week ago
        ensure_workspace(session=session, workspace_id=ACME)
        set_workspace_active(
            session=session, workspace_id=ACME, active=False, now=MONDAY_3PM - timedelta(days=7)
        )
    # `serve` with the admin's new, working token
    reactivate_token_workspace(settings, engine, identity=check_bot_token(settings))
    with Session(engine) as session:
        back = session.get_one(Workspace, ACME)
        assert (back.active, back.deactivated_at, back.name) == (True, None, "Acme Tech")

    standin.revoke(ACME_TOKEN)
    with session_scope(engine) as session:
        set_workspace_active(session=session, workspace_id=ACME, active=False, now=MONDAY_3PM)
    with pytest.raises(ConfigError):  # a dead token stops `serve`, and changes nothing
        check_bot_token(settings)
    with Session(engine) as session:
        assert session.get_one(Workspace, ACME).active is False


def test_single_workspace_mode_stops_on_app_uninstalled_too(
    standin: SlackStandIn, engine: Engine, commits: Commits
) -> None:
    settings = load_settings(
        {
            "SLACK_BOT_TOKEN": ACME_TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": standin.api_url,
        }
    )
    with running(settings, standin, engine) as single:
        seed_krs(single)
        standin.uninstall(ACME)
        assert single.acme.event({"type": "app_uninstalled"}).status_code == 200
        commits.wait_until(
            lambda: workspace(single, ACME).active is False,  # type: ignore[union-attr]
            "Acme to be deactivated",
        )
    assert workspace(single, ACME).deactivated_at == MONDAY_3PM  # type: ignore[union-attr]
    assert workspace(single, OTHER).active is True  # type: ignore[union-attr]
