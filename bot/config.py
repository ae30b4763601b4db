"""Settings, read once from the environment (and .env), failing fast with a clear line."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlparse

from storage.db import DEFAULT_DATABASE_URL, normalize_database_url

SLACK_API_URL_DEFAULT = "https://slack.com/api/"
OAUTH_REDIRECT_PATH = "/slack/oauth_redirect"
RETENTION_DAYS_DEFAULT = 30
# HTTP server processes (the platform convention's WEB_CONCURRENCY): one per core of a small
# machine; each takes ~100 MB.
WEB_CONCURRENCY_DEFAULT = 2
LLM_TIMEOUT_DEFAULT = 30.0
# The bot scopes an OAuth install asks for: exactly slack-manifest.yml's oauth_config.scopes.bot
# (a test keeps the two equal; the manifest is not read at run time).
BOT_SCOPES = (
    "commands",
    "chat:write",
    "chat:write.public",
    "im:write",
    "im:history",
    "users:read",
    "users:read.email",
    "files:write",
)


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
    # OAuth mode (many workspaces): client credentials instead of one SLACK_BOT_TOKEN.
    slack_client_id: str | None = None
    slack_client_secret: str | None = None
    slack_redirect_uri: str | None = None  # SLACK_REDIRECT_URI, or LADDER_PUBLIC_URL + path
    retention_days: int = RETENTION_DAYS_DEFAULT  # LADDER_RETENTION_DAYS
    web_concurrency: int = WEB_CONCURRENCY_DEFAULT  # WEB_CONCURRENCY: HTTP server processes
    # "✨ Suggest KRs" in the objective form (bot/services/suggestions.py): off unless set.
    llm_url: str | None = None  # LADDER_LLM_URL: an OpenAI-compatible API's base URL
    llm_model: str = ""  # LADDER_LLM_MODEL: sent as "model"; empty: not sent
    llm_api_key_env: str | None = None  # LADDER_LLM_API_KEY_ENV: the NAME of the key's variable
    llm_timeout: float = LLM_TIMEOUT_DEFAULT  # LADDER_LLM_TIMEOUT: seconds for one answer

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def oauth_mode(self) -> bool:
        return self.slack_client_id is not None

    @property
    def retention(self) -> timedelta:
        return timedelta(days=self.retention_days)

    def __repr__(self) -> str:  # never print secrets, even by accident
        return (
            f"Settings(database_url={_redact_url(self.database_url)!r}, "
            f"slack_api_url={self.slack_api_url!r}, port={self.port}, "
            f"socket_mode={self.socket_mode}, oauth_mode={self.oauth_mode}, "
            f"run_scheduler={self.run_scheduler}, retention_days={self.retention_days}, "
            f"web_concurrency={self.web_concurrency}, "
            f"llm_suggestions={self.llm_url is not None})"
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
    if "your" in value.casefold():  # .env.example's placeholder, e.g. xoxb-your-bot-token
        raise _fix(name, "is still the placeholder from .env.example", f"copy it from {where}")
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
    client_id, client_secret = _client_credentials(env)
    if require_slack and client_id is not None:
        _check_oauth_mode(bot_token=bot_token, app_token=app_token, secret=secret)
    elif require_slack:
        if bot_token is None:
            raise _fix(
                "SLACK_BOT_TOKEN",
                "is not set",
                "install the app to your workspace and put its Bot User OAuth Token (xoxb-…) "
                "in .env (see README, 'Connect to Slack'); or set SLACK_CLIENT_ID and "
                "SLACK_CLIENT_SECRET to install to many workspaces (OAuth)",
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
        slack_client_id=client_id,
        slack_client_secret=client_secret,
        slack_redirect_uri=_redirect_uri(env),
        retention_days=_retention_days(env),
        web_concurrency=_web_concurrency(env),
        **_llm(env),
    )


def _client_credentials(env: Mapping[str, str]) -> tuple[str | None, str | None]:
    where = "copy it from Basic Information > App Credentials"
    client_id = env.get("SLACK_CLIENT_ID", "").strip() or None
    client_secret = env.get("SLACK_CLIENT_SECRET", "").strip() or None
    if client_id is not None and not re.fullmatch(r"\d+\.\d+", client_id):
        raise _fix("SLACK_CLIENT_ID", "is malformed (expected digits.digits)", where)
    if client_secret is not None and not re.fullmatch(r"[0-9A-Za-z]{16,64}", client_secret):
        raise _fix("SLACK_CLIENT_SECRET", "is malformed (expected 16-64 letters/digits)", where)
    if client_id is None and client_secret is not None:
        raise _fix("SLACK_CLIENT_ID", "is not set", f"OAuth mode needs it with the secret; {where}")
    if client_id is not None and client_secret is None:
        raise _fix("SLACK_CLIENT_SECRET", "is not set", f"OAuth mode needs it with the id; {where}")
    return client_id, client_secret


def _check_oauth_mode(*, bot_token: str | None, app_token: str | None, secret: str | None) -> None:
    if bot_token is not None:
        raise _fix(
            "SLACK_BOT_TOKEN",
            "cannot be combined with SLACK_CLIENT_ID/SLACK_CLIENT_SECRET",
            "unset SLACK_BOT_TOKEN to install to many workspaces (OAuth), or unset the client "
            "credentials to run in one workspace with that token",
        )
    if app_token is not None:
        raise _fix(
            "SLACK_APP_TOKEN",
            "cannot be combined with OAuth mode",
            "installs need the HTTP endpoints /slack/install and /slack/oauth_redirect; "
            "unset SLACK_APP_TOKEN and serve HTTP",
        )
    if secret is None:
        raise _fix(
            "SLACK_SIGNING_SECRET",
            "is not set",
            "OAuth mode serves HTTP and needs it to verify requests "
            "(Basic Information > App Credentials)",
        )


def _redirect_uri(env: Mapping[str, str]) -> str | None:
    """SLACK_REDIRECT_URI as given, else LADDER_PUBLIC_URL + /slack/oauth_redirect, else None
    (Slack then uses the app's only Redirect URL)."""
    explicit = env.get("SLACK_REDIRECT_URI", "").strip()
    public = env.get("LADDER_PUBLIC_URL", "").strip().rstrip("/")
    for name, url in (("SLACK_REDIRECT_URI", explicit), ("LADDER_PUBLIC_URL", public)):
        parsed = urlparse(url)
        if url and (parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.query):
            raise _fix(name, f"is not an http(s) URL ({url!r})", "e.g. https://ladder.example.com")
    if explicit:
        if not urlparse(explicit).path.endswith(OAUTH_REDIRECT_PATH):
            raise _fix(
                "SLACK_REDIRECT_URI",
                f"must end with {OAUTH_REDIRECT_PATH} ({explicit!r})",
                "that is where Ladder serves the OAuth redirect",
            )
        return explicit
    return public + OAUTH_REDIRECT_PATH if public else None


def _retention_days(env: Mapping[str, str]) -> int:
    raw = env.get("LADDER_RETENTION_DAYS", "").strip() or str(RETENTION_DAYS_DEFAULT)
    if not raw.isdigit() or not 1 <= int(raw) <= 3650:
        raise _fix(
            "LADDER_RETENTION_DAYS",
            f"is not a number of days between 1 and 3650 ({raw!r})",
            f"default is {RETENTION_DAYS_DEFAULT}: an uninstalled workspace's data is deleted "
            "that many days later",
        )
    return int(raw)


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


def _web_concurrency(env: Mapping[str, str]) -> int:
    raw = env.get("WEB_CONCURRENCY", "").strip() or str(WEB_CONCURRENCY_DEFAULT)
    if not raw.isdigit() or not 1 <= int(raw) <= 64:
        raise _fix(
            "WEB_CONCURRENCY",
            f"is not a number of processes between 1 and 64 ({raw!r})",
            f"default is {WEB_CONCURRENCY_DEFAULT}; about one per CPU core",
        )
    return int(raw)


def _llm(env: Mapping[str, str]) -> dict[str, Any]:
    """LADDER_LLM_*: where "Suggest KRs" asks; nothing unless LADDER_LLM_URL is set. The API
    key is named, not given: LADDER_LLM_API_KEY_ENV names the variable that holds it (its value
    a bearer token or a whole `Header-Name: value`), read when a suggestion is asked for."""
    url = env.get("LADDER_LLM_URL", "").strip().rstrip("/")
    if not url:
        return {}
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.query:
        raise _fix(
            "LADDER_LLM_URL",
            f"is not an http(s) URL ({url!r})",
            "give the API's base URL, e.g. http://127.0.0.1:8000/v1 (Ladder adds "
            "/chat/completions); unset it to turn suggestions off",
        )
    if parsed.username or parsed.password:
        raise _fix(
            "LADDER_LLM_URL",
            "holds a user or password",
            "put the key in a variable of its own and name it in LADDER_LLM_API_KEY_ENV",
        )
    model = env.get("LADDER_LLM_MODEL", "").strip()
    if len(model) > 200:
        raise _fix("LADDER_LLM_MODEL", "is longer than 200 characters", "give the model's name")
    key_env = env.get("LADDER_LLM_API_KEY_ENV", "").strip() or None
    if key_env is not None:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,99}", key_env):
            raise _fix(
                "LADDER_LLM_API_KEY_ENV",
                f"is not a variable name ({key_env!r})",
                "name the variable that holds the key, e.g. OPENAI_API_KEY (not the key itself)",
            )
        if not env.get(key_env, "").strip():
            raise _fix(
                "LADDER_LLM_API_KEY_ENV",
                f"names {key_env}, which is not set",
                f"set {key_env} to the API key, or unset LADDER_LLM_API_KEY_ENV",
            )
    raw = env.get("LADDER_LLM_TIMEOUT", "").strip() or f"{LLM_TIMEOUT_DEFAULT:g}"
    try:
        timeout = float(raw)
    except ValueError:
        timeout = float("nan")
    if not 1 <= timeout <= 300:  # also refuses nan
        raise _fix(
            "LADDER_LLM_TIMEOUT",
            f"is not a number of seconds between 1 and 300 ({raw!r})",
            f"default is {LLM_TIMEOUT_DEFAULT:g}",
        )
    return {
        "llm_url": url,
        "llm_model": model,
        "llm_api_key_env": key_env,
        "llm_timeout": timeout,
    }
