"""A first run as the README tells it: one line for each thing to fix, and help that helps.

Each `python -m bot` here runs in its own folder with nothing of Ladder's or Slack's in its
environment but what the test gives it, so no developer's .env is read."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.__main__ import _parser
from bot.logs import redact
from tests.slack.conftest import ACME_TOKEN, SECRET
from tests.support.production_server import server_env
from tests.support.slack_standin import SlackStandIn


def _run_bot(tmp_path: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in server_env(tmp_path, **settings).items()
        if not k.startswith(("SLACK_", "LADDER_")) or k in settings
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", "serve", "--http"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    """The one line that says what to fix: the last, after the database's "ready" line, the
    only one from Ladder that is not an INFO line."""
    assert done.returncode == 2, (done.returncode, done.stderr)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert "Traceback" not in done.stderr, done.stderr
    assert [line for line in lines[:-1] if "level=info" not in line] == [], done.stderr
    return lines[-1]


def test_the_placeholder_token_from_the_example_stops_start_up_with_one_line(
    tmp_path: Path,
) -> None:
    line = _one_line(
        _run_bot(tmp_path, SLACK_BOT_TOKEN="xoxb-your-bot-token", SLACK_SIGNING_SECRET=SECRET)
    )
    assert line.startswith("ladder: SLACK_BOT_TOKEN is still the placeholder from .env.example"), (
        line
    )


def test_each_bad_setting_gets_its_own_line_at_start_up(tmp_path: Path) -> None:
    done = _run_bot(
        tmp_path, SLACK_BOT_TOKEN="xoxp-1234-a-user-token", SLACK_SIGNING_SECRET=SECRET, PORT="http"
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.splitlines()
    token = "ladder: SLACK_BOT_TOKEN should start with xoxb-: copy it from your app's OAuth"
    assert any(line.startswith(token) for line in lines), lines
    assert "ladder: PORT is not a port number ('http'): use a number like 3000" in lines
    assert "xoxp-1234" not in done.stderr


def test_a_token_slack_refuses_stops_start_up_with_one_line(tmp_path: Path) -> None:
    with SlackStandIn() as standin:
        standin.add_workspace("T0ACME", bot_token=ACME_TOKEN, team_name="Acme")
        line = _one_line(
            _run_bot(
                tmp_path,
                SLACK_BOT_TOKEN="xoxb-1234-not-a-real-token",
                SLACK_SIGNING_SECRET=SECRET,
                SLACK_API_URL=standin.api_url,
            )
        )
    assert line.startswith("ladder: SLACK_BOT_TOKEN was refused by Slack (invalid_auth)"), line
    assert "xoxb-1234" not in line


def test_no_way_to_slack_stops_start_up_with_one_line(tmp_path: Path) -> None:
    line = _one_line(
        _run_bot(
            tmp_path,
            SLACK_BOT_TOKEN=ACME_TOKEN,
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL="http://127.0.0.1:9/api/",  # discard port: nothing listens
        )
    )
    assert line.startswith("ladder: Slack's Web API at http://127.0.0.1:9/api/ could not"), line


def test_the_masker_keeps_the_hints_own_example_and_hides_real_tokens() -> None:
    hint = "put its Bot User OAuth Token (xoxb-…) in .env; app tokens look like xapp-…"
    assert redact(hint) == hint
    assert redact(f"token {ACME_TOKEN} leaked") == "token xoxb-*** leaked"


@pytest.mark.parametrize("command", ["serve", "db", "clock", "checkins", "schedule", "purge"])
def test_each_subcommand_says_what_it_does(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args([command, "-h"])
    usage, _, rest = capsys.readouterr().out.partition("\n\n")
    description = rest.split("\n\n")[0]
    assert usage.startswith(f"usage: ladder {command}")
    assert len(description.split()) >= 5 and description.rstrip().endswith("."), description


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args(["--version"])
    assert capsys.readouterr().out.startswith("ladder 0.")
