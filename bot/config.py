"""Settings, read once from the environment (and .env), failing fast with a clear line."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlparse

from storage.db import DEFAULT_DATABASE_URL, normalize_database_url

SLACK_API_URL_DEFAULT = "https://slack.com/api/"


class ConfigError(RuntimeError):
    """A missing or malformed setting; the message says which and how to fix it."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    slack_bot_token: str | None
    slack_signing_secret: str | None
    slack_app_token: str | None
    slack_api_url: str
    port: int
    log_level: str
    run_scheduler: bool
    send_rate: float = 10.0  # check-in messages per second per workspace (LADDER_SEND_RATE)

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    def __repr__(self) -> str:  # never print secrets, even by accident
        return (
            f"Settings(database_url={_redact_url(self.database_url)!r}, "
            f"slack_api_url={self.slack_api_url!r}, port={self.port}, "
            f"socket_mode={self.socket_mode}, run_scheduler={self.run_scheduler})"
        )

    __str__ = __repr__


def _redact_url(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(f":{parsed.password}@", ":***@")
    return url


def _fix(name: str, problem: str, how: str) -> ConfigError:
    return ConfigError(f"{name} {problem}: {how}")


def _token(env: Mapping[str, str], name: str, prefix: str, where: str) -> str | None:
    value = env.get(name, "").strip()
    if not value:
        return None
    if not value.startswith(prefix):
        raise _fix(name, f"should start with {prefix}", f"copy it from {where}")
    return value


def load_settings(env: Mapping[str, str] | None = None, *, require_slack: bool = True) -> Settings:
    env = os.environ if env is None else env
    bot_token = _token(
        env,
        "SLACK_BOT_TOKEN",
        "xoxb-",
        "your app's OAuth & Permissions page (Bot User OAuth Token)",
    )
    app_token = _token(
        env, "SLACK_APP_TOKEN", "xapp-", "Basic Information > App-Level Tokens (connections:write)"
    )
    secret = env.get("SLACK_SIGNING_SECRET", "").strip() or None
    if secret is not None and not re.fullmatch(r"[0-9a-f]{32}", secret):
        raise _fix(
            "SLACK_SIGNING_SECRET",
            "is malformed (expected 32 hex characters)",
            "copy it from Basic Information > App Credentials",
        )
    if require_slack:
        if bot_token is None:
            raise _fix(
                "SLACK_BOT_TOKEN",
                "is not set",
                "install the app to your workspace and put its Bot User OAuth Token (xoxb-…) "
                "in .env (see README, 'Connect to Slack')",
            )
        if app_token is None and secret is None:
            raise _fix(
                "SLACK_SIGNING_SECRET",
                "is not set",
                "HTTP mode needs it to verify requests (Basic Information > App Credentials); "
                "or set SLACK_APP_TOKEN to use Socket Mode",
            )

    api_url = env.get("SLACK_API_URL", "").strip() or SLACK_API_URL_DEFAULT
    parsed = urlparse(api_url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise _fix(
            "SLACK_API_URL", f"is not an http(s) URL ({api_url!r})", "unset it to use Slack's"
        )
    if not api_url.endswith("/"):
        api_url += "/"

    raw_port = env.get("PORT", "").strip() or "3000"
    if not raw_port.isdigit() or not 0 < int(raw_port) < 65536:
        raise _fix("PORT", f"is not a port number ({raw_port!r})", "use a number like 3000")

    raw_db = env.get("DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL
    try:
        database_url = normalize_database_url(raw_db)
    except Exception as error:
        raise _fix(
            "DATABASE_URL",
            f"is malformed ({error.__class__.__name__})",
            "use e.g. sqlite:///data/ladder.db or postgresql://user:pass@host:5432/db",
        ) from None

    scheduler = env.get("LADDER_SCHEDULER", "on").strip().lower()
    if scheduler not in ("on", "off"):
        raise _fix("LADDER_SCHEDULER", f"must be on or off ({scheduler!r})", "default is on")

    return Settings(
        database_url=database_url,
        slack_bot_token=bot_token,
        slack_signing_secret=secret,
        slack_app_token=app_token,
        slack_api_url=api_url,
        port=int(raw_port),
        log_level=env.get("LOG_LEVEL", "INFO").strip().upper() or "INFO",
        run_scheduler=scheduler == "on",
        send_rate=_send_rate(env),
    )


def _send_rate(env: Mapping[str, str]) -> float:
    raw = env.get("LADDER_SEND_RATE", "").strip() or "10"
    try:
        rate = float(raw)
    except ValueError:
        rate = float("nan")
    if not 0 < rate <= 1000:  # also refuses nan
        raise _fix(
            "LADDER_SEND_RATE",
            f"is not a rate between 0 and 1000 messages per second ({raw!r})",
            "default is 10; Slack allows about 1 per second per channel",
        )
    return rate
