"""Who someone is in Slack (admin? timezone? active? called what?), from users.info, cached.

Display names let status, Home and `/okr mine` name owners without mentioning them: Slack
notifies everyone a message mentions (`<@U…>`), so one `/okr status` in #general pinged every
owner. Mentions stay only where they are meant to nudge (digests, reminders).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

log = logging.getLogger(__name__)

CACHE_SECONDS = 600.0  # admin rights: short, they gate actions
NAME_SECONDS = 6 * 3600.0  # names rarely change; a stale one is still shown if Slack fails
NAME_RETRY_SECONDS = 120.0  # after a failed lookup, do not ask Slack again for a while
LIST_ABOVE = 40  # more unknown names than this: users.list pages (Tier 2) over users.info
LIST_PAGES_MAX = 10  # 2,000 members: beyond, the rest wait for the next render
INFO_WORKERS = 4  # users.info is Tier 4 (100+/min): a few at a time stays well inside it
UNKNOWN_NAME = "someone"  # what a screen shows for an owner Slack would not name


def display_name(user: dict) -> str | None:
    """What Slack shows for a person: display name, else real name, else handle."""
    profile = user.get("profile") or {}
    for name in (
        profile.get("display_name"),
        profile.get("real_name"),
        user.get("real_name"),
        user.get("name"),
    ):
        if isinstance(name, str) and name.strip():
            return name.strip()
    return None


class PeopleDirectory:
    """users.info behind small TTL caches, keyed by (workspace, user)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._admins: dict[tuple[str, str], tuple[float, bool]] = {}  # -> (when asked, admin?)
        # (workspace, user) -> (when to ask Slack again, the name it last gave or None)
        self._names: dict[tuple[str, str], tuple[float, str | None]] = {}
        self._lock = threading.Lock()

    def is_admin(self, client: WebClient, *, workspace_id: str, user_id: str) -> bool:
        """A workspace admin or owner?"""
        key = (workspace_id, user_id)
        with self._lock:
            hit = self._admins.get(key)
        if hit is not None and self._clock() - hit[0] < CACHE_SECONDS:
            return hit[1]
        return self._remember(workspace_id, user_id, client.users_info(user=user_id)["user"])

    def _remember(self, workspace_id: str, user_id: str, info: dict) -> bool:
        """One users.info answer serves both caches: a name lookup spares the admin check."""
        admin = bool(info.get("is_admin") or info.get("is_owner"))
        now = self._clock()
        key = (workspace_id, user_id)
        with self._lock:
            self._admins[key] = (now, admin)
            if (name := display_name(info)) is not None:
                self._names[key] = (now + NAME_SECONDS, name)
        return admin

    def names(
        self, client: WebClient, *, workspace_id: str, user_ids: Iterable[str]
    ) -> dict[str, str]:
        """Display names of `user_ids` that Slack gave (now or earlier): callers show a
        placeholder for the rest. Never raises for Slack's failures: a name is decoration."""
        wanted = list(dict.fromkeys(user_ids))
        now = self._clock()
        found: dict[str, str] = {}
        ask: list[str] = []
        with self._lock:
            for user_id in wanted:
                due, name = self._names.get((workspace_id, user_id), (now, None))
                if name is not None:
                    found[user_id] = name  # stale or not: better than nothing if Slack fails
                if now >= due:
                    ask.append(user_id)
        if not ask:
            return found
        fetched = (
            self._list_names(client, workspace_id, set(ask))
            if len(ask) > LIST_ABOVE
            else self._info_names(client, workspace_id, ask)
        )
        now = self._clock()
        with self._lock:
            for user_id in ask:
                if (name := fetched.get(user_id)) is not None:
                    self._names[(workspace_id, user_id)] = (now + NAME_SECONDS, name)
                    found[user_id] = name
                else:  # keep what we had, and give Slack a rest before asking again
                    _, old = self._names.get((workspace_id, user_id), (now, None))
                    self._names[(workspace_id, user_id)] = (now + NAME_RETRY_SECONDS, old)
        return found

    def _info_names(self, client: WebClient, workspace_id: str, ask: list[str]) -> dict[str, str]:
        def one(user_id: str) -> tuple[str, str | None]:
            try:
                info = client.users_info(user=user_id)["user"]
            except (SlackApiError, SlackClientError, OSError) as error:
                _log_failure("users.info", workspace_id, user_id, error)
                return user_id, None
            self._remember(workspace_id, user_id, info)
            return user_id, display_name(info)

        if len(ask) == 1:
            pairs = [one(ask[0])]
        else:
            with ThreadPoolExecutor(max_workers=INFO_WORKERS) as pool:
                pairs = list(pool.map(one, ask))
        return {user_id: name for user_id, name in pairs if name is not None}

    def _list_names(self, client: WebClient, workspace_id: str, ask: set[str]) -> dict[str, str]:
        """Pages of users.list; every member seen is cached, so one render warms the rest."""
        names: dict[str, str] = {}
        try:
            for n, page in enumerate(client.users_list(limit=200), start=1):
                now = self._clock()
                with self._lock:
                    for user in page.get("members", []):
                        if (name := display_name(user)) is not None and user.get("id"):
                            self._names[(workspace_id, user["id"])] = (now + NAME_SECONDS, name)
                            names[user["id"]] = name
                if ask <= names.keys() or n >= LIST_PAGES_MAX:
                    break
        except (SlackApiError, SlackClientError, OSError) as error:
            _log_failure("users.list", workspace_id, None, error)
        return names


def _log_failure(method: str, workspace_id: str, user_id: str | None, error: Exception) -> None:
    reason = (
        error.response.get("error") if isinstance(error, SlackApiError) else type(error).__name__
    )
    log.warning("workspace=%s user=%s %s failed: %s", workspace_id, user_id, method, reason)
