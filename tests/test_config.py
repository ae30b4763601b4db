"""Settings: every bad one named on its own line with what it expects, no secret ever echoed,
and the README's table, .env.example and the Settings fields naming the same variables."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, load_settings
from tests.slack.conftest import ACME_TOKEN, SECRET

REPO = Path(__file__).resolve().parent.parent
BAD = {
    "PORT": ("70000", "is not a port number ('70000'): use a number like 3000"),
    "LADDER_SCHEDULER": ("sometimes", "must be on or off ('sometimes'): default is on"),
    "WEB_CONCURRENCY": ("lots", "is not a number of processes between 1 and 64 ('lots')"),
    "SLACK_API_URL": ("slack.com/api", "is not an http(s) URL ('slack.com/api')"),
    "SLACK_BOT_TOKEN": ("xoxp-1234-user-token-here", "should start with xoxb-: copy it from"),
    "SLACK_SIGNING_SECRET": ("xoxb-9-9-pasted-here", "is malformed (expected 32 hex characters)"),
    "DATABASE_URL": ("postgresql://u:hunter2hunter2@db:port/x", "is malformed (ValueError)"),
}


def test_every_bad_setting_gets_its_own_line_naming_it_and_what_it_expects() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings({name: value for name, (value, _) in BAD.items()})
    lines = str(raised.value).splitlines()
    assert len(lines) == len(BAD), lines
    for name, (_, expected) in BAD.items():
        (line,) = [line for line in lines if line.startswith(f"{name} ")]
        assert expected in line, line
    message = str(raised.value)
    for secret in ("xoxp-1234", "xoxb-9-9", "hunter2"):
        assert secret not in message, message


def test_a_test_sees_only_the_mapping_it_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "not a port")  # as a developer's shell might have it
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-A0-1-ff")
    settings = load_settings({"SLACK_BOT_TOKEN": ACME_TOKEN, "SLACK_SIGNING_SECRET": SECRET})
    assert settings.port == 3000 and not settings.socket_mode
    monkeypatch.setenv("SLACK_BOT_TOKEN", ACME_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("PORT", " 8080 ")
    assert load_settings().port == 8080  # without a mapping: the process's environment


def test_empty_values_count_as_unset_and_tokens_stay_secret() -> None:
    settings = load_settings(
        {"SLACK_BOT_TOKEN": f" {ACME_TOKEN} ", "SLACK_SIGNING_SECRET": SECRET, "PORT": " "}
    )
    assert settings.port == 3000
    assert settings.slack_bot_token is not None
    assert settings.slack_bot_token.get_secret_value() == ACME_TOKEN
    assert ACME_TOKEN not in repr(settings) and SECRET not in str(settings)


def _names(text: str, pattern: str) -> set[str]:
    return set(re.findall(pattern, text, flags=re.MULTILINE))


def test_the_readme_table_and_env_example_name_every_setting() -> None:
    fields = {
        str(field.validation_alias or name.upper()) for name, field in Settings.model_fields.items()
    }
    readme = (REPO / "README.md").read_text()
    table = readme[readme.index("| setting | meaning | default |") :].split("\n\n")[0]
    first_cells = "\n".join(row.split(" | ")[0] for row in table.splitlines()[2:])
    in_readme = _names(first_cells, r"`([A-Z_]+)`")
    # Optional features are there commented out (#NAME=example), off until uncommented.
    example = _names((REPO / ".env.example").read_text(), r"^#?([A-Z_]+)=")
    assert in_readme == fields, in_readme ^ fields
    assert example == fields, example ^ fields


def _imports(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
    return modules


def test_settings_and_jobs_point_one_way() -> None:
    """bot/config.py is imported by every layer and imports none; the jobs get their Slack
    clients from the composition root instead of importing it."""
    config = _imports(REPO / "bot" / "config.py")
    assert not {m for m in config if m.startswith(("bot", "storage"))}, config
    for path in (REPO / "bot" / "jobs").glob("*.py"):
        assert "bot.app" not in _imports(path), path
