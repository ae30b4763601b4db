"""Who may change what: every permission rule of the services, in one place.

Services take `is_admin`, a callable that asks Slack, and call it only when ownership does
not settle the question; a refusal is PermissionDenied, whose message says who can.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

CHECKIN_REFUSAL = (
    "Only the key result's owner, the objective's owner or a workspace admin can check in on it."
)


class PermissionDenied(Exception):
    """The caller may not change this; the message says who can."""


class CheckInDenied(PermissionDenied):
    """Someone tried to check in on key results they may not; nothing was recorded."""

    def __init__(self, key_result_ids: Sequence[int]) -> None:
        super().__init__(CHECKIN_REFUSAL)
        self.key_result_ids = list(key_result_ids)


def not_admin() -> bool:
    return False


def may_check_in(
    *, user_id: str, kr_owner_id: str, objective_owner_id: str, is_admin: Callable[[], bool]
) -> bool:
    """Who may check in on a key result: its owner, its objective's owner, or a workspace
    admin. The one rule every way of checking in goes through; `is_admin` is called only when
    ownership does not settle it."""
    return user_id in (kr_owner_id, objective_owner_id) or is_admin()


def ensure_admin(is_admin: Callable[[], bool], what: str) -> None:
    """PermissionDenied unless the caller is a workspace admin; `what` they tried, e.g.
    "create cycles"."""
    if not is_admin():
        raise PermissionDenied(f"Only workspace admins can {what}.")


def ensure_may_change(*, owner_id: str, user_id: str, is_admin: Callable[[], bool]) -> None:
    """An objective is changed by its owner or a workspace admin."""
    if owner_id == user_id or is_admin():
        return
    raise PermissionDenied(
        f"Only <@{owner_id}> (the owner) or a workspace admin can change this objective."
    )
