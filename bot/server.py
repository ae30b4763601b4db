"""Serving: Socket Mode with an app token, else HTTP through gunicorn (not Bolt's dev server)."""

from __future__ import annotations

import gc
import json
import logging
import sys
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from sqlalchemy import Engine, text

from bot.app import LISTENER_THREADS, build_app
from bot.config import Settings
from bot.listeners.prompt_ack import send_acks_first

log = logging.getLogger("ladder.server")

EVENTS_PATH = "/slack/events"


def make_wsgi_app(app: App, engine: Engine) -> Callable[..., Iterable[bytes]]:
    """/slack/events for Slack, /healthz for the platform, and in OAuth mode /slack/install
    and /slack/oauth_redirect for installs; nothing else."""
    slack = send_acks_first(SlackRequestHandler(app, path=EVENTS_PATH))
    flow = app.oauth_flow
    slack_paths = {EVENTS_PATH} | (
        {flow.install_path, flow.redirect_uri_path} if flow is not None else set()
    )

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path in slack_paths:
            return slack(environ, start_response)
        if path == "/healthz":
            try:
                with engine.connect() as connection:
                    connection.execute(text("SELECT 1"))
                status, body = "200 OK", {"ok": True}
            except Exception as error:  # a health check reports, it does not crash
                status, body = (
                    "503 Service Unavailable",
                    {"ok": False, "error": type(error).__name__},
                )
            payload = json.dumps(body).encode()
            start_response(
                status,
                [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))],
            )
            return [payload]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]

    return wsgi


def serve(settings: Settings, engine: Engine) -> None:
    app = build_app(settings, engine)
    if not settings.oauth_mode:
        reactivate_token_workspace(settings, engine)
    if settings.run_scheduler:
        # In this (master) process, once: the web worker is not where jobs run.
        from bot.jobs.runtime import start_background_scheduler

        start_background_scheduler(settings, engine)
    else:
        log.info("scheduler off here (LADDER_SCHEDULER=off): run `python -m bot clock` once")
    if settings.socket_mode:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        log.info("serving over Socket Mode")
        SocketModeHandler(app, settings.slack_app_token).start()
        return
    serve_http(make_wsgi_app(app, engine), port=settings.port)


def reactivate_token_workspace(settings: Settings, engine: Engine) -> None:
    """Single-workspace mode: a working SLACK_BOT_TOKEN means the app is installed there, so a
    workspace deactivated by a revoked token comes back (and is not purged) after the admin
    puts a new token in place."""
    from slack_sdk.errors import SlackApiError

    from bot.app import make_client, utc_now
    from bot.services.installs import InstallService

    try:
        identity = make_client(settings).auth_test()
    except SlackApiError as error:
        log.error("SLACK_BOT_TOKEN does not work: %s", error.response.get("error"))
        return
    if identity.get("team_id"):
        InstallService(engine, clock=utc_now, store=None).installed(
            workspace_id=str(identity["team_id"]), name=str(identity.get("team") or "")
        )


def serve_http(wsgi: Callable[..., Iterable[bytes]], *, port: int, host: str = "0.0.0.0") -> None:
    from gunicorn.app.base import BaseApplication

    class Gunicorn(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            # One process (the scheduler, when on, must run exactly once), many threads.
            for key, value in {
                "bind": f"{host}:{port}",
                "workers": 1,
                "threads": LISTENER_THREADS,
                "worker_class": "gthread",
                "timeout": 30,
                "accesslog": None,
            }.items():
                self.cfg.set(key, value)

        def load(self) -> Callable[..., Iterable[bytes]]:
            return wsgi

    tune_interpreter_for_serving()
    log.info("serving HTTP on port %s at %s", port, EVENTS_PATH)
    Gunicorn().run()


# How long a thread may hold the interpreter lock while another waits for it (Python's
# default: 5 ms). A tree render holds it for hundreds of ms in total; the thread answering
# Slack needs it a few dozen times per request, and would wait up to this long each time.
SWITCH_INTERVAL_S = 0.001
# Container objects allocated (net) before the youngest generation is collected (Python's
# default: 700). A render keeps tens of thousands of rows and dicts alive while it builds;
# at 700 they were scanned, promoted and scanned again about 2,400 times per minute of
# renders, ~1.2 s of pauses that hold the interpreter lock (up to 75 ms each), acks waiting.
# At 50,000 a collection comes rarely, and most of those objects are freed by reference
# counting before one does. Cyclic garbage, which only a collection frees, counts towards
# the 50,000 like anything else, so it waits for at most that many new objects.
GC_YOUNG_THRESHOLD = 50_000


def tune_interpreter_for_serving() -> None:
    """Before the server starts, with the app built: threads hand the interpreter lock over
    sooner (acks wait less behind renders), the garbage collector runs less often, and
    everything loaded so far (modules, the app) is moved out of its sight, so a full
    collection scans what requests allocated, not the ~500k objects of imported code."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)
