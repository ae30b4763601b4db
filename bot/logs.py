"""Logging for operators: one line per record, key=value (logfmt) or JSON, secrets scrubbed.

Events (a Slack request, a delivery run) are logged with `log_event`, so their fields stay
separate: `event=request workspace=T… user=U… kind=command command=/okr sub=status
duration_ms=12.3 status=ok`. Every record passes a redaction filter on the root handler that
replaces Slack tokens and the configured secrets with `***`, in the message, its arguments,
the fields and the exception text, whoever logged it (slack_sdk and Bolt included).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import IO, Any
from urllib.parse import urlparse

from pydantic import SecretStr

from bot.config import ConfigError

FORMATS = ("text", "json")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
MASK = "***"
HANDLER = "ladder"
# Shorter configured values are not masked: a 4-letter password would blank common words.
MIN_SECRET_LENGTH = 8

_EVENT = "ladder_event"  # LogRecord attributes set by log_event
_FIELDS = "ladder_fields"

# Bot, user, app-level, refresh and rotating tokens: xoxb-…, xoxp-…, xoxe.xoxb-…, xapp-….
_TOKEN = re.compile(r"\b(?:xoxe\.)?(?:xox[abprse]|xapp)-[A-Za-z0-9._-]+")
# A value named like a secret: token=…, "client_secret": "…", SLACK_SIGNING_SECRET=….
_NAMED = re.compile(
    r"""(?ix)
    ((?:token|secret|password)["']?\s*[:=]\s*(?:Bearer\s+)?["']?)
    (?!\*\*\*)[^\s"'&,;)}\]]+
    """
)
_AUTH_HEADER = re.compile(
    r"(?i)(\bauthorization[\"']?\s*[:=]\s*[\"']?(?:bearer|basic)\s+)[^\s\"',}]+"
)
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/\s@]+:)[^@\s/]+(@)", re.I)
# Every pattern above needs one of these (lower-cased) in the text to match.
_HINTS = ("xox", "xapp-", "token", "secret", "password", "authorization", "://")
_BARE_VALUE = re.compile(r"^[A-Za-z0-9_.:/@+,\-]+$")


class Redactor:
    """Masks Slack tokens, secret-named values, URL passwords and the configured secrets."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        values = {s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}
        # Longest first, so a secret that contains another is masked whole.
        self._secrets = sorted(values, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        lowered = text.lower()
        if not any(hint in lowered for hint in _HINTS):  # most lines: no regex needed
            return text
        text = _TOKEN.sub(lambda m: m.group(0).split("-", 1)[0] + "-" + MASK, text)
        text = _AUTH_HEADER.sub(r"\1" + MASK, text)
        text = _NAMED.sub(r"\1" + MASK, text)
        return _URL_PASSWORD.sub(r"\1" + MASK + r"\2", text)


redact = Redactor()  # patterns only: for text printed before the settings are known


class RedactingFilter(logging.Filter):
    """Rewrites each record in place before any formatter sees it; never drops one.

    The message is rendered here (args folded in) and the exception formatted here, so a
    token inside an argument or an exception's text is masked too. `exc_info` is dropped
    afterwards: a later formatter would format the original exception again."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string still gets logged, scrubbed
            message = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = self.redactor(message), None
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip()
            record.exc_info = None
        if record.exc_text:
            record.exc_text = self.redactor(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor(record.stack_info)
        fields = getattr(record, _FIELDS, None)
        if isinstance(fields, dict):
            setattr(
                record,
                _FIELDS,
                {k: self.redactor(v) if isinstance(v, str) else v for k, v in fields.items()},
            )
        return True


def _logfmt_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.1f}"
    text = str(value)
    # Quoted (JSON string rules) when it has spaces, quotes, = or newlines: one line, parseable.
    return text if _BARE_VALUE.fullmatch(text) else json.dumps(text, ensure_ascii=False)


def render_fields(fields: Mapping[str, Any]) -> str:
    return " ".join(f"{key}={_logfmt_value(value)}" for key, value in fields.items())


def log_event(
    logger: logging.Logger, event: str, *, level: int = logging.INFO, **fields: Any
) -> None:
    """One line for one event: `event=<event> k=v …`; the fields stay separate for JSON."""
    if not logger.isEnabledFor(level):
        return
    logger.log(
        level,
        "%s",
        render_fields({"event": event, **fields}),
        extra={_EVENT: event, _FIELDS: fields},
    )


def _head(record: logging.LogRecord) -> dict[str, Any]:
    moment = datetime.fromtimestamp(record.created, UTC)
    ts = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return {"ts": ts, "level": record.levelname.lower(), "logger": record.name}


class KeyValueFormatter(logging.Formatter):
    """`ts=… level=info logger=ladder.requests event=request …`; other records get msg="…".
    A traceback follows on the next lines, as Python prints it."""

    def format(self, record: logging.LogRecord) -> str:
        line = render_fields(_head(record))
        if getattr(record, _EVENT, None) is not None:
            line += f" {record.getMessage()}"
        else:
            line += f" msg={_logfmt_value(record.getMessage())}"
        return "\n".join(filter(None, [line, _exc_text(self, record), record.stack_info]))


class JSONFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, then event and its fields or msg; exc."""

    def format(self, record: logging.LogRecord) -> str:
        out = _head(record)
        event = getattr(record, _EVENT, None)
        if event is not None:
            out["event"] = event
            for key, value in (getattr(record, _FIELDS, None) or {}).items():
                out.setdefault(key, value)
        else:
            out["msg"] = record.getMessage()
        for key, text in (("exc", _exc_text(self, record)), ("stack", record.stack_info)):
            if text:
                out[key] = text
        return json.dumps(out, ensure_ascii=False, default=str)


def _exc_text(formatter: logging.Formatter, record: logging.LogRecord) -> str | None:
    if record.exc_info and not record.exc_text:
        record.exc_text = formatter.formatException(record.exc_info)
    return record.exc_text


def secrets_of(settings: object) -> list[str]:
    """The configured secret values of a Settings (those it has): tokens, secrets, the
    database password."""
    names = (
        "slack_bot_token",
        "slack_app_token",
        "slack_signing_secret",
        "slack_client_secret",
    )
    values = [getattr(settings, name, None) for name in names]
    values = [v.get_secret_value() if isinstance(v, SecretStr) else v for v in values]
    url = getattr(settings, "database_url", None)
    if url:
        values.append(urlparse(url).password)
    return [v for v in values if isinstance(v, str) and v]


def configure_logging(
    level: str,
    fmt: str = "text",
    *,
    secrets: Iterable[str | None] = (),
    stream: IO[str] | None = None,
) -> logging.Handler:
    """Installs Ladder's one root handler (replacing an earlier one) and returns it."""
    level_name = (level or "INFO").strip().upper()
    if level_name not in LEVELS:
        raise ConfigError(f"LOG_LEVEL must be one of {', '.join(LEVELS)} ({level!r})")
    fmt_name = (fmt or "text").strip().lower()
    if fmt_name not in FORMATS:
        raise ConfigError(f"LOG_FORMAT must be text or json ({fmt!r}); default is text")
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.set_name(HANDLER)  # the one configure_logging installed: replaced by the next
    handler.setFormatter(JSONFormatter() if fmt_name == "json" else KeyValueFormatter())
    handler.addFilter(RedactingFilter(Redactor(secrets)))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level_name)
    return handler
