"""`python -m bot export` / `import` as an operator runs them: separate processes, SQLite files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import Session

from storage.db import make_engine
from storage.migrate import upgrade
from tests.services.test_transfer import BASE_YAML, canonical, reference_tree, row_counts
from tests.support.slack_standin import SlackStandIn

REPO = Path(__file__).resolve().parents[1]


def ladder(tmp_path: Path, db: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "LADDER_", "DATABASE_URL", "LOG_LEVEL"))
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env={
            **base,
            "PYTHONPATH": str(REPO),
            "DATABASE_URL": f"sqlite:///{tmp_path / db}",
            "LOG_LEVEL": "WARNING",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def source(tmp_path: Path) -> str:
    engine = make_engine(f"sqlite:///{tmp_path / 'source.db'}")
    upgrade(engine)
    with Session(engine, expire_on_commit=False) as session:
        reference_tree(session)
    engine.dispose()
    return "source.db"


def test_export_then_import_into_an_empty_database(tmp_path: Path, source: str) -> None:
    shown = ladder(tmp_path, source, "export", "--format", "yaml")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("# Ladder OKRs.") and "key: O5" in shown.stdout
    assert shown.stderr == "exported T0REF: 6 objectives, 11 key results, 8 check-ins\n"

    for name in ("okrs.csv", "okrs.yaml"):  # the format follows the extension
        written = ladder(tmp_path, source, "export", "--output", name)
        assert written.returncode == 0, written.stderr
        target = f"{name}.db"
        loaded = ladder(tmp_path, target, "import", name)
        assert loaded.returncode == 0, loaded.stderr
        assert loaded.stdout == (
            "Imported into T0REF: 2 teams, 2 cycles, 6 objectives, 11 key results (2 connected "
            "to data sources), 8 check-ins "
            "(0 emails looked up in Slack).\n"
        )
        original = make_engine(f"sqlite:///{tmp_path / source}")
        copy = make_engine(f"sqlite:///{tmp_path / target}")
        assert canonical(copy, "T0REF") == canonical(original, "T0REF")

        again = ladder(tmp_path, target, "import", name)
        assert again.returncode == 1
        assert again.stderr.splitlines() == [
            f"{name}: T0REF already has 6 objectives, 2 cycles and 2 teams: import with "
            "--replace to delete them (and their check-ins) first, or into another workspace",
            "ladder: nothing imported (1 problems)",
        ]
        replaced = ladder(tmp_path, target, "import", name, "--replace")
        assert replaced.returncode == 0, replaced.stderr
        assert "Replaced 6 objectives, 2 cycles and 2 teams." in replaced.stdout
        assert canonical(copy, "T0REF") == canonical(original, "T0REF")


def test_a_bad_file_lists_its_problems_and_stores_nothing(tmp_path: Path, source: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        BASE_YAML.replace("kind: increase", "kind: grow").replace("parent: O1", "parent: O9")
    )
    before = row_counts(make_engine(f"sqlite:///{tmp_path / source}"))

    done = ladder(tmp_path, source, "import", "bad.yaml")

    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        "bad.yaml:19: unknown key result kind “grow”: use increase, decrease, at_least, "
        "at_most or milestone",
        "bad.yaml:26: unknown parent objective “O9”",
        "ladder: nothing imported (2 problems)",
    ]
    assert row_counts(make_engine(f"sqlite:///{tmp_path / source}")) == before


def test_owner_emails_are_looked_up_in_slack(tmp_path: Path) -> None:
    (tmp_path / "okrs.yaml").write_text(BASE_YAML.replace("owner: U0DEV", "owner: dev@acme.test"))
    with SlackStandIn() as slack:
        slack.add_workspace("T0ACME", bot_token="xoxb-acme")
        slack.add_user("T0ACME", "U0DEV", email="dev@acme.test")
        env = {"SLACK_BOT_TOKEN": "xoxb-acme", "SLACK_API_URL": slack.api_url}

        done = ladder(tmp_path, "new.db", "import", "okrs.yaml", "--workspace", "T0ACME", **env)

        assert done.returncode == 0, done.stderr
        assert "(1 emails looked up in Slack)" in done.stdout
        assert [c.args["email"] for c in slack.calls("users.lookupByEmail")] == ["dev@acme.test"]
    dump = canonical(make_engine(f"sqlite:///{tmp_path / 'new.db'}"), "T0ACME")
    assert [o[2] for o in dump["objectives"]] == ["U0CEO", "U0DEV"]


def test_usage_mistakes_stop_with_one_line(tmp_path: Path, source: str) -> None:
    no_format = ladder(tmp_path, source, "export")
    assert no_format.returncode == 2
    assert no_format.stderr == (
        "ladder: say --format yaml or --format csv (or an --output FILE.yaml/.csv)\n"
    )

    ladder(tmp_path, source, "export", "--output", "okrs.csv")
    ladder(tmp_path, source, "import", "okrs.csv", "--workspace", "T0SECOND")
    which = ladder(tmp_path, source, "export", "--format", "csv")
    assert which.returncode == 2
    assert which.stderr == (
        "ladder: say which workspace with --workspace (in the database: T0REF, T0SECOND)\n"
    )

    missing = ladder(tmp_path, source, "import", "nowhere.csv")
    assert missing.returncode == 2
    assert missing.stderr.startswith("ladder: cannot read nowhere.csv: ")
