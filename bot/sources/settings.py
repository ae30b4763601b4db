"""Data source settings from the environment, checked once at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from bot.config import ConfigError
from bot.sources.fetch import FetchPolicy


@dataclass(frozen=True)
class SourceSettings:
    concurrency: int = 16  # LADDER_SOURCES_CONCURRENCY: pulls at once
    per_host: int = 4  # LADDER_SOURCES_PER_HOST: pulls at once against one host
    timeout: float = 20.0  # LADDER_SOURCES_TIMEOUT: seconds one pull may take in all
    max_bytes: int = 2_000_000  # LADDER_SOURCES_MAX_BYTES: larger answers are refused
    push_per_minute: int = 60  # LADDER_PUSH_RATE: pushes per KR per minute (per process)

    def policy(self) -> FetchPolicy:
        return FetchPolicy(
            total_timeout=self.timeout,
            read_timeout=min(10.0, self.timeout),
            connect_timeout=min(5.0, self.timeout),
            max_bytes=self.max_bytes,
            max_connections=max(self.concurrency, 1),
        )


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int, what: str) -> int:
    raw = env.get(name, "").strip() or str(default)
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ConfigError(
            f"{name} is not {what} between {low} and {high} ({raw!r}); default {default}"
        )
    return int(raw)


# Each setting's variable, its range and what it counts, checked in this order.
_VARIABLES = {
    "timeout": ("LADDER_SOURCES_TIMEOUT", 1, 300, "a number of seconds"),
    "concurrency": ("LADDER_SOURCES_CONCURRENCY", 1, 256, "a number of pulls"),
    "per_host": ("LADDER_SOURCES_PER_HOST", 1, 64, "a number of pulls"),
    "max_bytes": ("LADDER_SOURCES_MAX_BYTES", 1000, 100_000_000, "a size in bytes"),
    "push_per_minute": ("LADDER_PUSH_RATE", 1, 10_000, "a number of pushes per minute"),
}


def load_source_settings(env: Mapping[str, str]) -> SourceSettings:
    default = SourceSettings()
    values = {
        name: _int(env, variable, int(getattr(default, name)), low, high, what)
        for name, (variable, low, high, what) in _VARIABLES.items()
    }
    return replace(SourceSettings(**values), timeout=float(values["timeout"]))
