"""One log line per Slack request: workspace, user, what was asked, how long, how it ended.

What is timed: Bolt's global middleware does not wrap the listener (its `next()` only lets
dispatch go on). So the clock starts in this middleware (after Bolt's signature check and
authorization) and stops when Bolt's listener completion handler has run: `duration_ms` is
the time to the answer Slack gets (for a form, its save included). Work after the ack (a
lazy listener) writes a line of its own, `event=work` (bot/listeners/__init__.py `heard`).

Requests that no listener handles get Bolt's own "Unhandled request" warning instead, and
requests refused before any middleware (a bad signature) Bolt's signature warning.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.listener.listener_completion_handler import ListenerCompletionHandler
from slack_bolt.listener.listener_error_handler import ListenerErrorHandler
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.logs import log_event

log = logging.getLogger("ladder.requests")

SLACK_FAILURES = (SlackClientError, OSError)  # Slack refused, or the network gave out
_KEY = "ladder_request_log"  # the request's _RequestLog in Bolt's context
SUB_MAX = 32  # the first word of a command is user text: bounded


def request_fields(body: dict) -> dict[str, Any]:
    """What the request asks for, by kind; never the user's free text beyond the subcommand."""
    if "command" in body:
        sub = (body.get("text") or "").split(maxsplit=1)
        return {
            "kind": "command",
            "command": body["command"],
            "sub": sub[0].casefold()[:SUB_MAX] if sub else "",
        }
    kind = body.get("type") or "?"
    if kind == "block_actions":
        actions = ",".join(a.get("action_id", "?") for a in body.get("actions") or [])
        return {"kind": "action", "action": actions}
    if kind in ("view_submission", "view_closed"):
        return {"kind": kind, "callback_id": (body.get("view") or {}).get("callback_id")}
    if kind == "block_suggestion":
        return {"kind": "options", "action": body.get("action_id")}
    if kind == "event_callback":
        return {"kind": "event", "event_type": (body.get("event") or {}).get("type", "?")}
    if kind in ("shortcut", "message_action"):
        return {"kind": kind, "callback_id": body.get("callback_id")}
    return {"kind": kind}


def slack_failure(error: BaseException) -> str:
    if isinstance(error, SlackApiError):
        return str(error.response.get("error"))
    return type(error).__name__


class _RequestLog:
    """One request's line, written when its listener has answered."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self.fields = fields
        self.started = time.perf_counter()
        self.error: str | None = None

    def finish(self, response: BoltResponse | None) -> None:
        duration_ms = (time.perf_counter() - self.started) * 1000
        status = "error" if self.error or (response and response.status >= 500) else "ok"
        extra = {"error": self.error} if self.error else {}
        level = logging.WARNING if status == "error" else logging.INFO
        log_event(
            log,
            "request",
            level=level,
            **self.fields,
            duration_ms=duration_ms,
            status=status,
            **extra,
        )

    def __deepcopy__(self, memo: dict) -> None:
        # Bolt deep-copies the context for lazy listeners; they write lines of their own.
        return None


class _LogOnCompletion(ListenerCompletionHandler):
    def __init__(self, inner: ListenerCompletionHandler) -> None:
        self.inner = inner

    def handle(self, request: BoltRequest, response: BoltResponse | None) -> None:
        try:
            self.inner.handle(request=request, response=response)
        finally:
            entry = request.context.get(_KEY)
            if isinstance(entry, _RequestLog):
                entry.finish(response)


class _NoteErrors(ListenerErrorHandler):
    def __init__(self, inner: ListenerErrorHandler) -> None:
        self.inner = inner

    def handle(self, error: Exception, request: BoltRequest, response: BoltResponse | None) -> None:
        entry = request.context.get(_KEY)
        if isinstance(entry, _RequestLog):
            entry.error = type(error).__name__
        self.inner.handle(error=error, request=request, response=response)


def install_request_logging(app: App) -> None:
    """One line per request: the middleware starts it, the listener runner's completion and
    error handlers (wrapped here, once) finish it when the listener returns."""
    runner = app.listener_runner
    runner.listener_completion_handler = _LogOnCompletion(runner.listener_completion_handler)
    runner.listener_error_handler = _NoteErrors(runner.listener_error_handler)
    app.use(log_requests)


def log_requests(
    req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
) -> BoltResponse:
    context = req.context
    fields = {
        "workspace": context.team_id or context.enterprise_id,
        "user": context.user_id,
        **request_fields(req.body or {}),
    }
    context[_KEY] = _RequestLog(fields)
    return next()
