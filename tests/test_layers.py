"""The layers point one way: okr ← storage ← services ← blocks ← jobs / listeners ← app.

Every import (module level, inside functions, under TYPE_CHECKING) of every module under bot/
and storage/ is read from its syntax tree and checked against the layer order below: a module
may import its own layer and the ones beneath it, never one above. Services and bot/okr stay
free of Slack (no slack_sdk / slack_bolt), except the services that are Slack plumbing."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# (module prefix, layer): the longest matching prefix wins. Lower layers know nothing above.
LAYERS: list[tuple[str, int]] = [
    ("bot.okr", 0),  # pure OKR rules: no Slack, no database, `now` a parameter
    ("storage", 1),  # all SQL
    ("bot.config", 2),  # support: settings, logging, the Slack client, fetching, drawing
    ("bot.logs", 2),
    ("bot.client", 2),
    ("bot.sources", 2),
    ("bot.charts", 2),
    ("bot.services", 3),  # plain values in, plain dataclasses out
    ("bot.blocks", 4),  # Block Kit builders and form-state parsers
    ("bot.pictures", 4),  # chart images: a renderer, like blocks
    ("bot.jobs", 5),  # the scheduler and the sender
    ("bot.listeners", 6),  # Slack requests: ack, call a service, build blocks
    ("bot.push_api", 6),  # the push HTTP API: a listener of its own
    ("bot.app", 7),  # composition roots
    ("bot.server", 7),
    ("bot.__main__", 7),
    ("bot", 7),
]

# Slack's libraries belong above services; these services are Slack plumbing by purpose.
SLACK_PLUMBING = {"bot.services.installs", "bot.services.people", "bot.services.transfer"}
SLACK_FREE = ("bot.okr", "storage", "bot.services")


def layer(module: str) -> int | None:
    matches = [(len(p), rank) for p, rank in LAYERS if module == p or module.startswith(p + ".")]
    return max(matches)[1] if matches else None


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every absolute module an import statement in `path` names (`from a import b` names
    `a.b` too, in case b is a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


MODULES = sorted(
    path
    for folder in ("bot", "storage")
    for path in (ROOT / folder).rglob("*.py")
    if "migrations" not in path.parts
)


def test_every_module_has_a_layer() -> None:
    assert MODULES
    assert [module_name(p) for p in MODULES if layer(module_name(p)) is None] == []


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_point_down(path: Path) -> None:
    source = module_name(path)
    own = layer(source)
    assert own is not None
    upward = sorted(t for t in imports(path) if t != "bot" and (layer(t) or 0) > own)
    assert upward == [], f"{source} (layer {own}) imports upward: {upward}"


def _plumbing(source: str) -> bool:
    """Slack plumbing by purpose (installs, people, transfer): allowed to import Slack."""
    return any(source == p or source.startswith(p + ".") for p in SLACK_PLUMBING)


@pytest.mark.parametrize(
    "path",
    [p for p in MODULES if module_name(p).startswith(SLACK_FREE) and not _plumbing(module_name(p))],
    ids=lambda p: module_name(p),
)
def test_no_slack_below_blocks(path: Path) -> None:
    source = module_name(path)
    slack = sorted(t for t in imports(path) if t.split(".")[0] in ("slack_sdk", "slack_bolt"))
    assert slack == [], f"{source} imports Slack: {slack}"


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    """The walk finds imports inside functions and under TYPE_CHECKING, which is where
    upward imports used to hide."""
    module = tmp_path / "m.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from bot.blocks.text import escape\n"
        "def f():\n    import bot.listeners\n"
    )
    assert {"bot.blocks.text", "bot.listeners"} <= imports(module)
    assert layer("bot.blocks.text") == 4 > layer("bot.services.trees") == 3  # type: ignore[operator]
