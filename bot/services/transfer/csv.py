"""CSV: one row per record with a `record` column, so the file opens in a spreadsheet.

The columns are the document's fields. A team's or cycle's name and the workspace's id go in
`key`, the workspace's name in `title`; `parent` is a team's parent team, the objective an
objective ladders up to, a KR's objective, a check-in's or a source's KR (by key). A setting
row holds one setting (vision and mission too) as key = name, value = value.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from bot.services.transfer.document import (
    CheckInDoc,
    CycleDoc,
    Document,
    KeyResultDoc,
    Lines,
    ObjectiveDoc,
    Problem,
    Record,
    SourceDoc,
    TeamDoc,
    fields_of,
    plain,
    scalars,
)

_RECORDS: dict[str, type[Record]] = {
    "team": TeamDoc,
    "cycle": CycleDoc,
    "objective": ObjectiveDoc,
    "key_result": KeyResultDoc,
    "checkin": CheckInDoc,
    "source": SourceDoc,
}
_PARENT = {"key_result": "objective", "checkin": "key_result", "source": "key_result"}
_INTO = {"key_result": "key_results", "checkin": "check_ins", "source": "source"}  # parent's field
_CHILDREN = {"objective": "key_results", "key_result": "check_ins"}  # rows found by key


def _columns(record: str) -> dict[str, str]:
    """Column -> document field, for one kind of row."""
    if record == "workspace":
        return {"key": "id", "title": "name"}
    if record == "setting":
        return {"key": "name", "value": "value"}
    columns = {("key" if f == "name" else f): f for f in scalars(_RECORDS[record])}
    return columns | ({"parent": _PARENT[record]} if record in _PARENT else {})


COLUMNS_OF = {record: _columns(record) for record in ("workspace", "setting", *_RECORDS)}
COLUMNS = tuple(
    dict.fromkeys(("record", "key", "parent", "title", *itertools.chain(*COLUMNS_OF.values())))
)

# Text a spreadsheet could take for a formula (=, +, -, @) is written with a leading
# apostrophe, which import takes off again (OWASP's advice against CSV injection).
_FORMULA_START = tuple("=+-@\t\r'")
_BREAK = re.compile(r"\r\n?|\n")  # what ends a line in a quoted cell, as csv counts them


def _cell(value: Any) -> str:
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, str):
        return "'" + value if value.startswith(_FORMULA_START) else value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # the shortest text that reads back as the same float
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value)


def _uncell(text: str) -> str:
    quoted = text[:1] == "'" and text[1:].startswith(_FORMULA_START)
    return text[1:] if quoted else text


def dump(document: Document) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, COLUMNS)
    writer.writeheader()

    def row(record: str, values: Mapping[str, Any]) -> None:
        cells = {column: _cell(values.get(f)) for column, f in COLUMNS_OF[record].items()}
        writer.writerow({"record": record} | cells)

    ws = document.workspace
    row("workspace", fields_of(ws))
    for name in ("vision", "mission"):
        row("setting", {"name": name, "value": getattr(ws, name) or ""})
    for name, value in ws.settings.items():
        row("setting", {"name": name, "value": value})
    for t in document.teams:
        row("team", fields_of(t))
    for cycle in document.cycles:
        row("cycle", fields_of(cycle))
    # Rows point to their parent by key: YAML needs no KR keys (nesting says it), so a
    # document read from YAML gets fresh ones, unlike any key already in it.
    taken = {o.key for o in document.objectives} | {kr.key for kr in document.key_results}
    fresh = (f"#{n}" for n in itertools.count(1) if f"#{n}" not in taken)
    for o in document.objectives:
        okey = o.key or next(fresh)
        row("objective", fields_of(o) | {"key": okey})
        for n, kr in enumerate(o.key_results, start=1):
            kkey = kr.key or (f"{okey}.{n}" if f"{okey}.{n}" not in taken else next(fresh))
            row("key_result", fields_of(kr) | {"objective": okey, "key": kkey})
            if kr.source is not None:
                row("source", fields_of(kr.source) | {"key_result": kkey})
            for c in kr.check_ins:
                row("checkin", fields_of(c) | {"key_result": kkey})
    return buffer.getvalue()


def load(text: str, problems: list[Problem]) -> Lines | None:
    """Rows -> the nested shape YAML gives (KRs under objectives, check-ins under KRs), each
    mapping with the physical line its row starts on; None when there is no table to read."""
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    try:
        header = [h.strip().casefold() for h in reader.fieldnames or ()]
    except csv.Error as error:
        problems.append(Problem(1, f"not valid CSV: {error}"))
        return None
    if not header:
        problems.append(Problem(0, "the file is empty"))
        return None
    reader.fieldnames = header
    before = len(problems)
    if unknown := [h for h in header if h not in COLUMNS]:
        problems.append(Problem(1, f"unknown column(s): {', '.join(unknown)}"))
    if "record" not in header:
        problems.append(Problem(1, "the header needs a “record” column"))
    if len(set(header)) != len(header):
        problems.append(Problem(1, "a column appears twice in the header"))
    if len(problems) > before:
        return None

    workspace, settings = Lines(), Lines()
    top = Lines(workspace=workspace, teams=[], cycles=[], objectives=[])
    by_key: dict[str, dict[str, Lines]] = {record: {} for record in _CHILDREN}
    children: list[tuple[Lines, str, str]] = []  # (row, what its parent is, where it goes)
    end = 1  # the line the previous row ended on
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            problems.append(Problem(reader.line_num, f"not valid CSV: {error}"))
            return None
        extra = cells.pop(None, None)  # cells beyond the header's columns
        texts = [c for c in cells.values() if isinstance(c, str)]
        texts += extra if isinstance(extra, list) else []
        # Where the row starts: quoted cells may span lines; DictReader skips blank lines.
        breaks = sum(len(_BREAK.findall(c)) for c in texts)
        line, end = max(end + 1, reader.line_num - breaks), reader.line_num
        if not any(c.strip() for c in texts):
            continue
        if extra:
            problems.append(Problem(line, f"{len(texts)} cells but {len(header)} columns"))
            continue
        record = (cells.pop("record") or "").strip().casefold()
        columns = COLUMNS_OF.get(record)
        if columns is None:
            names = ", ".join(COLUMNS_OF)
            problems.append(Problem(line, f"unknown record “{record}”: use one of {names}"))
            continue
        raw = Lines(line=line)
        for column, cell in cells.items():
            if not cell or not cell.strip():
                continue
            if column not in columns:
                problems.append(Problem(line, f"column “{column}” does not apply to {record} rows"))
            else:
                raw[columns[column]] = _uncell(cell)
        if record == "workspace":
            if workspace.line:
                problems.append(
                    Problem(line, f"a second workspace (first on line {workspace.line})")
                )
                continue
            workspace.update(raw)
            workspace.line = line
        elif record == "setting":
            name = str(raw.get("name", ""))
            if name in settings:
                first = settings.field_lines[name]
                problems.append(Problem(line, f"setting “{name}” twice (also on line {first})"))
                continue
            # An empty value is a value here: no vision yet, no digest channel.
            settings[name] = _uncell(cells.get("value") or "")
            settings.field_lines[name] = line
        elif record in ("team", "cycle", "objective"):
            top[f"{record}s"].append(raw)
        else:
            children.append((raw, _PARENT[record], _INTO[record]))
        if record in _CHILDREN:
            raw[_CHILDREN[record]] = []
            if "key" in raw:
                by_key[record].setdefault(raw["key"], raw)
    # Rows may come in any order: attach KRs, check-ins and sources once every row is read.
    for raw, parent_record, into in children:
        key = raw.pop(parent_record, None)
        parent = by_key[parent_record].get(key) if key is not None else None
        if key is None:
            problems.append(Problem(raw.line, f"give the {parent_record}'s key in “parent”"))
        elif parent is None:
            problems.append(Problem(raw.line, f"unknown {parent_record} “{key}” in “parent”"))
        elif into != "source":
            parent[into].append(raw)
        elif "source" in parent:
            first = parent["source"].line
            problems.append(
                Problem(raw.line, f"a second source for key result “{key}” (first on line {first})")
            )
        else:
            parent["source"] = raw
    for name in ("vision", "mission"):
        if name in settings:
            workspace[name] = settings.pop(name)
            workspace.field_lines[name] = settings.field_lines[name]
    if settings:
        settings.line = workspace.line
        workspace["settings"] = settings
    return top
