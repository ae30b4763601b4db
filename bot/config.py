"""Settings, read once from the environment, failing fast with one clear line per bad setting.

`python -m bot` loads .env into the environment first (bot/__main__.py); nothing here reads
a file, so a test that passes its own mapping sees nothing else."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

from pydantic import AfterValidator, BeforeValidator, Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from sqlalchemy.engine import make_url

DEFAULT_DATABASE_URL = "sqlite:///data/ladder.db"
SLACK_API_URL_DEFAULT = "https://slack.com/api/"
OAUTH_REDIRECT_PATH = "/slack/oauth_redirect"
RETENTION_DAYS_DEFAULT = 30
# HTTP server processes (the platform convention's WEB_CONCURRENCY): one per core of a small
# machine; each takes ~100 MB.
WEB_CONCURRENCY_DEFAULT = 2
LLM_TIMEOUT_DEFAULT = 30.0
# The bot scopes an OAuth install asks for: exactly slack-manifest.yml's oauth_config.scopes.bot
# (a test keeps the two equal; the manifest is not read at run time).
BOT_SCOPES = ("commands", "chat:write", "chat:write.public", "im:write", "im:history", "users:read", "users:read.email", "files:write")  # fmt: skip
APP_CREDENTIALS = "copy it from Basic Information > App Credentials"
# A bad setting's line: `NAME {problem} ('value'): {how}`, the problem from its validator or
# PROBLEMS; never the value of a token, a secret or the database URL.
HOW = {
    "DATABASE_URL": "use e.g. sqlite:///data/ladder.db or postgresql://user:pass@host:5432/db",
    "SLACK_BOT_TOKEN": "copy it from your app's OAuth & Permissions page (Bot User OAuth Token)",
    "SLACK_SIGNING_SECRET": APP_CREDENTIALS,
    "SLACK_APP_TOKEN": "copy it from Basic Information > App-Level Tokens (connections:write)",
    "SLACK_API_URL": "unset it to use Slack's",
    "PORT": "use a number like 3000",
    "LADDER_SCHEDULER": "default is on",
    "LADDER_SEND_RATE": "default is 10; Slack allows about 1 per second per channel",
    "SLACK_CLIENT_ID": APP_CREDENTIALS,
    "SLACK_CLIENT_SECRET": APP_CREDENTIALS,
    "SLACK_REDIRECT_URI": f"e.g. https://ladder.example.com{OAUTH_REDIRECT_PATH}, where Ladder serves it",
    "LADDER_PUBLIC_URL": "e.g. https://ladder.example.com",
    "LADDER_RETENTION_DAYS": f"default is {RETENTION_DAYS_DEFAULT}: an uninstalled workspace's data is deleted that many days later",
    "WEB_CONCURRENCY": f"default is {WEB_CONCURRENCY_DEFAULT}; about one per CPU core",
    "LADDER_LLM_URL": "give the API's base URL, e.g. http://127.0.0.1:8000/v1 (Ladder adds /chat/completions), with any key in LADDER_LLM_API_KEY_ENV; unset it to turn suggestions off",
    "LADDER_LLM_MODEL": "give the model's name",
    "LADDER_LLM_API_KEY_ENV": "name the variable that holds the key, e.g. OPENAI_API_KEY (not the key itself)",
    "LADDER_LLM_TIMEOUT": f"default is {LLM_TIMEOUT_DEFAULT:g}",
}
PROBLEMS = {
    "PORT": "is not a port number",
    "LADDER_SCHEDULER": "must be on or off",
    "LADDER_SEND_RATE": "is not a rate between 0 and 1000 messages per second",
    "LADDER_RETENTION_DAYS": "is not a number of days between 1 and 3650",
    "WEB_CONCURRENCY": "is not a number of processes between 1 and 64",
    "LADDER_LLM_MODEL": "is longer than 200 characters",
    "LADDER_LLM_TIMEOUT": "is not a number of seconds between 1 and 300",
}
SECRET = ("_TOKEN", "_SECRET", "DATABASE_URL")  # its password


class ConfigError(RuntimeError):
    """A missing or malformed setting; the message says which and how to fix it."""


def _token(prefix: str) -> AfterValidator:
    def check(value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith(prefix):
            raise ValueError(f"should start with {prefix}")
        if "your" in value.get_secret_value().casefold():  # xoxb-your-bot-token
            raise ValueError("is still the placeholder from .env.example")
        return value

    return AfterValidator(check)


def _matches(pattern: str, expected: str) -> AfterValidator:
    def check(value: str | SecretStr) -> str | SecretStr:
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if not re.fullmatch(pattern, raw):
            raise ValueError(f"is malformed (expected {expected})")
        return value

    return AfterValidator(check)


def _http_url(value: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.query:
        raise ValueError("is not an http(s) URL")
    return value.rstrip("/")


def _redirect_uri(value: str) -> str:
    if not urlparse(_http_url(value)).path.endswith(OAUTH_REDIRECT_PATH):
        raise ValueError(f"must end with {OAUTH_REDIRECT_PATH}")
    return value


def _variable_name(value: str) -> str:
    if not re.fullmatch("[A-Za-z_][A-Za-z0-9_]{0,99}", value):
        raise ValueError("is not a variable name")
    return value


def _llm_url(value: str) -> str:
    url = _http_url(value)
    parsed = urlparse(url)
    if parsed.username or parsed.password:
        raise ValueError("holds a user or password")
    return url


def _database_url(value: str) -> str:
    try:
        make_url(value)  # storage.db.make_engine picks the driver; this only checks the form
    except Exception as error:
        raise ValueError(f"is malformed ({error.__class__.__name__})") from None
    return value


def _alias(name: str, **constraints: Any) -> Any:
    return Field(validation_alias=name, **constraints)


class Settings(BaseSettings):
    """One field per environment variable: its name, case aside, or its alias."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", validate_default=False)

    database_url: Annotated[str, AfterValidator(_database_url)] = DEFAULT_DATABASE_URL
    slack_bot_token: Annotated[SecretStr | None, _token("xoxb-")] = None
    slack_signing_secret: Annotated[
        SecretStr | None, _matches("[0-9a-f]{32}", "32 hex characters")
    ] = None
    slack_app_token: Annotated[SecretStr | None, _token("xapp-")] = None
    slack_api_url: Annotated[str, AfterValidator(lambda url: _http_url(url) + "/")] = (
        SLACK_API_URL_DEFAULT
    )
    port: Annotated[int, Field(gt=0, lt=65536)] = 3000
    log_level: Annotated[str, AfterValidator(str.upper)] = "INFO"  # bot/logs.py checks both
    log_format: str = "text"
    scheduler: Annotated[Literal["on", "off"], BeforeValidator(str.lower)] = _alias(
        "LADDER_SCHEDULER", default="on"
    )
    # Check-in messages per second per workspace.
    send_rate: float = _alias("LADDER_SEND_RATE", default=10.0, gt=0, le=1000, allow_inf_nan=False)
    # OAuth mode (many workspaces): client credentials instead of one SLACK_BOT_TOKEN.
    slack_client_id: Annotated[str | None, _matches(r"\d+\.\d+", "digits.digits")] = None
    slack_client_secret: Annotated[
        SecretStr | None, _matches("[0-9A-Za-z]{16,64}", "16-64 letters/digits")
    ] = None
    redirect_uri: Annotated[str | None, AfterValidator(_redirect_uri)] = _alias(
        "SLACK_REDIRECT_URI", default=None
    )
    public_url: Annotated[str | None, AfterValidator(_http_url)] = _alias(
        "LADDER_PUBLIC_URL", default=None
    )
    # Days after an uninstall (or a revoked token) before a workspace's data is deleted.
    retention_days: int = _alias(
        "LADDER_RETENTION_DAYS", default=RETENTION_DAYS_DEFAULT, ge=1, le=3650
    )
    web_concurrency: int = Field(default=WEB_CONCURRENCY_DEFAULT, ge=1, le=64)
    # "✨ Suggest KRs" in the objective form (bot/services/suggestions.py): off unless set.
    # The API key is named, not given: LADDER_LLM_API_KEY_ENV names the variable holding it.
    llm_url: Annotated[str | None, AfterValidator(_llm_url)] = _alias(
        "LADDER_LLM_URL", default=None
    )
    llm_model: str = _alias("LADDER_LLM_MODEL", default="", max_length=200)
    llm_api_key_env: Annotated[str | None, AfterValidator(_variable_name)] = _alias(
        "LADDER_LLM_API_KEY_ENV", default=None
    )
    llm_timeout: float = _alias(
        "LADDER_LLM_TIMEOUT", default=LLM_TIMEOUT_DEFAULT, ge=1, le=300, allow_inf_nan=False
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)  # load_settings reads the environment it is given, and only it

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def oauth_mode(self) -> bool:
        return self.slack_client_id is not None

    @property
    def run_scheduler(self) -> bool:
        return self.scheduler == "on"

    @property
    def retention(self) -> timedelta:
        return timedelta(days=self.retention_days)

    @property
    def slack_redirect_uri(self) -> str | None:
        """SLACK_REDIRECT_URI as given, else LADDER_PUBLIC_URL + /slack/oauth_redirect, else
        None (Slack then uses the app's only Redirect URL)."""
        if self.redirect_uri or not self.public_url:
            return self.redirect_uri
        return self.public_url + OAUTH_REDIRECT_PATH

    def __repr_args__(self) -> Any:  # never print secrets, even the database's password
        for name, value in super().__repr_args__():
            yield name, repr(make_url(value)) if name == "database_url" else value
        yield "socket_mode", self.socket_mode
        yield "oauth_mode", self.oauth_mode
        yield "llm_suggestions", self.llm_url is not None


class _Environment(EnvSettingsSource):
    """The variables of `environ` (a test's own mapping, or os.environ), each stripped; an
    empty one counts as unset."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = {name.lower(): value.strip() for name, value in environ.items()}
        super().__init__(Settings)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {name: value for name, value in self.environ.items() if value}


def _line(error: Any) -> str:
    """One line for one bad setting: never the value of a secret."""
    name = str(error["loc"][0]).upper()
    problem = error["ctx"]["error"] if error["type"] == "value_error" else PROBLEMS[name]
    value = "" if name.endswith(SECRET) else f" ({error['input']!r})"
    return f"{name} {problem}{value}: {HOW[name]}"


def load_settings(env: Mapping[str, str] | None = None, *, require_slack: bool = True) -> Settings:
    try:
        environ = os.environ if env is None else env
        settings = Settings(**_Environment(environ)())
    except ValidationError as error:
        raise ConfigError("\n".join(_line(e) for e in error.errors())) from None
    _check_modes(settings, require_slack=require_slack)
    key_env = settings.llm_api_key_env
    if key_env is not None and not environ.get(key_env, "").strip():
        raise ConfigError(
            f"LADDER_LLM_API_KEY_ENV names {key_env}, which is not set: set {key_env} to the "
            "API key, or unset LADDER_LLM_API_KEY_ENV"
        )
    return settings


def _check_modes(s: Settings, *, require_slack: bool) -> None:
    """The settings that only make sense together (Slack's own when `require_slack`)."""
    oauth, http = s.oauth_mode, s.slack_app_token is None
    if s.slack_client_secret and not oauth:
        raise ConfigError(
            f"SLACK_CLIENT_ID is not set: OAuth mode needs it with the secret; {APP_CREDENTIALS}"
        )
    if oauth and not s.slack_client_secret:
        raise ConfigError(
            f"SLACK_CLIENT_SECRET is not set: OAuth mode needs it with the id; {APP_CREDENTIALS}"
        )
    if require_slack and oauth and s.slack_bot_token:
        raise ConfigError(
            "SLACK_BOT_TOKEN cannot be combined with SLACK_CLIENT_ID/SLACK_CLIENT_SECRET: unset "
            "SLACK_BOT_TOKEN to install to many workspaces (OAuth), or unset the client "
            "credentials to run in one workspace with that token"
        )
    if require_slack and oauth and not http:
        raise ConfigError(
            "SLACK_APP_TOKEN cannot be combined with OAuth mode: installs need the HTTP endpoints "
            "/slack/install and /slack/oauth_redirect; unset SLACK_APP_TOKEN and serve HTTP"
        )
    if require_slack and oauth and not s.slack_signing_secret:
        raise ConfigError(
            "SLACK_SIGNING_SECRET is not set: OAuth mode serves HTTP and needs it to verify "
            "requests (Basic Information > App Credentials)"
        )
    if require_slack and not oauth and not s.slack_bot_token:
        raise ConfigError(
            "SLACK_BOT_TOKEN is not set: install the app to your workspace and put its Bot User "
            "OAuth Token (xoxb-…) in .env (see README, 'Connect to Slack'); or set "
            "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET to install to many workspaces (OAuth)"
        )
    if require_slack and not oauth and http and not s.slack_signing_secret:
        raise ConfigError(
            "SLACK_SIGNING_SECRET is not set: HTTP mode needs it to verify requests (Basic "
            "Information > App Credentials); or set SLACK_APP_TOKEN to use Socket Mode"
        )


def reveal(secret: SecretStr | None) -> str | None:
    """A secret's text, where a library needs it (None stays None)."""
    return None if secret is None else secret.get_secret_value()
