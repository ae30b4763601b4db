"""Block Kit validation: Slack's documented limits plus the vendored JSON schema.

Pure functions, no I/O beyond loading the schema once. Every function returns a list of
human-readable violations, each prefixed with the path of the offending value, e.g.
``blocks[3].text.text: section text is 3001 characters (max 3000)``. An empty list means
Slack would accept the payload (as far as we can tell offline).

Two layers run on every block:

1. Explicit checks of the limits Slack documents (see the constants below). They give
   precise messages and cover what a JSON schema cannot express: block_id / action_id
   uniqueness, number_input min <= max, the project's "always send ``text`` with
   ``blocks``" rule.
2. ``slack-block-kit.schema.json`` (draft 2020-12, see SCHEMA_LICENSE.md) for structure:
   required fields, unknown properties, element types allowed per block, etc. A schema error
   at a path already reported by layer 1 is dropped, so one mistake gives one message.

Knowing where the schema and Slack differ, we are pragmatic:

- Blocks are validated one by one against ``$defs/<type>_block`` rather than the schema's
  top-level ``oneOf`` (whose only message would be "not valid under any of the given
  schemas"); nested ``oneOf`` errors are narrowed to the branch whose ``type`` matches.
- The schema requires ``minItems: 1`` blocks in modal/home views; we accept an empty list
  (not enforced here: an empty Home tab is a legitimate state and we could not confirm the
  rule offline).
- ``format: uri`` is not checked (jsonschema needs an extra package for it); Slack does
  check URLs, so keep URLs well-formed.
- Surface restrictions the schema documents but does not enforce (e.g. which blocks are
  allowed in modals vs messages, the 12k-character markdown total) are not enforced.
- The schema forbids unknown properties everywhere (``additionalProperties: false``); Slack
  is believed to reject them too, so this strictness is kept. Re-sending a view object
  received in a payload (with ``id``, ``hash``, ``state`` ...) is therefore refused.
- action_id uniqueness is enforced across the whole message/view, as our project rule;
  Slack's own docs only require uniqueness within the containing block.
- The view size limit (250 kB) is measured as UTF-8 bytes of compact JSON against
  250,000 bytes (the stricter reading of "kB").
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

SCHEMA_PATH = Path(__file__).with_name("slack-block-kit.schema.json")

# Slack's documented limits (copied from the project's reference notes).
MESSAGE_MAX_BLOCKS = 50
VIEW_MAX_BLOCKS = 100
SECTION_TEXT_MAX = 3000
SECTION_FIELDS_MAX = 10
SECTION_FIELD_TEXT_MAX = 2000
HEADER_TEXT_MAX = 150
CONTEXT_ELEMENTS_MAX = 10
ACTIONS_ELEMENTS_MAX = 25
INPUT_LABEL_MAX = 2000
INPUT_HINT_MAX = 2000
ID_MAX = 255  # block_id, action_id, callback_id, external_id
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
BUTTON_URL_MAX = 3000
PLACEHOLDER_MAX = 150
SELECT_OPTIONS_MAX = 100
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
OVERFLOW_OPTIONS_MIN = 1
OVERFLOW_OPTIONS_MAX = 5
PLAIN_TEXT_INPUT_MAX_LENGTH = 3000
MODAL_TEXT_MAX = 24  # title, submit, close
PRIVATE_METADATA_MAX = 3000
VIEW_MAX_BYTES = 250_000
MESSAGE_TEXT_MAX = 40_000  # chat.* answer "msg_too_long" above this
VIEW_RESPONSE_ACTIONS = ("errors", "update", "push", "clear")

_SELECT_TYPES = frozenset({"static_select", "multi_static_select"})
_OPTION_TYPES = frozenset(
    {"static_select", "multi_static_select", "overflow", "radio_buttons", "checkboxes"}
)


# --------------------------------------------------------------------------- public API


def validate_message(payload: Mapping[str, Any]) -> list[str]:
    """Violations in a message payload (chat.postMessage/update/postEphemeral, response_url)."""
    checker = _Checker()
    blocks = payload.get("blocks")
    if blocks is None:
        return checker.errors
    if not isinstance(blocks, list):
        checker.add("blocks", "must be an array of blocks")
        return checker.errors
    if len(blocks) > MESSAGE_MAX_BLOCKS:
        checker.add("blocks", f"{len(blocks)} blocks (max {MESSAGE_MAX_BLOCKS} per message)")
    text = payload.get("text")
    if blocks and not (isinstance(text, str) and text.strip()):
        # Project rule: `text` is the notification and accessibility fallback.
        checker.add("text", "missing `text` fallback alongside blocks (always send text)")
    checker.blocks(blocks, "blocks")
    return checker.errors


def validate_view(view: Mapping[str, Any]) -> list[str]:
    """Violations in a modal or Home tab view (views.open/push/update/publish)."""
    checker = _Checker()
    if not isinstance(view, Mapping):
        checker.add("view", "must be an object")
        return checker.errors
    vtype = view.get("type")
    if vtype not in ("modal", "home"):
        checker.add("type", f"must be 'modal' or 'home', not {vtype!r}")
        return checker.errors
    blocks = view.get("blocks")
    if not isinstance(blocks, list):
        checker.add("blocks", "must be an array of blocks")
        blocks = []
    if len(blocks) > VIEW_MAX_BLOCKS:
        checker.add("blocks", f"{len(blocks)} blocks (max {VIEW_MAX_BLOCKS} per view)")
    if vtype == "modal":
        if "title" not in view:
            checker.add("title", "a modal needs a title")
        for key in ("title", "submit", "close"):
            checker.max_text(view.get(key), key, MODAL_TEXT_MAX, f"modal {key}")
        has_input = any(isinstance(b, Mapping) and b.get("type") == "input" for b in blocks)
        if has_input and "submit" not in view:
            checker.add("submit", "a modal with input blocks needs a submit button")
    checker.max_len(view.get("private_metadata"), "private_metadata", PRIVATE_METADATA_MAX)
    checker.max_len(view.get("callback_id"), "callback_id", ID_MAX)
    checker.max_len(view.get("external_id"), "external_id", ID_MAX)
    size = len(json.dumps(view, separators=(",", ":"), ensure_ascii=False).encode())
    if size > VIEW_MAX_BYTES:
        checker.add("view", f"view is {size} bytes (max {VIEW_MAX_BYTES})")
    shell = _view_shell_validator(vtype)
    for err in shell.iter_errors(dict(view)):
        for leaf in _leaves(err):
            checker.schema_error(_render_path("", _error_path(leaf)), _describe(leaf))
    checker.blocks(blocks, "blocks")
    return checker.errors


def validate_blocks(blocks: Iterable[Any], *, path: str = "blocks") -> list[str]:
    """Per-block checks only (no count limit, no text rule): for ad-hoc use in tests."""
    checker = _Checker()
    checker.blocks(list(blocks), path)
    return checker.errors


def validate_options_response(payload: Mapping[str, Any]) -> list[str]:
    """Violations in an answer to a block_suggestion (external_select options request)."""
    checker = _Checker()
    options = payload.get("options")
    groups = payload.get("option_groups")
    if options is None and groups is None:
        checker.add("options", "an options response needs `options` or `option_groups`")
    if isinstance(options, list):
        if len(options) > SELECT_OPTIONS_MAX:
            checker.add("options", f"{len(options)} options (max {SELECT_OPTIONS_MAX})")
        for i, option in enumerate(options):
            checker.option(option, f"options[{i}]")
    if isinstance(groups, list):
        if len(groups) > SELECT_OPTIONS_MAX:
            checker.add("option_groups", f"{len(groups)} groups (max {SELECT_OPTIONS_MAX})")
        for i, group in enumerate(groups):
            for j, option in enumerate(group.get("options") or []):
                checker.option(option, f"option_groups[{i}].options[{j}]")
    return checker.errors


def validate_submission_response(
    response: Mapping[str, Any], submitted_view: Mapping[str, Any]
) -> list[str]:
    """Violations in an app's answer (ack body) to a view_submission."""
    checker = _Checker()
    action = response.get("response_action")
    if action is None:
        return checker.errors
    if action not in VIEW_RESPONSE_ACTIONS:
        checker.add("response_action", f"must be one of {VIEW_RESPONSE_ACTIONS}, not {action!r}")
    elif action == "errors":
        errors = response.get("errors")
        if not isinstance(errors, Mapping) or not errors:
            checker.add("errors", "response_action=errors needs a non-empty block_id map")
        else:
            # Slack only shows errors on input blocks; other keys make the whole answer fail.
            inputs = {
                b.get("block_id")
                for b in submitted_view.get("blocks") or []
                if isinstance(b, Mapping) and b.get("type") == "input"
            }
            for block_id in errors:
                if block_id not in inputs:
                    checker.add(f"errors.{block_id}", "is not the block_id of an input block")
    elif action in ("update", "push"):
        view = response.get("view")
        if not isinstance(view, Mapping):
            checker.add("view", f"response_action={action} needs a view")
        else:
            checker.errors.extend(f"view.{v}" for v in validate_view(view))
    return checker.errors


# ------------------------------------------------------------------------- explicit checks


class _Checker:
    """Accumulates violations for one message/view, tracking id uniqueness across it."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self._paths: set[str] = set()
        self._block_ids: dict[str, str] = {}
        self._action_ids: dict[str, str] = {}

    def add(self, path: str, message: str) -> None:
        self.errors.append(f"{path}: {message}")
        self._paths.add(path)

    def schema_error(self, path: str, message: str) -> None:
        if path not in self._paths:  # the explicit check already said it better
            self.add(path, message)

    def max_len(self, value: Any, path: str, limit: int, what: str | None = None) -> None:
        if isinstance(value, str) and len(value) > limit:
            self.add(path, f"{what or path} is {len(value)} characters (max {limit})")

    def max_text(self, obj: Any, path: str, limit: int, what: str) -> None:
        if isinstance(obj, Mapping):
            self.max_len(obj.get("text"), f"{path}.text", limit, what)

    def unique_id(self, obj: Mapping[str, Any], key: str, path: str) -> None:
        value = obj.get(key)
        if not isinstance(value, str):
            return
        where = f"{path}.{key}"
        self.max_len(value, where, ID_MAX, key)
        seen = self._block_ids if key == "block_id" else self._action_ids
        if value in seen:
            self.add(where, f"duplicate {key} {value!r} (also at {seen[value]})")
        else:
            seen[value] = where

    def blocks(self, blocks: list[Any], path: str) -> None:
        for i, block in enumerate(blocks):
            self.block(block, f"{path}[{i}]")

    def block(self, block: Any, path: str) -> None:
        if not isinstance(block, Mapping):
            self.add(path, "a block must be an object")
            return
        self.unique_id(block, "block_id", path)
        btype = block.get("type")
        if btype == "section":
            self.max_text(block.get("text"), f"{path}.text", SECTION_TEXT_MAX, "section text")
            fields = block.get("fields")
            if isinstance(fields, list):
                if len(fields) > SECTION_FIELDS_MAX:
                    self.add(f"{path}.fields", f"{len(fields)} fields (max {SECTION_FIELDS_MAX})")
                for i, field in enumerate(fields):
                    self.max_text(
                        field, f"{path}.fields[{i}]", SECTION_FIELD_TEXT_MAX, "section field"
                    )
            if isinstance(block.get("accessory"), Mapping):
                self.element(block["accessory"], f"{path}.accessory")
        elif btype == "header":
            self.max_text(block.get("text"), f"{path}.text", HEADER_TEXT_MAX, "header text")
        elif btype in ("context", "actions"):
            limit = CONTEXT_ELEMENTS_MAX if btype == "context" else ACTIONS_ELEMENTS_MAX
            elements = block.get("elements")
            if isinstance(elements, list):
                if len(elements) > limit:
                    self.add(
                        f"{path}.elements", f"{len(elements)} elements (max {limit} in {btype})"
                    )
                for i, element in enumerate(elements):
                    if isinstance(element, Mapping):
                        self.element(element, f"{path}.elements[{i}]")
        elif btype == "input":
            self.max_text(block.get("label"), f"{path}.label", INPUT_LABEL_MAX, "input label")
            self.max_text(block.get("hint"), f"{path}.hint", INPUT_HINT_MAX, "input hint")
            if isinstance(block.get("element"), Mapping):
                self.element(block["element"], f"{path}.element")
        elif btype == "container" and isinstance(block.get("child_blocks"), list):
            self.blocks(block["child_blocks"], f"{path}.child_blocks")
        for err in _block_schema_errors(_canonical(block)):
            self.schema_error(_render_path(path, err[0]), err[1])

    def element(self, el: Mapping[str, Any], path: str) -> None:
        etype = el.get("type")
        if etype in ("plain_text", "mrkdwn"):  # context text elements carry no ids
            return
        self.unique_id(el, "action_id", path)
        self.max_text(el.get("placeholder"), f"{path}.placeholder", PLACEHOLDER_MAX, "placeholder")
        if etype == "button":
            self.max_text(el.get("text"), f"{path}.text", BUTTON_TEXT_MAX, "button text")
            self.max_len(el.get("value"), f"{path}.value", BUTTON_VALUE_MAX, "button value")
            self.max_len(el.get("url"), f"{path}.url", BUTTON_URL_MAX, "button url")
        if etype in _OPTION_TYPES:
            self.options(el, etype, path)
        if etype == "plain_text_input":
            self.plain_text_input(el, path)
        elif etype == "number_input":
            self.number_input(el, path)

    def options(self, el: Mapping[str, Any], etype: str, path: str) -> None:
        options = el.get("options")
        if isinstance(options, list):
            if etype == "overflow" and not (
                OVERFLOW_OPTIONS_MIN <= len(options) <= OVERFLOW_OPTIONS_MAX
            ):
                self.add(
                    f"{path}.options",
                    f"overflow has {len(options)} options "
                    f"(must be {OVERFLOW_OPTIONS_MIN}-{OVERFLOW_OPTIONS_MAX})",
                )
            elif etype in _SELECT_TYPES and len(options) > SELECT_OPTIONS_MAX:
                self.add(f"{path}.options", f"{len(options)} options (max {SELECT_OPTIONS_MAX})")
            for i, option in enumerate(options):
                self.option(option, f"{path}.options[{i}]")
        groups = el.get("option_groups")
        if isinstance(groups, list):
            if len(groups) > SELECT_OPTIONS_MAX:
                self.add(
                    f"{path}.option_groups", f"{len(groups)} groups (max {SELECT_OPTIONS_MAX})"
                )
            for i, group in enumerate(groups):
                if isinstance(group, Mapping) and isinstance(group.get("options"), list):
                    for j, option in enumerate(group["options"]):
                        self.option(option, f"{path}.option_groups[{i}].options[{j}]")
        if isinstance(el.get("initial_option"), Mapping):
            self.option(el["initial_option"], f"{path}.initial_option")
        if isinstance(el.get("initial_options"), list):
            for i, option in enumerate(el["initial_options"]):
                self.option(option, f"{path}.initial_options[{i}]")

    def option(self, option: Any, path: str) -> None:
        if not isinstance(option, Mapping):
            self.add(path, "an option must be an object")
            return
        self.max_text(option.get("text"), f"{path}.text", OPTION_TEXT_MAX, "option text")
        self.max_len(option.get("value"), f"{path}.value", OPTION_VALUE_MAX, "option value")

    def plain_text_input(self, el: Mapping[str, Any], path: str) -> None:
        max_length = el.get("max_length")
        if max_length is not None and not (
            isinstance(max_length, int)
            and not isinstance(max_length, bool)
            and 1 <= max_length <= PLAIN_TEXT_INPUT_MAX_LENGTH
        ):
            self.add(
                f"{path}.max_length",
                f"must be an integer in 1-{PLAIN_TEXT_INPUT_MAX_LENGTH}, not {max_length!r}",
            )
        min_length = el.get("min_length")
        if isinstance(min_length, int) and isinstance(max_length, int) and min_length > max_length:
            self.add(f"{path}.min_length", f"min_length {min_length} > max_length {max_length}")

    def number_input(self, el: Mapping[str, Any], path: str) -> None:
        decimal_allowed = el.get("is_decimal_allowed")
        if not isinstance(decimal_allowed, bool):
            self.add(f"{path}.is_decimal_allowed", "is required and must be a boolean")
        numbers: dict[str, Decimal] = {}
        for key in ("min_value", "max_value", "initial_value"):
            if key not in el:
                continue
            raw = el[key]
            if not isinstance(raw, str):
                kind = type(raw).__name__
                self.add(
                    f"{path}.{key}", f"must be a string (numbers are sent as strings), not {kind}"
                )
                continue
            try:
                number = Decimal(raw)
            except InvalidOperation:
                self.add(f"{path}.{key}", f"{raw!r} is not a number")
                continue
            if decimal_allowed is False and number != number.to_integral_value():
                self.add(f"{path}.{key}", f"{raw!r} is a decimal but is_decimal_allowed is false")
            numbers[key] = number
        low, high = numbers.get("min_value"), numbers.get("max_value")
        if low is not None and high is not None and low > high:
            self.add(f"{path}.min_value", "min_value is greater than max_value")
        initial = numbers.get("initial_value")
        if initial is not None and (
            (low is not None and initial < low) or (high is not None and initial > high)
        ):
            self.add(f"{path}.initial_value", "initial_value is outside min_value..max_value")


# ---------------------------------------------------------------------------- JSON schema


@cache
def _schema() -> dict[str, Any]:
    with SCHEMA_PATH.open(encoding="utf-8") as fh:
        return json.load(fh)


@cache
def _block_defs() -> dict[str, str]:
    """Block type -> $defs name, read from the schema's own block union."""
    defs = _schema()["$defs"]
    out: dict[str, str] = {}
    for branch in defs["block"]["oneOf"]:
        name = branch["$ref"].rsplit("/", 1)[1]
        out[defs[name]["properties"]["type"]["const"]] = name
    return out


@cache
def _def_validator(name: str) -> Draft202012Validator:
    return Draft202012Validator({"$defs": _schema()["$defs"], "$ref": f"#/$defs/{name}"})


@cache
def _view_shell_validator(vtype: str) -> Draft202012Validator:
    """The modal/home view schema with blocks reduced to "an array": blocks go one by one."""
    defs = _schema()["$defs"]
    shell = json.loads(json.dumps(defs[f"{vtype}_view"]))
    shell["properties"]["blocks"] = {"type": "array"}
    return Draft202012Validator({"$defs": defs, **shell})


def _canonical(block: Mapping[str, Any]) -> str:
    return json.dumps(block, sort_keys=True, separators=(",", ":"))


@lru_cache(maxsize=8192)  # benchmarks send the same blocks over and over
def _block_schema_errors(block_json: str) -> tuple[tuple[tuple[str | int, ...], str], ...]:
    block = json.loads(block_json)
    btype = block.get("type")
    name = _block_defs().get(btype) if isinstance(btype, str) else None
    if name is None:
        return (((), f"unknown block type {btype!r}"),)
    out: list[tuple[tuple[str | int, ...], str]] = []
    for err in _def_validator(name).iter_errors(block):
        for leaf in _leaves(err):
            out.append((_error_path(leaf), _describe(leaf)))
    return tuple(out)


def _leaves(err: ValidationError) -> Iterator[ValidationError]:
    """Narrow a oneOf/anyOf failure to the branch whose ``type`` matched, recursively."""
    if err.validator not in ("oneOf", "anyOf") or not err.context:
        yield err
        return
    branches: dict[Any, list[ValidationError]] = {}
    for sub in err.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    matching = [
        subs for subs in branches.values() if not any(_is_discriminator_miss(s) for s in subs)
    ]
    if len(matching) == 1:
        for sub in matching[0]:
            yield from _leaves(sub)
    elif not matching and isinstance(err.instance, Mapping) and "type" in err.instance:
        err.message = f"type {err.instance['type']!r} is not allowed here"
        yield err
    else:
        yield err


def _is_discriminator_miss(sub: ValidationError) -> bool:
    path = list(sub.relative_path)
    if sub.validator in ("const", "enum") and path == ["type"]:
        return True
    return sub.validator == "type" and not path  # not even an object


def _error_path(err: ValidationError) -> tuple[str | int, ...]:
    """Where the error is; a missing required property is reported at its own path."""
    path = tuple(err.absolute_path)
    if err.validator == "required" and isinstance(err.instance, Mapping):
        missing = [k for k in err.validator_value if k not in err.instance]
        if missing:
            return (*path, missing[0])
    return path


def _describe(err: ValidationError) -> str:
    v, limit, inst = err.validator, err.validator_value, err.instance
    if v == "maxLength":
        return f"is {len(inst)} characters (max {limit})"
    if v == "minLength":
        return "must not be empty" if limit == 1 else f"is {len(inst)} characters (min {limit})"
    if v == "maxItems":
        return f"has {len(inst)} items (max {limit})"
    if v == "minItems":
        return f"has {len(inst)} items (min {limit})"
    if v == "const":
        return f"must be {limit!r}"
    if v == "enum":
        return f"must be one of {limit!r}"
    if v == "required":
        return "is required"
    message = err.message
    return message if len(message) <= 200 else message[:197] + "..."


def _render_path(prefix: str, parts: Iterable[str | int]) -> str:
    out = prefix
    for part in parts:
        out = f"{out}[{part}]" if isinstance(part, int) else (f"{out}.{part}" if out else part)
    return out or "view"
