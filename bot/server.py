"""Serving: Socket Mode with an app token, else HTTP through waitress (README, "How a request
is served", says why waitress). Waitress reads each request whole before a worker thread sees
it and refuses a body over `BODY_LIMIT` unread; the front door below checks Slack's signature
before Bolt parses anything.

WEB_CONCURRENCY processes (default 2) share one listening socket: the listening socket is
bound once, then each process builds its own app and engine and serves it with waitress.
The scheduler, when on, runs in the first process only.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import Engine

from bot.app import build_app, utc_now, workspace_clients
from bot.client import make_client
from bot.config import ConfigError, Settings, reveal
from bot.logs import log_event
from bot.push_api import PUSH_PREFIX, answer_with, make_push_app
from storage.db import time_limit
from storage.health import check_writable

log = logging.getLogger("ladder.server")

EVENTS_PATH = "/slack/events"
# Bodies of this many bytes or more get 413 (waitress: before reading them). Slack's largest
# payload, a view submission, stays far below (its view is <= 250 kB).
BODY_LIMIT = 1024 * 1024
# How long the database work of a request's answer may take, counted from when the request
# is read whole. Slack waits 3 s from sending it; the rest is for the way here and back.
ANSWER_BUDGET_S = 2.0
# Connections waitress keeps open at once: slow clients each hold one, so the limit is far
# above what Slack itself opens (waitress's default, 100, would let 100 idle sockets lock
# Slack out). Beyond it, new connections wait in the kernel's backlog.
CONNECTION_LIMIT = 1000
# Worker threads per process: they run Bolt's middleware and each listener's ack (forms are
# validated and saved there); the work after an ack runs on Bolt's listener_executor. A modal
# opener waits on Slack's views.open in its thread, so with few threads a burst of `/okr new`
# made plain acks queue (measured: README; a waiting thread holds no interpreter lock).
REQUEST_THREADS = 32

# The WSGI environ key with the time.monotonic() at which waitress had read the request
# whole (`_Channel`), before it waited for a request thread. Absent under other servers.
READ_AT = "ladder.read_at"

WSGIApp = Callable[..., Iterable[bytes]]


def make_wsgi_app(
    app: App, engine: Engine, *, signing_secret: str, answer_budget_s: float = ANSWER_BUDGET_S
) -> WSGIApp:
    """/slack/events for Slack, /healthz for the platform, in OAuth mode /slack/install
    and /slack/oauth_redirect for installs, and /api/key-results/<id>/value for pushed
    values (bot/push_api.py: its own per-KR tokens, not Slack's signature); nothing else.
    `answer_budget_s`: the time a request's work before its answer may take (tests that are
    not about it raise it, so a loaded machine does not turn their answers into timeouts)."""
    bolt = SlackRequestHandler(app, path=EVENTS_PATH)
    verifier = SignatureVerifier(signing_secret)
    flow = app.oauth_flow
    install_paths = {flow.install_path, flow.redirect_uri_path} if flow is not None else set()
    push = _push_app(engine)

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == EVENTS_PATH:
            refusal = _admit(environ, verifier)
            if refusal is not None:
                return _plain(start_response, *refusal)
            # What the listener stores before it answers (a form's save) must be done in
            # time for Slack to hear that it was; work after the ack has no such limit.
            # The budget counts from when the request was read whole (`READ_AT`), so the
            # time it waited in waitress's queue for a thread is spent from it too.
            with time_limit(answer_budget_s, since=environ.get(READ_AT)):
                return bolt(environ, start_response)
        if path in install_paths:
            return bolt(environ, start_response)
        if path == "/healthz":
            return _health(engine, start_response)
        if path.startswith(PUSH_PREFIX):  # data sources' pushes: bot/push_api.py
            return push(environ, start_response)
        return _plain(start_response, "404 Not Found", "not found")

    return wsgi


def _push_app(engine: Engine) -> WSGIApp:
    from bot.jobs.sources import make_source_service
    from bot.sources.settings import load_source_settings

    rate = load_source_settings(os.environ).push_per_minute
    return make_push_app(make_source_service(engine, None, clock=utc_now), per_minute=rate)


def _admit(environ: dict[str, Any], verifier: SignatureVerifier) -> tuple[str, str] | None:
    """A Slack request's body, read and checked before Bolt parses it; a refusal otherwise.

    On success the body is put back as `wsgi.input` for Bolt's adapter to read."""
    if environ.get("REQUEST_METHOD") != "POST":
        return "405 Method Not Allowed", "POST only"
    raw_length = environ.get("CONTENT_LENGTH") or "0"
    if not raw_length.isdigit():
        return _refused(environ, "400 Bad Request", "bad_content_length")
    length = int(raw_length)
    if length >= BODY_LIMIT:  # waitress refuses these itself (>=); other servers may not
        return _refused(environ, "413 Content Too Large", "body_too_large")
    timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")
    signature = environ.get("HTTP_X_SLACK_SIGNATURE", "")
    if not timestamp.isdigit() or not signature.startswith("v0="):
        return _refused(environ, "401 Unauthorized", "unsigned")
    body = environ["wsgi.input"].read(length)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return _refused(environ, "400 Bad Request", "not_utf8")
    if not verifier.is_valid(body=text, timestamp=timestamp, signature=signature):
        return _refused(environ, "401 Unauthorized", "bad_signature")
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return None


def _refused(environ: dict[str, Any], status: str, reason: str) -> tuple[str, str]:
    log_event(
        log,
        "refused",
        level=logging.WARNING,
        status=int(status.split()[0]),
        reason=reason,
        remote=environ.get("REMOTE_ADDR"),
        length=environ.get("CONTENT_LENGTH"),
    )
    return status, status.split(" ", 1)[1].lower()


def _plain(start_response: Callable[..., Any], status: str, text: str) -> list[bytes]:
    return answer_with(start_response, status, text, "text/plain; charset=utf-8")


def _health(engine: Engine, start_response: Callable[..., Any]) -> list[bytes]:
    """200 when the database takes a write (a full disk or a read-only database fails it)."""
    answer: dict[str, object]
    try:
        check_writable(engine, now=datetime.now(UTC))
        status, answer = "200 OK", {"ok": True}
    except Exception as error:  # a health check reports, it does not crash
        log_event(log, "unhealthy", level=logging.WARNING, error=type(error).__name__)
        status, answer = "503 Service Unavailable", {"ok": False, "error": type(error).__name__}
    return answer_with(start_response, status, json.dumps(answer), "application/json")


def serve(settings: Settings, engine: Engine) -> None:
    identity = None if settings.oauth_mode else check_bot_token(settings)
    if identity is not None:
        reactivate_token_workspace(settings, engine, identity=identity)
    if settings.socket_mode:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        app = build_app(settings, engine, token_verification=False)  # checked above
        _start_scheduler(settings, engine)
        log.info("serving over Socket Mode")
        SocketModeHandler(app, reveal(settings.slack_app_token)).start()
        return
    listener = socket.create_server(("0.0.0.0", settings.port), backlog=2048)
    processes = settings.web_concurrency
    log.info(
        "serving HTTP on port %s at %s with %d process(es)", settings.port, EVENTS_PATH, processes
    )
    if processes == 1:
        wsgi = _build_wsgi(settings, engine)
        _start_scheduler(settings, engine)
        run_waitress(wsgi, listener)
        return
    engine.dispose()  # each process opens its own connections
    fork = multiprocessing.get_context("fork")
    workers = [
        fork.Process(target=_serve_worker, args=(settings, engine, listener), name=f"web-{n}")
        for n in range(processes)
    ]
    for worker in workers:
        worker.start()
    _start_scheduler(settings, engine)  # after the forks: no thread is copied into a worker
    _supervise(workers)


def _serve_worker(settings: Settings, engine: Engine, listener: socket.socket) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops workers with SIGTERM
    _stop_with_parent()
    engine.dispose(close=False)  # connections inherited from the parent stay the parent's
    run_waitress(_build_wsgi(settings, engine), listener)


def _stop_with_parent() -> None:
    """A worker stops when its parent is gone, even killed with SIGKILL: nothing else would
    stop it, and it would hold the port."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="ladder-parent-watch", daemon=True).start()


def _supervise(workers: list[Any]) -> None:
    """Wait until a worker exits or the parent is told to stop; then stop them all. A worker
    that dies takes the server down, so the platform restarts it whole."""
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for worker in workers:
            if worker.is_alive():
                worker.terminate()  # SIGTERM: waitress closes its sockets and returns

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    multiprocessing.connection.wait([w.sentinel for w in workers])
    if not stopping:
        log.error("a web process exited (%s): stopping", [w.exitcode for w in workers])
        stop(signal.SIGTERM, None)
    for worker in workers:
        worker.join()
    if not stopping:
        raise SystemExit(1)


def _waitress_channel() -> type:
    """Waitress's connection class with two additions, made for each server (waitress is
    imported only when serving HTTP): each request is stamped with the time it was read whole
    (`READ_AT` in its environ), and a request waitress refuses itself (a declared body over
    BODY_LIMIT: 413; malformed HTTP: 400; headers too large: 431), which the app never sees,
    is logged as one `event=refused` line like the app's own refusals."""
    from waitress.channel import HTTPChannel
    from waitress.parser import HTTPRequestParser
    from waitress.task import ErrorTask, WSGITask

    class _Parser(HTTPRequestParser):
        read_at: float | None = None

        def received(self, data: bytes) -> int:
            consumed: int = super().received(data)
            if self.completed and self.read_at is None:
                self.read_at = time.monotonic()
            return consumed

    class _Task(WSGITask):
        def get_environment(self) -> dict[str, Any]:
            environ: dict[str, Any] = super().get_environment()
            read_at = getattr(self.request, "read_at", None)
            if read_at is not None:
                environ.setdefault(READ_AT, read_at)
            return environ

    class _Refusal(ErrorTask):
        def execute(self) -> None:
            super().execute()
            error, request = self.request.error, self.request
            if error.code < 500:  # waitress logs its own 500s (an app exception)
                log_event(
                    log,
                    "refused",
                    level=logging.WARNING,
                    status=error.code,
                    reason=WAITRESS_REFUSALS.get(error.code, "bad_http"),
                    remote=self.channel.addr[0] if self.channel.addr else None,
                    length=request.content_length or None,
                    by="waitress",
                )

    class _Channel(HTTPChannel):
        parser_class = _Parser
        task_class = _Task
        error_task_class = _Refusal

    return _Channel


# The reasons of waitress's own refusals, named as the app names its refusals (`_admit`).
WAITRESS_REFUSALS = {413: "body_too_large", 431: "headers_too_large", 400: "bad_http"}


def run_waitress(wsgi: WSGIApp, listener: socket.socket) -> None:
    """Serve `wsgi` on `listener` until SIGTERM, as every Ladder web process does (the
    benchmarks' bare app too)."""
    server = make_waitress(wsgi, listener)

    def stop(_signum: int, _frame: object) -> None:
        # Requests being served finish first (up to 5 s): closing the server under them
        # would leave their threads writing to closed sockets.
        server.task_dispatcher.shutdown(timeout=5)
        server.close()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    log.info("waitress serving in process %d", os.getpid())
    with contextlib.suppress(SystemExit):
        server.run()


def make_waitress(wsgi: WSGIApp, listener: socket.socket, *, threads: int = REQUEST_THREADS) -> Any:
    """Waitress serving `wsgi` on `listener` (not yet running: `.run()`) with Ladder's request
    threads, connection limit, body limit and timeouts, and its connections made by
    `_waitress_channel`."""
    from waitress.server import create_server

    server = create_server(
        wsgi,
        sockets=[listener],
        threads=threads,
        connection_limit=CONNECTION_LIMIT,
        max_request_body_size=BODY_LIMIT,
        asyncore_use_poll=True,  # select() stops at 1,024 descriptors
        channel_timeout=60,  # idle connections are closed after this long
        ident="ladder",
        clear_untrusted_proxy_headers=True,
    )
    # One listening socket: create_server returns that socket's server.
    server.channel_class = _waitress_channel()
    return server


def _build_wsgi(settings: Settings, engine: Engine) -> WSGIApp:
    # The token was checked once at start (check_bot_token); Bolt need not ask again.
    app = build_app(settings, engine, token_verification=False)
    return make_wsgi_app(app, engine, signing_secret=reveal(settings.slack_signing_secret) or "")


def _start_scheduler(settings: Settings, engine: Engine) -> None:
    if settings.run_scheduler:
        from bot.jobs.runtime import start_background_scheduler

        start_background_scheduler(settings, engine, workspace_clients(settings, engine))
    else:
        log.info("scheduler off here (LADDER_SCHEDULER=off): run `python -m bot clock` once")


def check_bot_token(settings: Settings) -> dict[str, Any]:
    """Single-workspace mode, at start: Slack's word on SLACK_BOT_TOKEN (auth.test), or a
    ConfigError that says which setting to fix, instead of a traceback on the first request."""
    from slack_sdk.errors import SlackApiError

    sdk_log = logging.getLogger("slack_sdk")
    level = sdk_log.level
    sdk_log.setLevel(logging.CRITICAL)  # its retries' lines would bury the one that says why
    try:
        data = make_client(settings).auth_test().data
        if not isinstance(data, dict):  # a Web API method answers a JSON object
            raise TypeError("auth.test did not answer a JSON object")
        return dict(data)
    except SlackApiError as error:
        raise ConfigError(
            f"SLACK_BOT_TOKEN was refused by Slack ({error.response.get('error')}): copy the Bot "
            "User OAuth Token (xoxb-…) from your app's OAuth & Permissions page into .env"
        ) from None
    except OSError as error:  # urllib's URLError included: no network, DNS, a proxy
        raise ConfigError(
            f"Slack's Web API at {settings.slack_api_url} could not be reached "
            f"({type(error).__name__}): check this machine's network or proxy, or SLACK_API_URL"
        ) from None
    finally:
        sdk_log.setLevel(level)


def reactivate_token_workspace(
    settings: Settings, engine: Engine, *, identity: dict[str, Any]
) -> None:
    """Single-workspace mode: a working SLACK_BOT_TOKEN (`identity`: auth.test's answer, from
    check_bot_token) means the app is installed there, so a workspace deactivated by a revoked
    token comes back (and is not purged) after the admin puts a new token in place."""
    from bot.services.installs import InstallService

    if identity.get("team_id"):
        InstallService(engine, clock=utc_now, store=None).installed(
            workspace_id=str(identity["team_id"]), name=str(identity.get("team") or "")
        )
