"""What a Heroku-style platform reads: requirements.txt, .python-version and the Procfile,
and that the project runs from its checkout the way a buildpack runs it."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import tomllib
from importlib import metadata
from pathlib import Path

import httpx
import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from bot.__main__ import _parser
from storage.migrate import head_revision
from tests.support.slack_standin import SlackStandIn

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
PROCESSES = {"web", "clock", "worker", "release"}
SIGNING_SECRET = "0123456789abcdef0123456789abcdef"


def _pins() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for number, line in enumerate((REPO / "requirements.txt").read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line.strip())
        assert match, f"requirements.txt:{number}: not `name==version`: {line!r}"
        name = canonicalize_name(match[1])
        assert name not in pins, f"requirements.txt:{number}: {name} pinned twice"
        pins[name] = Version(match[2])
    return pins


def _applies(requirement: Requirement, extras: set[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": e}) for e in extras or {""})


def test_requirements_pin_every_runtime_dependency_within_its_range() -> None:
    pins = _pins()
    for spec in PYPROJECT["dependencies"]:
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{spec} (pyproject.toml) is not pinned in requirements.txt"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"requirements.txt pins {name}=={pins[name]}, outside pyproject's {spec}"
        )


def test_requirements_are_closed_under_what_they_pull_in() -> None:
    """Every requirement of a pinned package (and of the extras asked for, like
    psycopg[binary]) is pinned too: `pip install -r` needs nothing unpinned."""
    pins = _pins()
    wanted: list[tuple[str, set[str]]] = [
        (canonicalize_name(r.name), set(r.extras))
        for r in map(Requirement, PYPROJECT["dependencies"])
    ]
    wanted += [(name, set()) for name in pins]
    checked = 0
    for name, extras in wanted:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # not installed here: nothing to read its requirements from
        if Version(dist.version) != pins.get(name):
            continue  # another version installed here; its requirements may differ
        checked += 1
        for line in dist.requires or []:
            requirement = Requirement(line)
            if _applies(requirement, extras):
                needed = canonicalize_name(requirement.name)
                assert needed in pins, f"{name} needs {requirement}, not in requirements.txt"
    assert checked >= len(PYPROJECT["dependencies"]), "too few pins match this environment"


# Imported when installed, skipped when not: not needed on the platform.
OPTIONAL_IMPORTS = {
    "pygments": "Mako (under Alembic) colours tracebacks with it if present",
    "click": "httpx tries to load its command line (click, rich) on import, if present",
}
IMPORT_EVERYTHING = """
import importlib, json, pkgutil, sys
import bot, storage
for package in (bot, storage):
    for found in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if not found.name.startswith("storage.migrations"):  # env.py runs only under Alembic
            importlib.import_module(found.name)
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def test_everything_the_code_imports_is_pinned() -> None:
    """Catches a library imported indirectly but declared nowhere (e.g. greenlet, which
    sqlalchemy.ext.asyncio needs): it is installed here, and missing on the platform."""
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERYTHING],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    pins = _pins()
    owners = metadata.packages_distributions()
    missing = {
        f"{module} ({', '.join(owners[module])})"
        for module in json.loads(done.stdout)
        if module not in sys.stdlib_module_names
        and not module.startswith("_")
        and module not in ("bot", "storage", *OPTIONAL_IMPORTS)
        and module in owners
        and not any(canonicalize_name(d) in pins for d in owners[module])
    }
    assert not missing, (
        f"imported by bot/storage but not in requirements.txt: {sorted(missing)}; declare "
        "them in pyproject.toml [project].dependencies and run scripts/lock-requirements"
    )


# Dev tools a runtime dependency needs as well, so the lock rightly pins them.
RUNTIME_TOO = {"packaging"}  # matplotlib (bot/charts) imports it at run time


def test_requirements_leave_out_the_development_tools() -> None:
    pins = _pins()
    for spec in PYPROJECT["optional-dependencies"]["dev"]:
        name = canonicalize_name(Requirement(spec).name)
        assert name in RUNTIME_TOO or name not in pins, (
            f"{name} is a dev dependency; requirements.txt is for running"
        )
    assert "ladder" not in pins  # the project runs from the checkout


def test_python_version_file_matches_requires_python_and_the_lock() -> None:
    version = (REPO / ".python-version").read_text().strip()
    assert re.fullmatch(r"3\.\d+", version), f".python-version should be major.minor: {version}"
    assert SpecifierSet(PYPROJECT["requires-python"]).contains(f"{version}.0")
    header = (REPO / "requirements.txt").read_text().split("\n", 3)[:3]
    assert any(f"Python {version}" in line for line in header), (
        f"requirements.txt was locked on another Python than {version}: "
        "run scripts/lock-requirements with that version"
    )
    assert (REPO / "scripts" / "lock-requirements").stat().st_mode & 0o111


def _procfile() -> dict[str, list[str]]:
    processes: dict[str, list[str]] = {}
    for line in (REPO / "Procfile").read_text().splitlines():
        if line.strip():
            name, _, command = line.partition(":")
            processes[name.strip()] = shlex.split(command)
    return processes


def test_procfile_names_web_clock_worker_and_release() -> None:
    processes = _procfile()
    assert set(processes) == PROCESSES

    def split(words: list[str]) -> tuple[dict[str, str], list[str]]:
        env = dict(w.split("=", 1) for w in words if re.fullmatch(r"[A-Z_]+=\S*", w))
        rest = [w for w in words if not re.fullmatch(r"[A-Z_]+=\S*", w)]
        assert rest[:3] == ["python", "-m", "bot"], rest
        _parser().parse_args(rest[3:])  # the CLI knows these arguments (exits 2 if not)
        return env, rest[3:]

    web_env, web = split(processes["web"])
    assert web_env == {"LADDER_SCHEDULER": "off"} and web == ["serve", "--http"]
    worker_env, worker = split(processes["worker"])
    assert worker_env == {"LADDER_SCHEDULER": "off"} and worker == ["serve", "--socket-mode"]
    clock_env, clock = split(processes["clock"])
    assert clock_env == {} and clock == ["clock"]  # the one process that runs the scheduler
    release_env, release = split(processes["release"])
    assert release_env == {} and release == ["db", "upgrade"]


def _clean_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """This environment minus PYTHONPATH and any Ladder/Slack settings, plus `settings`."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "LADDER_", "DATABASE_URL", "PORT", "LOG_", "PYTHONPATH"))
    }
    return {
        **base,
        "PYTHONUNBUFFERED": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'ladder.db'}",
        **settings,
    }


def test_runs_from_a_checkout_without_installing_the_project(tmp_path: Path) -> None:
    """A buildpack installs requirements.txt only, then runs `python -m bot` in the checkout:
    bot and storage import from the working directory, migrations included."""
    checkout = tmp_path / "app"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in ("bot", "storage"):
        shutil.copytree(REPO / package, checkout / package, ignore=ignore)
    env = _clean_env(tmp_path)
    where = subprocess.run(
        [
            sys.executable,
            "-c",
            "import bot.__main__, storage.migrate as m; print(bot.__file__); "
            "print(m.MIGRATIONS_DIR)",
        ],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert where.returncode == 0, where.stderr
    bot_file, migrations = where.stdout.split()
    assert Path(bot_file).is_relative_to(checkout)
    assert Path(migrations) == checkout / "storage" / "migrations"

    done = subprocess.run(
        [sys.executable, "-m", "bot", "db", "upgrade"],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    head = head_revision()
    assert done.stdout.strip() == f"database schema: {head} (code: {head})"


def _start_up_failure(tmp_path: Path, args: list[str], **settings: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env={**_clean_env(tmp_path, **settings), "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_socket_mode_worker_without_an_app_token_says_so(tmp_path: Path) -> None:
    line = _start_up_failure(
        tmp_path,
        ["serve", "--socket-mode"],
        SLACK_BOT_TOKEN="xoxb-acme-test",
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
    )
    assert line.startswith("ladder: SLACK_APP_TOKEN is not set: `serve --socket-mode`"), line


def test_http_web_without_a_signing_secret_says_so_even_with_an_app_token(
    tmp_path: Path,
) -> None:
    line = _start_up_failure(
        tmp_path,
        ["serve", "--http"],
        SLACK_BOT_TOKEN="xoxb-acme-test",
        SLACK_APP_TOKEN="xapp-1-A0TEST-1-abcdef",
    )
    assert line.startswith("ladder: SLACK_SIGNING_SECRET is not set: `serve --http`"), line


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_http_web_serves_http_even_when_an_app_token_is_set(tmp_path: Path) -> None:
    """Without --http the app token would switch `serve` to Socket Mode and the web
    process would never bind $PORT; a platform would restart it forever."""
    port = _free_port()
    with SlackStandIn() as standin:
        standin.add_workspace("T0ACME", bot_token="xoxb-acme-test", team_name="Acme")
        env = _clean_env(
            tmp_path,
            SLACK_BOT_TOKEN="xoxb-acme-test",
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_APP_TOKEN="xapp-1-A0TEST-1-abcdef",
            SLACK_API_URL=standin.api_url,
            LADDER_SCHEDULER="off",
            PORT=str(port),
            PYTHONPATH=str(REPO),
        )
        log = tmp_path / "web.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "bot", "serve", "--http"],
                cwd=tmp_path,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            try:
                deadline = time.monotonic() + 30
                while True:
                    try:
                        answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1.0)
                        break
                    except httpx.TransportError:
                        pass
                    assert time.monotonic() < deadline, log.read_text()
                    try:  # the poll interval doubles as a check that it did not exit
                        proc.wait(timeout=0.1)
                        pytest.fail(f"exited with {proc.returncode}:\n{log.read_text()}")
                    except subprocess.TimeoutExpired:
                        pass
                assert answer.json() == {"ok": True}
            finally:
                proc.kill()
                proc.wait(timeout=10)
        assert "Socket Mode" not in log.read_text()
