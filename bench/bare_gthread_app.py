"""A baseline for the server Ladder left: the bare Bolt app (bench/bare_app.py) on gunicorn gthread.

`python -m bench.bare_gthread_app` with SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_API_URL
and PORT (needs gunicorn, from the `bench` extra; Ladder itself no longer depends on it).

Served as Ladder was before waitress: gunicorn, one worker of the gthread class with 16
threads (Ladder's LISTENER_THREADS then), worker timeout 30 s, no access log; the bare app and
its `/healthz` are bench/bare_app.py's (BARE_ANSWER works the same). A gthread worker hands
each connection to one of its threads, which reads the request from the socket itself: a client
that sends its headers slowly holds that thread while it does. bench/ack_latency.py measures it
in the slow-client scenario only, with acks bounded at Slack's 3 s, to show what that costs.

One process serves (the gunicorn master only supervises it): WEB_CONCURRENCY must be 1 or
unset. The graceful stop is shortened to 5 s so a benchmark never waits long for it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from typing import Any

from gunicorn.app.base import BaseApplication

from bench.bare_app import build_bare_app, make_wsgi

THREADS = 16


class BareGthread(BaseApplication):  # type: ignore[misc]
    def __init__(self, wsgi: Callable[..., Iterable[bytes]], port: int) -> None:
        self.application, self.port = wsgi, port
        super().__init__()

    def load_config(self) -> None:
        for key, value in {
            "bind": f"0.0.0.0:{self.port}",
            "workers": 1,
            "threads": THREADS,
            "worker_class": "gthread",
            "timeout": 30,
            "graceful_timeout": 5,
            "accesslog": None,
            "loglevel": os.environ.get("LOG_LEVEL", "WARNING").lower(),
        }.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.application


def main() -> None:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING"))
    processes = os.environ.get("WEB_CONCURRENCY", "").strip() or "1"
    if processes != "1":
        raise SystemExit(
            "bench.bare_gthread_app serves in one gthread worker: WEB_CONCURRENCY must be 1 "
            f"({processes!r})"
        )
    BareGthread(make_wsgi(build_bare_app()), int(os.environ["PORT"])).run()


if __name__ == "__main__":
    main()
