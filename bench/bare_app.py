"""The baseline for ack latency: a Bolt app whose `/okr` does only what Slack requires, served
exactly like Ladder: it acks, and for `/okr new` it also opens a one-field modal with the
command's trigger (a command that opens a form must call views.open within 3 s of it).

`python -m bench.bare_app` with SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_API_URL and PORT.
Same Bolt version, same WebClient start-up (auth.test), same server: the listening socket is
bound as bot/server.py binds it, and the app is served by `bot.server.run_waitress` (waitress
with Ladder's request threads, connection limit, body limit and timeouts). Whatever Ladder
adds on top (its signature front door, its listeners, its database) shows up as the
difference.

One process only: WEB_CONCURRENCY must be 1 or unset (anything else is refused), so compare
it with Ladder run with WEB_CONCURRENCY=1, where that one process serves as well.

Two variants:
- unset BARE_ANSWER ("bare"): Bolt's defaults, process_before_response=False: the listener
  runs on Bolt's listener thread pool and the request thread looks for its ack every 10 ms;
- BARE_ANSWER=at_ack ("bare_at_ack"): process_before_response=True, as Ladder runs Bolt
  (bot/app.py): Bolt answers with the ack when the ack function returns.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import Ack, App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient

from bot.server import EVENTS_PATH, run_waitress


def build_bare_app() -> App:
    app = App(
        client=WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"]),
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        logger=logging.getLogger("bare.bolt"),
        process_before_response=os.environ.get("BARE_ANSWER") == "at_ack",
    )

    @app.command("/okr")
    def okr(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        if opens_modal(body):
            client.views_open(trigger_id=body["trigger_id"], view=BARE_MODAL)

    return app


# The smallest form Slack accepts: a title, one input, a submit button.
BARE_MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "bare_new",
    "title": {"type": "plain_text", "text": "New objective"},
    "submit": {"type": "plain_text", "text": "Create"},
    "blocks": [
        {
            "type": "input",
            "block_id": "title",
            "label": {"type": "plain_text", "text": "Objective"},
            "element": {"type": "plain_text_input", "action_id": "title"},
        }
    ],
}


def opens_modal(body: dict[str, Any]) -> bool:
    """`/okr new …` opens a form, as in Ladder; every other command only acks."""
    return str(body.get("text") or "").split(maxsplit=1)[:1] == ["new"]


def make_wsgi(app: App) -> Callable[..., Iterable[bytes]]:
    slack = SlackRequestHandler(app)

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == EVENTS_PATH:
            return slack(environ, start_response)
        status = "200 OK" if path == "/healthz" else "404 Not Found"
        start_response(status, [("Content-Type", "application/json")])
        return [b'{"ok": true}' if path == "/healthz" else b"{}"]

    return wsgi


def main() -> None:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING"))
    processes = os.environ.get("WEB_CONCURRENCY", "").strip() or "1"
    if processes != "1":
        raise SystemExit(
            f"bench.bare_app serves in one process: WEB_CONCURRENCY must be 1 ({processes!r})"
        )
    # As bot/server.py does with WEB_CONCURRENCY=1: bind, build the app, serve.
    listener = socket.create_server(("0.0.0.0", int(os.environ["PORT"])), backlog=2048)
    run_waitress(make_wsgi(build_bare_app()), listener)


if __name__ == "__main__":
    main()
