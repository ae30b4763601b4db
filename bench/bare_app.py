"""The baseline for ack latency: a Bolt app whose `/okr` only acks, served like Ladder.

`python -m bench.bare_app` with SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_API_URL and PORT.
Same Bolt version, same WebClient start-up (auth.test), same gunicorn settings
(`bot.server.serve_http`): whatever Ladder adds on top shows up as the difference.

BARE_ANSWER=at_ack runs it with process_before_response=True, as Ladder runs Bolt: the ack
is answered when the listener returns, without Bolt's 10 ms polling for it (Ladder's
listeners return at their ack, bot/listeners/prompt_ack.py). Unset: Bolt's defaults.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import Ack, App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient

from bot.server import EVENTS_PATH, serve_http


def build_bare_app() -> App:
    app = App(
        client=WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"]),
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        logger=logging.getLogger("bare.bolt"),
        process_before_response=os.environ.get("BARE_ANSWER") == "at_ack",
    )

    @app.command("/okr")
    def okr(ack: Ack) -> None:
        ack()

    return app


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
    serve_http(make_wsgi(build_bare_app()), port=int(os.environ["PORT"]))


if __name__ == "__main__":
    main()
