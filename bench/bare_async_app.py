"""A baseline for the other way to serve Bolt: an `AsyncApp` whose `/okr` acks (and for
`/okr new` opens a one-field modal, as bench/bare_app.py does), on uvicorn.

`python -m bench.bare_async_app` with SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_API_URL and
PORT (needs the `bench` extra: uvicorn, and aiohttp for slack_sdk's AsyncWebClient).

Ladder serves a sync Bolt `App` with lazy listeners on waitress (bot/server.py). The
alternative it was chosen over is Bolt's `AsyncApp` on an ASGI server: one event loop per
process, a connection costs a protocol object rather than a thread, and lazy listeners run as
asyncio tasks. This is that alternative's floor, measured beside Ladder and the bare WSGI apps
(bench/bare_app.py) by bench/ack_latency.py:

- one process, like the bare WSGI apps (WEB_CONCURRENCY must be 1 or unset); the listening
  socket is bound as bot/server.py binds it (0.0.0.0:PORT, backlog 2048) and handed to
  uvicorn, which runs with its defaults otherwise (no access log);
- uvicorn's pure-Python stack (h11 parser, asyncio loop), pinned so a run does not depend on
  whether httptools or uvloop happen to be installed; waitress is pure Python too;
- `BARE_ANSWER=at_ack` runs Bolt with process_before_response=True, as Ladder runs it (the
  ack is the answer; work after it would be a lazy listener); unset, Bolt's defaults (the
  listener is a task and the request coroutine looks for its ack every 10 ms), as in
  bench/bare_app.py;
- `/healthz` answers 200 (the benchmarks wait for it); anything else but `/slack/events` 404.

Unlike the sync App, an AsyncApp cannot call auth.test while it is built: it does on the
first request (the benchmark's warm-up, not measured).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn
from slack_bolt.adapter.asgi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bench.bare_app import BARE_MODAL, opens_modal
from bot.server import EVENTS_PATH

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def build_bare_async_app() -> AsyncApp:
    app = AsyncApp(
        client=AsyncWebClient(
            token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"]
        ),
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        logger=logging.getLogger("bare_async.bolt"),
        process_before_response=os.environ.get("BARE_ANSWER") == "at_ack",
    )

    @app.command("/okr")
    async def okr(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        if opens_modal(body):
            await client.views_open(trigger_id=body["trigger_id"], view=BARE_MODAL)

    return app


def make_asgi(app: AsyncApp) -> ASGIApp:
    slack = AsyncSlackRequestHandler(app, path=EVENTS_PATH)

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path == EVENTS_PATH:
            await slack(scope, receive, send)  # Bolt's handler also answers lifespan
            return
        healthy = path == "/healthz"
        body = b'{"ok": true}' if healthy else b"{}"
        await send(
            {
                "type": "http.response.start",
                "status": 200 if healthy else 404,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return asgi


def main() -> None:
    level = os.environ.get("LOG_LEVEL", "WARNING")
    logging.basicConfig(level=level)
    processes = os.environ.get("WEB_CONCURRENCY", "").strip() or "1"
    if processes != "1":
        raise SystemExit(
            f"bench.bare_async_app serves in one process: WEB_CONCURRENCY must be 1 ({processes!r})"
        )
    listener = socket.create_server(("0.0.0.0", int(os.environ["PORT"])), backlog=2048)
    config = uvicorn.Config(
        make_asgi(build_bare_async_app()),
        http="h11",
        loop="asyncio",
        log_level=level.lower(),
        access_log=False,
    )
    uvicorn.Server(config).run(sockets=[listener])


if __name__ == "__main__":
    main()
