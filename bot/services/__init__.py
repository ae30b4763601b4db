"""Use-cases shared by the Slack listeners, the scheduler and the CLI.

Every service has one shape: a class built with the engine and the clock, whose methods take
plain values (keyword-only), open their own session and return plain dataclasses."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from sqlalchemy import Engine


class Service:
    def __init__(self, engine: Engine, *, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.clock = clock

    def today(self) -> date:
        return self.clock().date()
