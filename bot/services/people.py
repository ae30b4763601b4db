"""Who someone is in Slack (admin? timezone? active?), from users.info, cached briefly."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk import WebClient

CACHE_SECONDS = 600.0


@dataclass(frozen=True)
class Person:
    user_id: str
    is_admin: bool  # workspace admin or owner
    tz: str | None
    deleted: bool
    is_bot: bool


class PeopleDirectory:
    """users.info behind a small TTL cache, keyed by (workspace, user)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, Person]] = {}
        self._lock = threading.Lock()

    def get(self, client: WebClient, *, workspace_id: str, user_id: str) -> Person:
        key = (workspace_id, user_id)
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and self._clock() - hit[0] < CACHE_SECONDS:
            return hit[1]
        info = client.users_info(user=user_id)["user"]
        person = Person(
            user_id=user_id,
            is_admin=bool(info.get("is_admin") or info.get("is_owner")),
            tz=info.get("tz"),
            deleted=bool(info.get("deleted")),
            is_bot=bool(info.get("is_bot")),
        )
        with self._lock:
            self._cache[key] = (self._clock(), person)
        return person
