"""Request logging with context (workspace, user, what, duration), never tokens."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from slack_bolt import BoltRequest, BoltResponse

log = logging.getLogger("ladder.requests")


def _what(body: dict) -> str:
    if "command" in body:
        sub = (body.get("text") or "").split(" ", 1)[0]
        return f"{body['command']} {sub}".strip()
    kind = body.get("type", "?")
    if kind == "block_actions":
        return "action " + ",".join(a.get("action_id", "?") for a in body.get("actions", []))
    if kind in ("view_submission", "view_closed"):
        return f"{kind} {(body.get('view') or {}).get('callback_id')}"
    if kind == "event_callback":
        return "event " + (body.get("event") or {}).get("type", "?")
    return kind


def log_requests(
    req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
) -> BoltResponse:
    started = time.perf_counter()
    try:
        return next()
    finally:
        body = req.body or {}
        log.info(
            "workspace=%s user=%s what=%r ms=%.1f",
            req.context.team_id,
            req.context.user_id,
            _what(body),
            (time.perf_counter() - started) * 1000,
        )
