"""YAML: one nested, hand-editable document. Objectives are referenced by key, KRs sit under
their objective and check-ins under their KR; fields at their default are left out.

The loader is yaml.safe_load's (the same safe constructors) plus each mapping's line, a key
given twice as a problem, and aliases refused before anything is built.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import yaml

from bot.okr.kinds import UnitKind
from bot.services.transfer.document import (
    FORMAT_VERSION,
    CheckInDoc,
    Document,
    KeyResultDoc,
    Lines,
    ObjectiveDoc,
    Problem,
    Record,
    fields_of,
    plain,
)

HEADER = (
    "# Ladder OKRs. Edit freely: `python -m bot import FILE` checks every entry, then stores\n"
    "# all of it or nothing. An objective ladders up to its `parent` (another one's `key`);\n"
    "# `owner` and `author` take a Slack user id (U…) or an email.\n"
)
_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DEFAULTS: dict[type[Record], dict[str, Any]] = {}


def _short(record: Record, **inherited: Any) -> dict[str, Any]:
    """The record's fields less those at their default, or the same as what they inherit
    (a KR's owner is its objective's unless given). Import fills them back in; the file stays
    short to read, and quick to parse (PyYAML's time grows with the number of scalars)."""
    defaults = _DEFAULTS.get(type(record)) or _DEFAULTS.setdefault(
        type(record), {f.name: f.default for f in fields(record)}
    )
    return {
        name: plain(value)
        for name, value in fields_of(record).items()
        if value not in (None, "", [])
        and value != defaults[name]
        and not (name in inherited and value == inherited[name])
    }


def dump(document: Document) -> str:
    ws = document.workspace
    workspace = _short(ws)
    # Written even when empty: an absent statement means "keep yours" on import.
    workspace |= {"vision": ws.vision or "", "mission": ws.mission or ""}
    workspace["settings"] = {k: plain(v) for k, v in ws.settings.items()}

    def check_in(c: CheckInDoc, kr: KeyResultDoc) -> dict[str, Any]:
        return _short(c, author=kr.owner)

    def key_result(kr: KeyResultDoc, o: ObjectiveDoc) -> dict[str, Any]:
        out = _short(kr, owner=o.owner, created_at=o.created_at, unit=UnitKind.NUMBER)
        out.pop("key", None)  # nesting says which objective it is under
        if kr.source is not None:
            out["source"] = _short(kr.source)
        if kr.check_ins:
            out["check_ins"] = [check_in(c, kr) for c in kr.check_ins]
        return out

    data = {
        "version": FORMAT_VERSION,
        "workspace": workspace,
        "teams": [_short(t) for t in document.teams],
        "cycles": [_short(c) for c in document.cycles],
        "objectives": [
            _short(o) | {"key_results": [key_result(kr, o) for kr in o.key_results]}
            for o in document.objectives
        ],
    }
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return HEADER + body


class _LineLoader(_BaseLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.problems: list[Problem] = []


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> Any:
    data = Lines(line=node.start_mark.line + 1)
    yield data  # the yield-then-fill shape PyYAML's own mapping constructor has
    for key_node, _value in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if isinstance(key, str) and key in data.field_lines:
            first = data.field_lines[key]
            loader.problems.append(
                Problem(line, f"“{key}” appears twice here (also on line {first})")
            )
        elif isinstance(key, str):
            data.field_lines[key] = line
    data.update(loader.construct_mapping(node, deep=True))


def _construct_timestamp(loader: _LineLoader, node: yaml.ScalarNode) -> Any:
    # PyYAML raises a bare ValueError (no line) for 2026-13-05; keep the text instead, and
    # the field reports it with its record's line.
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_timestamp(loader, node)
    except ValueError:
        return loader.construct_scalar(node)


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_LineLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def _first_alias(text: str) -> yaml.AliasEvent | None:
    """The document's first alias (`*name`), read from the parser's events before anything is
    built: aliases let a few kilobytes stand for gigabytes ("billion laughs"), and an export
    never writes them."""
    for event in yaml.parse(text, Loader=_BaseLoader):
        if isinstance(event, yaml.AliasEvent):
            return event
    return None


def load(text: str, problems: list[Problem]) -> Lines | None:
    """The top mapping, each mapping with its lines; None when the text is not YAML at all."""
    loader = _LineLoader(text)
    try:
        if (alias := _first_alias(text)) is not None:
            problems.append(
                Problem(
                    alias.start_mark.line + 1 if alias.start_mark else 0,
                    f"“*{alias.anchor}” repeats an entry by YAML alias: write each entry out "
                    "in full (aliases are not accepted)",
                )
            )
            return None
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 0
        problems.append(Problem(line, f"not valid YAML: {error.problem or error}"))
        return None
    except yaml.YAMLError as error:
        problems.append(Problem(0, f"not valid YAML: {error}"))
        return None
    finally:
        loader.dispose()
    problems.extend(loader.problems)
    if not isinstance(data, Lines):
        problems.append(Problem(1, "the file should be a mapping: version, workspace, teams, …"))
        return None
    return data
