"""Use-cases shared by the Slack listeners, the scheduler and the CLI.

Every service has one shape: a class built with the engine and the clock, whose methods take
plain values (keyword-only), open their own session and return plain dataclasses."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import Engine

from storage.db import session_scope

T = TypeVar("T")


class Service:
    def __init__(self, engine: Engine, *, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.clock = clock

    def today(self) -> date:
        return self.clock().date()

    def run(self, store: Callable[..., T], /, *, read_only: bool = False, **query: Any) -> T:
        """One storage call, `store(session=…, **query)`, in a transaction of its own."""
        with session_scope(self.engine, read_only=read_only) as session:
            return store(session=session, **query)

    def read(self, store: Callable[..., T], /, **query: Any) -> T:
        """`run` in a read-only session (no write lock to read)."""
        return self.run(store, read_only=True, **query)
