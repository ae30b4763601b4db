"""Operator logs: one structured line per Slack request, and no token or secret in any log
line or start-up error, whoever wrote it (Ladder, Bolt, slack_sdk)."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from slack_sdk.errors import SlackApiError

from bot.config import ConfigError, load_settings
from bot.listeners.middleware import request_fields
from bot.logs import (
    JSONFormatter,
    KeyValueFormatter,
    RedactingFilter,
    Redactor,
    configure_logging,
    log_event,
    secrets_of,
)
from tests.slack import conftest as slack
from tests.slack.conftest import ACME, ACME_TOKEN, DEV, SECRET, Ladder
from tests.support.request_lines import RequestLines

# The end-to-end fixtures of tests/slack: the running app, Slack played by the stand-in.
standin, ladder = slack.standin, slack.ladder

REPO = Path(__file__).resolve().parents[1]
LATENCY = 0.3  # seconds the stand-in takes to answer the listener's own Slack call


class LogBuffer(io.StringIO):
    """Where the configured handler writes; `wait_for` blocks until a text shows up there
    (the handler of a logger sees a record before the root handler has written it)."""

    def __init__(self) -> None:
        super().__init__()
        self._cond = threading.Condition()

    def write(self, text: str) -> int:
        with self._cond:
            written = super().write(text)
            self._cond.notify_all()
            return written

    def wait_for(self, text: str, count: int = 1, timeout: float = 10.0) -> str:
        with self._cond:
            assert self._cond.wait_for(lambda: self.getvalue().count(text) >= count, timeout), (
                f"{text!r} not logged {count} times:\n{self.getvalue()}"
            )
            return self.getvalue()


@pytest.fixture
def configured() -> Iterator[Callable[..., LogBuffer]]:
    """configure_logging as `python -m bot` calls it, into a buffer; undone afterwards."""
    root = logging.getLogger()
    level = root.level
    installed: list[logging.Handler] = []

    def configure(level_name: str = "INFO", fmt: str = "text", **kwargs: object) -> LogBuffer:
        buffer = LogBuffer()
        installed.append(configure_logging(level_name, fmt, stream=buffer, **kwargs))  # type: ignore[arg-type]
        return buffer

    yield configure
    for handler in installed:
        root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
def request_lines() -> Iterator[RequestLines]:
    handler = RequestLines()
    logger = logging.getLogger("ladder.requests")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


@pytest.fixture
def work_lines() -> Iterator[RequestLines]:
    handler = RequestLines("work")
    logger = logging.getLogger("ladder.listeners")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


# ---------------------------------------------------------------------------- request lines


def test_a_slash_command_logs_one_line_with_who_what_and_how_long(
    ladder: Ladder,
    configured: Callable[..., LogBuffer],
    request_lines: RequestLines,
    work_lines: RequestLines,
) -> None:
    text = configured("INFO", "text")
    ladder.standin.set_latency("response_url", LATENCY)  # the listener's reply takes this long
    assert ladder.acme.slash_command("Help me", user_id=DEV).status_code == 200
    [record] = request_lines.wait(1)
    fields = record.ladder_fields  # type: ignore[attr-defined]
    who_what = ("workspace", "user", "kind", "command", "sub", "status")
    assert {k: fields[k] for k in who_what} == {
        "workspace": ACME,
        "user": DEV,
        "kind": "command",
        "command": "/okr",
        "sub": "help",
        "status": "ok",
    }
    assert "me" not in fields.values()  # the rest of what was typed is not logged
    # The request line is timed to the answer; the work after it has a line of its own,
    # timed to its end: the reply's latency is inside that one.
    [work] = work_lines.wait(1)
    work_fields = work.ladder_fields  # type: ignore[attr-defined]
    assert {k: work_fields[k] for k in who_what} == {k: fields[k] for k in who_what}
    assert LATENCY * 1000 <= work_fields["duration_ms"] < 10_000
    assert fields["duration_ms"] < work_fields["duration_ms"]

    ladder.standin.set_latency("response_url", 0)
    assert ladder.acme.slash_command("mine", user_id=DEV).status_code == 200
    records = request_lines.wait(2)
    assert [r.ladder_fields["sub"] for r in records] == ["help", "mine"]  # type: ignore[attr-defined]

    output = text.wait_for(" event=request ", count=2)
    lines = [line for line in output.splitlines() if " event=request " in line]
    assert len(lines) == 2, text.getvalue()
    assert (
        " logger=ladder.requests event=request workspace=T0ACME user=U0DEV kind=command "
        "command=/okr sub=help duration_ms="
    ) in lines[0]
    assert lines[0].endswith(" status=ok")


def test_json_lines_carry_the_same_fields(
    ladder: Ladder, configured: Callable[..., LogBuffer], request_lines: RequestLines
) -> None:
    out = configured("INFO", "json")
    assert ladder.acme.slash_command("status", user_id=DEV).status_code == 200
    request_lines.wait(1)
    output = out.wait_for('"event": "request"')
    parsed = [json.loads(line) for line in output.splitlines()]  # every line is JSON
    [line] = [p for p in parsed if p.get("event") == "request"]
    assert line["logger"] == "ladder.requests" and line["level"] == "info"
    assert (line["workspace"], line["user"], line["kind"], line["command"], line["sub"]) == (
        ACME,
        DEV,
        "command",
        "/okr",
        "status",
    )
    assert isinstance(line["duration_ms"], float) and line["status"] == "ok"


def test_an_event_is_logged_with_its_type(
    ladder: Ladder,
    configured: Callable[..., LogBuffer],
    request_lines: RequestLines,
    work_lines: RequestLines,
) -> None:
    configured("INFO", "text")
    assert ladder.acme.app_home_opened(user_id=DEV).status_code == 200
    [record] = request_lines.wait(1)
    [work] = work_lines.wait(1)
    for line in (record, work):
        fields = line.ladder_fields  # type: ignore[attr-defined]
        assert (fields["workspace"], fields["user"], fields["kind"], fields["event_type"]) == (
            ACME,
            DEV,
            "event",
            "app_home_opened",
        )
        assert fields["status"] == "ok"
    assert ladder.standin.calls("views.publish")  # the work line came after the work


def test_request_fields_by_kind() -> None:
    assert request_fields({"command": "/okr", "text": "  STATUS  team x"}) == {
        "kind": "command",
        "command": "/okr",
        "sub": "status",
    }
    assert request_fields({"command": "/okr", "text": ""})["sub"] == ""
    assert len(request_fields({"command": "/okr", "text": "x" * 500})["sub"]) == 32
    assert request_fields(
        {"type": "view_submission", "view": {"callback_id": "objective_modal"}}
    ) == {"kind": "view_submission", "callback_id": "objective_modal"}
    assert request_fields(
        {"type": "block_actions", "actions": [{"action_id": "a"}, {"action_id": "b"}]}
    ) == {"kind": "action", "action": "a,b"}
    assert request_fields({"type": "block_suggestion", "action_id": "parent"}) == {
        "kind": "options",
        "action": "parent",
    }
    assert request_fields({"type": "event_callback", "event": {"type": "app_home_opened"}}) == {
        "kind": "event",
        "event_type": "app_home_opened",
    }


# ---------------------------------------------------------------------------- no secrets


def test_tokens_and_secrets_never_reach_the_log_even_at_debug(
    ladder: Ladder, configured: Callable[..., LogBuffer], request_lines: RequestLines
) -> None:
    """A whole flow at DEBUG (slack_sdk and Bolt log requests and responses then), a revoked
    token whose exception Bolt logs with its traceback, and leaks planted the ways a library
    could leak: in a message, in its arguments, in an exception's text, in event fields."""
    out = configured("DEBUG", "text", secrets=secrets_of(ladder.settings))
    assert ladder.acme.slash_command("help", user_id=DEV).status_code == 200
    request_lines.wait(1)

    ladder.standin.revoke(ACME_TOKEN)
    assert ladder.acme.slash_command("new Grow", user_id=DEV).status_code == 200
    out.wait_for("event=modal_not_opened")  # at the ack (token_revoked); the person is told
    request_lines.wait(2)

    sdk = logging.getLogger("slack_sdk.web.base_client")
    sdk.debug("headers: %s", {"Authorization": f"Bearer {ACME_TOKEN}"})
    sdk.debug(f"body_params: {{'client_secret': '{SECRET}', 'code': 'abc'}}")
    try:
        raise SlackApiError(f"signing with {SECRET} for {ACME_TOKEN}", {"ok": False})
    except SlackApiError:
        logging.getLogger("slack_bolt.App").exception("listener failed (%s)", ACME_TOKEN)
    log_event(logging.getLogger("ladder.jobs"), "send", workspace=ACME, note=ACME_TOKEN)

    output = out.wait_for("event=request", count=2)
    for needle in ("Sending a request", "token_revoked", "Traceback", "event=send"):
        assert needle in output, f"{needle!r} not logged: the flow did not run as planned"
    for secret in (ACME_TOKEN, SECRET, "acme-test"):
        assert secret not in output, f"{secret} leaked:\n{output}"
    assert "Bearer ***" in output and "'client_secret': '***'" in output
    assert "signing with *** for ***" in output


@pytest.mark.parametrize(
    "text",
    [
        "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy",
        "xoxp-2-AAAA-bbbb",
        "xoxa-2-abc",
        "xoxr-abc.def",
        "xoxs-123",
        "xoxe-1-My0xLTE2NjcyMDUtYWJj",
        "xoxe.xoxp-1-Mi0yLTE0NjQ4",
        "xapp-1-A0123456789-1234567890123-abcdef0123456789",
    ],
)
def test_every_slack_token_shape_is_masked(text: str) -> None:
    masked = Redactor()(f"token {text}, again:{text}")
    assert text not in masked
    assert masked.count("-***") == 2


def test_configured_secrets_and_secret_looking_values_are_masked_everywhere() -> None:
    redact = Redactor(["hunter2hunter2", "short", None])
    assert redact("pw hunter2hunter2!") == "pw ***!"
    assert redact("short stays") == "short stays"  # too short to mask without harm
    assert redact("SLACK_SIGNING_SECRET=abc123 next") == "SLACK_SIGNING_SECRET=*** next"
    assert redact('{"refresh_token": "r-1"}') == '{"refresh_token": "***"}'
    assert redact("postgresql+psycopg://ladder:pa55@db:5432/x") == (
        "postgresql+psycopg://ladder:***@db:5432/x"
    )
    assert redact("error=token_revoked workspace=T1") == "error=token_revoked workspace=T1"

    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "a %s b", ("xoxb-1-2",), None)
    record.ladder_fields = {"note": "hunter2hunter2", "n": 3}  # type: ignore[attr-defined]
    try:
        raise ValueError("hunter2hunter2")
    except ValueError:
        record.exc_info = sys.exc_info()
    assert RedactingFilter(redact).filter(record) is True  # masks, never drops
    assert (record.getMessage(), record.exc_info) == ("a xoxb-*** b", None)
    assert record.exc_text is not None and "ValueError: ***" in record.exc_text
    assert record.ladder_fields == {"note": "***", "n": 3}  # type: ignore[attr-defined]


def test_secrets_of_settings_include_tokens_secret_and_database_password() -> None:
    settings = load_settings(
        {
            "SLACK_BOT_TOKEN": ACME_TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_APP_TOKEN": "xapp-1-A0-1-ff",
            "DATABASE_URL": "postgres://ladder:correct-horse@db/ladder",
        }
    )
    assert set(secrets_of(settings)) == {ACME_TOKEN, SECRET, "xapp-1-A0-1-ff", "correct-horse"}
    # OAuth mode's client secret too, when the settings have one.
    oauth = SimpleNamespace(slack_client_secret="c" * 32, database_url="sqlite:///x.db")
    assert secrets_of(oauth) == ["c" * 32]


def test_each_record_is_one_line_except_a_text_traceback() -> None:
    record = logging.LogRecord("ladder.x", logging.INFO, __file__, 1, "%s", ("a\nb",), None)
    line = KeyValueFormatter().format(record)
    assert "\n" not in line and line.endswith(' msg="a\\nb"')
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        failed = logging.LogRecord(
            "ladder.x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    as_json = JSONFormatter().format(failed)
    assert "\n" not in as_json
    assert json.loads(as_json)["exc"].endswith("RuntimeError: boom")


# ---------------------------------------------------------------------------- start-up


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SLACK_BOT_TOKEN", "xapp-1-A0-1-notabottoken"),  # the app token in the bot slot
        ("SLACK_BOT_TOKEN", "s3cretvalue-not-a-token"),
        ("SLACK_APP_TOKEN", "xoxb-1-2-notanapptoken"),
        ("SLACK_SIGNING_SECRET", "xoxb-1-2-pasted-in-the-wrong-field"),
        ("SLACK_SIGNING_SECRET", "0123456789abcdef0123456789abcdeZ"),
        ("DATABASE_URL", "postgresql://ladder:hunter2hunter2@db:notaport/x"),
    ],
)
def test_config_errors_do_not_echo_secret_values(name: str, value: str) -> None:
    env = {"SLACK_BOT_TOKEN": ACME_TOKEN, "SLACK_SIGNING_SECRET": SECRET, name: value}
    with pytest.raises(ConfigError) as raised:
        load_settings(env)
    message = str(raised.value)
    assert message.startswith(name), message
    assert value not in message and "hunter2" not in message


def _run_bot(tmp_path: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "LADDER_", "DATABASE_URL", "PORT", "LOG_"))
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env={
            **base,
            "PYTHONPATH": str(REPO),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'ladder.db'}",
            **settings,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_token_pasted_into_the_wrong_setting_is_not_printed(tmp_path: Path) -> None:
    done = _run_bot(
        tmp_path,
        "db",
        "current",
        SLACK_BOT_TOKEN=ACME_TOKEN,
        SLACK_API_URL="xoxb-1-2-pasted-here",  # echoed by the URL check, masked on the way out
    )
    assert done.returncode == 2
    assert done.stderr.startswith("ladder: SLACK_API_URL is not an http(s) URL"), done.stderr
    assert "pasted-here" not in done.stderr and "xoxb-***" in done.stderr


def test_a_bad_log_level_or_format_stops_start_up_with_one_line(tmp_path: Path) -> None:
    level = _run_bot(tmp_path, "db", "current", LOG_LEVEL="LOUD")
    assert (level.returncode, level.stderr.strip()) == (
        2,
        "ladder: LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL ('LOUD')",
    )
    fmt = _run_bot(tmp_path, "db", "current", LOG_FORMAT="xml")
    assert fmt.returncode == 2
    assert fmt.stderr.startswith("ladder: LOG_FORMAT must be text or json"), fmt.stderr
