"""Acts as Slack towards our app: v0-signed HTTP requests to its /slack/events endpoint.

Payload shapes follow what Slack sends and what slack_bolt parses
(slack_bolt/request/internals.py, payload_utils.py): slash commands are form-encoded fields,
interactions are a form field ``payload=<json>``, events are a JSON envelope.

Trigger ids and response_urls are issued by the SlackStandIn, so the app's follow-up calls
(views.open, respond()) meet Slack's rules there. The sender also checks the app's HTTP
answers for the rules only visible on that side and records breaches in
``standin.violations``: acknowledging later than 3 s, invalid view_submission answers
(``response_action``), invalid options responses, invalid message bodies in acks.

It refuses (ValueError) to forge interactions Slack could not produce, e.g. a click on an
action_id that is not in the message/view, or a button value that differs from the button's.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlencode

import httpx

from .blockkit import (
    validate_message,
    validate_options_response,
    validate_submission_response,
)
from .slack_standin import SlackStandIn, dm_channel_id, fill_ids

ACK_DEADLINE_SECONDS = 3.0
Tamper = Callable[[str], str]

# Element type -> the state key Slack uses for its value, and the element's initial key.
_STATE_KEYS: dict[str, tuple[str, str | None]] = {
    "plain_text_input": ("value", "initial_value"),
    "email_text_input": ("value", "initial_value"),
    "url_text_input": ("value", "initial_value"),
    "number_input": ("value", "initial_value"),
    "static_select": ("selected_option", "initial_option"),
    "external_select": ("selected_option", "initial_option"),
    "radio_buttons": ("selected_option", "initial_option"),
    "overflow": ("selected_option", None),
    "multi_static_select": ("selected_options", "initial_options"),
    "multi_external_select": ("selected_options", "initial_options"),
    "checkboxes": ("selected_options", "initial_options"),
    "users_select": ("selected_user", "initial_user"),
    "multi_users_select": ("selected_users", "initial_users"),
    "conversations_select": ("selected_conversation", "initial_conversation"),
    "multi_conversations_select": ("selected_conversations", "initial_conversations"),
    "channels_select": ("selected_channel", "initial_channel"),
    "multi_channels_select": ("selected_channels", "initial_channels"),
    "datepicker": ("selected_date", "initial_date"),
    "timepicker": ("selected_time", "initial_time"),
    "datetimepicker": ("selected_date_time", "initial_date_time"),
    "rich_text_input": ("rich_text_value", "initial_value"),
    "file_input": ("files", None),
}
_MULTI_KEYS = frozenset(
    {"selected_options", "selected_users", "selected_conversations", "selected_channels", "files"}
)


# ------------------------------------------------------------------------ state helpers


def iter_elements(blocks: Any) -> Iterator[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """(block, element) for every interactive element in ``blocks``."""
    for block in blocks or []:
        if not isinstance(block, Mapping):
            continue
        btype = block.get("type")
        if btype == "section" and isinstance(block.get("accessory"), Mapping):
            yield block, block["accessory"]
        elif btype in ("actions", "context_actions"):
            for element in block.get("elements") or []:
                if isinstance(element, Mapping):
                    yield block, element
        elif btype == "input" and isinstance(block.get("element"), Mapping):
            yield block, block["element"]


def find_element(
    blocks: Any, action_id: str, block_id: str | None = None
) -> tuple[str, Mapping[str, Any]]:
    """(block_id, element) of the element with ``action_id``; ValueError if there is none."""
    for block, element in iter_elements(blocks):
        if element.get("action_id") == action_id and block_id in (None, block.get("block_id")):
            return str(block.get("block_id") or ""), element
    where = f" in block {block_id!r}" if block_id else ""
    raise ValueError(f"no element with action_id {action_id!r}{where}: Slack could not send this")


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _all_options(element: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield from element.get("options") or []
    for group in element.get("option_groups") or []:
        yield from group.get("options") or []


def option_for(element: Mapping[str, Any], value: Any) -> dict[str, Any]:
    """The option object Slack would send for ``value`` (an option value or an option)."""
    if isinstance(value, Mapping):
        return dict(value)
    for option in _all_options(element):
        if option.get("value") == value:
            return dict(option)
    if element.get("type") in ("external_select", "multi_external_select"):
        return {"text": _plain(str(value)), "value": str(value)}
    raise ValueError(f"{element.get('type')} {element.get('action_id')!r} has no option {value!r}")


def element_state(element: Mapping[str, Any], value: Any) -> dict[str, Any]:
    """Slack's state entry for ``element`` holding ``value``.

    ``value`` may be a complete entry (a dict with ``type``), used as is, or a plain value:
    a string/number for text and number inputs, an option value (or list of them) for
    selects, radio buttons and checkboxes, a user/channel id, "YYYY-MM-DD", etc.
    """
    if isinstance(value, Mapping) and "type" in value:
        return dict(value)
    etype = str(element.get("type"))
    key = _STATE_KEYS.get(etype, ("value", None))[0]
    if value is None:
        return {"type": etype, key: [] if key in _MULTI_KEYS else None}
    if key == "selected_option":
        return {"type": etype, key: option_for(element, value)}
    if key == "selected_options":
        return {"type": etype, key: [option_for(element, v) for v in value]}
    if key == "value":
        return {"type": etype, key: str(value)}
    if key == "rich_text_value" and isinstance(value, str):
        section = {"type": "rich_text_section", "elements": [{"type": "text", "text": value}]}
        return {"type": etype, key: {"type": "rich_text", "elements": [section]}}
    return {"type": etype, key: list(value) if key in _MULTI_KEYS else value}


def initial_state(element: Mapping[str, Any]) -> dict[str, Any]:
    """What Slack reports for an element the user did not touch: its initial value or null."""
    etype = str(element.get("type"))
    key, initial_key = _STATE_KEYS.get(etype, ("value", None))
    initial = element.get(initial_key) if initial_key else None
    if initial is None:
        return element_state(element, None)
    return {"type": etype, key: initial}


def state_values(
    blocks: Any, values: Mapping[str, Mapping[str, Any]] | None, *, fill_inputs: bool = True
) -> dict[str, dict[str, dict[str, Any]]]:
    """Slack's ``state.values`` for ``blocks``: ``{block_id: {action_id: entry}}``.

    ``values`` is written the same way, with plain values allowed (see ``element_state``).
    With ``fill_inputs`` every input block the test did not mention is reported like Slack
    does for untouched inputs (initial value or null), so the app sees the full shape.
    """
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for block_id, actions in (values or {}).items():
        for action_id, value in actions.items():
            _, element = find_element(blocks, action_id, block_id)
            out.setdefault(block_id, {})[action_id] = element_state(element, value)
    if fill_inputs:
        for block, element in iter_elements(blocks):
            if block.get("type") != "input":
                continue
            bid, aid = str(block.get("block_id")), str(element.get("action_id"))
            out.setdefault(bid, {}).setdefault(aid, initial_state(element))
    return out


# ------------------------------------------------------------------------------ sender


class SlackSender:
    """Sends Slack's requests (commands, interactions, events) to our app over HTTP."""

    def __init__(
        self,
        app_url: str,
        signing_secret: str,
        standin: SlackStandIn,
        *,
        team_id: str,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        verification_token: str = "legacy-verification-token",
        timeout: float = 10.0,
    ) -> None:
        self.app_url = app_url
        self.signing_secret = signing_secret
        self.standin = standin
        self.team_id = team_id
        self.clock = clock
        self.verification_token = verification_token
        self._client = client or httpx.Client(timeout=timeout)
        self._owns_client = client is None
        self._seq = itertools.count(1)
        self.last_trigger_id: str | None = None
        self.last_response_url: str | None = None
        self.last_event_id: str | None = None
        self.last_ack_seconds: float | None = None

    def __enter__(self) -> SlackSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    # ------------------------------------------------------------------ signing

    def signature(self, timestamp: str | int, body: str) -> str:
        """Slack's v0 signature of ``body`` sent at ``timestamp``."""
        base = f"v0:{timestamp}:{body}".encode()
        digest = hmac.new(self.signing_secret.encode(), base, hashlib.sha256).hexdigest()
        return f"v0={digest}"

    def post(
        self,
        body: str,
        content_type: str,
        *,
        label: str,
        headers: Mapping[str, str] | None = None,
        sign: bool = True,
        timestamp: str | int | None = None,
        tamper: Tamper | None = None,
    ) -> httpx.Response:
        """POST a raw body as Slack does; ``tamper`` rewrites the body after signing."""
        ts = str(timestamp if timestamp is not None else int(self.clock()))
        sent_headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            **(headers or {}),
        }
        if sign:
            sent_headers["X-Slack-Signature"] = self.signature(ts, body)
        if tamper is not None:
            body = tamper(body)
        started = time.perf_counter()
        response = self._client.post(self.app_url, content=body.encode(), headers=sent_headers)
        elapsed = time.perf_counter() - started
        self.last_ack_seconds = elapsed
        if elapsed > ACK_DEADLINE_SECONDS:
            self.standin.record_violation(
                f"{label}: app answered after {elapsed:.2f}s; Slack gives up after "
                f"{ACK_DEADLINE_SECONDS:.0f}s (operation_timeout)"
            )
        return response

    def _post_payload(self, payload: dict[str, Any], *, label: str, **opts: Any) -> httpx.Response:
        body = urlencode({"payload": json.dumps(payload)})
        return self.post(body, "application/x-www-form-urlencoded", label=label, **opts)

    # ------------------------------------------------------------------ identities

    def _team(self) -> dict[str, Any]:
        ws = self.standin.workspace(self.team_id)
        return {"id": ws.team_id, "domain": ws.domain}

    def _user(self, user_id: str) -> dict[str, Any]:
        user = self.standin.user(user_id)
        name = user["name"] if user else user_id.lower()
        return {"id": user_id, "username": name, "name": name, "team_id": self.team_id}

    def _app_id(self) -> str:
        return self.standin.workspace(self.team_id).app_id

    def _common(self, user_id: str) -> dict[str, Any]:
        return {
            "user": self._user(user_id),
            "api_app_id": self._app_id(),
            "token": self.verification_token,
            "team": self._team(),
            "enterprise": None,
            "is_enterprise_install": False,
        }

    def _trigger(self, user_id: str, view_id: str | None = None) -> str:
        trigger_id = self.standin.issue_trigger_id(self.team_id, user_id=user_id, view_id=view_id)
        self.last_trigger_id = trigger_id
        return trigger_id

    def _response_url(self, **kwargs: Any) -> str:
        url = self.standin.new_response_url(self.team_id, **kwargs)
        self.last_response_url = url
        return url

    def _resolve_view(self, view: Mapping[str, Any] | str) -> dict[str, Any]:
        if isinstance(view, str):
            found = self.standin.view(view)
            if found is None:
                raise ValueError(f"unknown view {view!r}")
            return found
        return dict(view)

    def _check_ack_message(self, label: str, response: httpx.Response) -> None:
        """An ack body of a command/action becomes a message: it must be a valid one."""
        if response.status_code != 200 or not response.text.startswith("{"):
            return
        body = response.json()
        if isinstance(body, dict) and ("blocks" in body or "text" in body):
            for violation in validate_message(body):
                self.standin.record_violation(f"{label} ack: {violation}")

    # ------------------------------------------------------------------ slash commands

    def slash_command(
        self,
        text: str,
        *,
        user_id: str,
        channel_id: str = "C0TEAM",
        command: str = "/okr",
        channel_name: str | None = None,
        user_name: str | None = None,
        sign: bool = True,
        timestamp: str | int | None = None,
        tamper: Tamper | None = None,
    ) -> httpx.Response:
        """``/okr text`` typed by ``user_id`` in ``channel_id`` (form-encoded, like Slack)."""
        ws = self.standin.workspace(self.team_id)
        fields = {
            "token": self.verification_token,
            "team_id": ws.team_id,
            "team_domain": ws.domain,
            "channel_id": channel_id,
            "channel_name": channel_name or self.standin.channel_name(ws.team_id, channel_id),
            "user_id": user_id,
            "user_name": user_name or self._user(user_id)["name"],
            "command": command,
            "text": text,
            "api_app_id": ws.app_id,
            "is_enterprise_install": "false",
            "response_url": self._response_url(channel_id=channel_id, user_id=user_id),
            "trigger_id": self._trigger(user_id),
        }
        label = f"{command} {text}".strip()
        response = self.post(
            urlencode(fields),
            "application/x-www-form-urlencoded",
            label=label,
            sign=sign,
            timestamp=timestamp,
            tamper=tamper,
        )
        self._check_ack_message(label, response)
        return response

    # ------------------------------------------------------------------ interactions

    def block_action(
        self,
        *,
        user_id: str,
        action_id: str,
        value: str | None = None,
        block_id: str | None = None,
        selected_option: Any = None,
        selected_options: list[Any] | None = None,
        selected_user: str | None = None,
        selected_date: str | None = None,
        view: Mapping[str, Any] | str | None = None,
        container: dict[str, Any] | None = None,
        message: Mapping[str, Any] | None = None,
        channel_id: str | None = None,
        values: Mapping[str, Mapping[str, Any]] | None = None,
        sign: bool = True,
        timestamp: str | int | None = None,
        tamper: Tamper | None = None,
    ) -> httpx.Response:
        """A click/selection on an element of a message or a view (modal or Home tab).

        ``message`` is a message as the stand-in stored it (e.g. ``standin.messages(ch)[-1]``
        or the ``message`` of a chat.postMessage response); ``view`` a view object or id.
        """
        payload: dict[str, Any] = {"type": "block_actions", **self._common(user_id)}
        if view is not None:
            view_obj = self._resolve_view(view)
            blocks = view_obj.get("blocks")
            view_obj["state"] = {"values": state_values(blocks, values)}
            payload["container"] = container or {
                "type": "view",
                "view_id": view_obj.get("id"),
            }
            payload["trigger_id"] = self._trigger(user_id, view_obj.get("id"))
            payload["view"] = view_obj
            label = f"block_actions {action_id} in view {view_obj.get('callback_id')!r}"
        elif message is not None:
            ts = str(message.get("ts"))
            if channel_id is None:
                found = self.standin.find_message(ts)
                if found is None:
                    raise ValueError(f"message {ts} unknown to the stand-in: pass channel_id")
                channel_id = found[0]
            blocks = fill_ids(message.get("blocks"))
            payload["container"] = container or {
                "type": "message",
                "message_ts": ts,
                "channel_id": channel_id,
                "is_ephemeral": False,
            }
            payload["trigger_id"] = self._trigger(user_id)
            payload["channel"] = {
                "id": channel_id,
                "name": self.standin.channel_name(self.team_id, channel_id),
            }
            payload["message"] = dict(message)
            if blocks is not None:
                payload["message"]["blocks"] = blocks
            payload["state"] = {"values": state_values(blocks, values, fill_inputs=False)}
            payload["response_url"] = self._response_url(
                channel_id=channel_id, message_ts=ts, user_id=user_id
            )
            label = f"block_actions {action_id} in message {ts}"
        else:
            raise ValueError("block_action needs the message or the view that was clicked")
        found_block_id, element = find_element(blocks, action_id, block_id)
        action = self._action(
            element,
            found_block_id,
            value=value,
            selected_option=selected_option,
            selected_options=selected_options,
            selected_user=selected_user,
            selected_date=selected_date,
        )
        payload["actions"] = [action]
        response = self._post_payload(
            payload, label=label, sign=sign, timestamp=timestamp, tamper=tamper
        )
        self._check_ack_message(label, response)
        return response

    def _action(
        self,
        element: Mapping[str, Any],
        block_id: str,
        *,
        value: str | None,
        selected_option: Any,
        selected_options: list[Any] | None,
        selected_user: str | None,
        selected_date: str | None,
    ) -> dict[str, Any]:
        etype = str(element.get("type"))
        action: dict[str, Any] = {
            "type": etype,
            "action_id": element.get("action_id"),
            "block_id": block_id,
            "action_ts": self._action_ts(),
        }
        if etype in ("button", "workflow_button"):
            if value is not None and value != element.get("value"):
                raise ValueError(
                    f"button {element.get('action_id')!r} carries value "
                    f"{element.get('value')!r}, not {value!r}"
                )
            action["text"] = element.get("text")
            if "value" in element:
                action["value"] = element["value"]
            if "style" in element:
                action["style"] = element["style"]
            return action
        key = _STATE_KEYS.get(etype, ("value", None))[0]
        chosen: Any = {
            "selected_option": selected_option,
            "selected_options": selected_options,
            "selected_user": selected_user,
            "selected_date": selected_date,
        }.get(key, value)
        if chosen is None:
            chosen = value
        action.update({k: v for k, v in element_state(element, chosen).items() if k != "type"})
        if "placeholder" in element:
            action["placeholder"] = element["placeholder"]
        return action

    def _action_ts(self) -> str:
        return f"{int(self.clock())}.{next(self._seq):06d}"

    def view_submission(
        self,
        view: Mapping[str, Any] | str,
        *,
        user_id: str,
        values: Mapping[str, Mapping[str, Any]] | None = None,
        sign: bool = True,
        timestamp: str | int | None = None,
        tamper: Tamper | None = None,
        trigger_id: str | None = None,
    ) -> httpx.Response:
        """The user presses Submit on ``view`` (object or id) with ``values`` filled in.

        The app's answer is checked (response_action) and applied to the stand-in's view
        stack: empty closes the view, ``update``/``push``/``clear`` do what Slack does.
        ``trigger_id`` reuses an issued trigger, so two calls send the very same payload
        (a double submission); by default each submission gets a fresh one.
        """
        view_obj = self._resolve_view(view)
        view_obj["state"] = {"values": state_values(view_obj.get("blocks"), values)}
        payload = {
            "type": "view_submission",
            **self._common(user_id),
            "trigger_id": trigger_id or self._trigger(user_id, view_obj.get("id")),
            "view": view_obj,
            "response_urls": [],
        }
        label = f"view_submission {view_obj.get('callback_id')!r}"
        response = self._post_payload(
            payload, label=label, sign=sign, timestamp=timestamp, tamper=tamper
        )
        if response.status_code == 200:
            answer: dict[str, Any] = {}
            if response.text.strip():
                try:
                    parsed = response.json()
                except ValueError:
                    parsed = None
                if isinstance(parsed, dict):
                    answer = parsed
                else:
                    self.standin.record_violation(
                        f"{label}: answer is not a JSON object: {response.text[:200]!r}"
                    )
            for violation in validate_submission_response(answer, view_obj):
                self.standin.record_violation(f"{label} answer: {violation}")
            if view_obj.get("id"):
                for problem in self.standin.apply_view_response(str(view_obj["id"]), answer):
                    self.standin.record_violation(f"{label}: {problem}")
        return response

    def view_closed(
        self,
        view: Mapping[str, Any] | str,
        *,
        user_id: str,
        is_cleared: bool = False,
        sign: bool = True,
        timestamp: str | int | None = None,
        tamper: Tamper | None = None,
    ) -> httpx.Response:
        """The user closes a modal; Slack only tells apps that asked (notify_on_close)."""
        view_obj = self._resolve_view(view)
        if not view_obj.get("notify_on_close"):
            raise ValueError("Slack sends view_closed only for views with notify_on_close=true")
        if view_obj.get("id"):
            self.standin.close_view(str(view_obj["id"]), clear=is_cleared)
        payload = {
            "type": "view_closed",
            **self._common(user_id),
            "view": view_obj,
            "is_cleared": is_cleared,
        }
        label = f"view_closed {view_obj.get('callback_id')!r}"
        return self._post_payload(
            payload, label=label, sign=sign, timestamp=timestamp, tamper=tamper
        )

    def block_suggestion(
        self,
        *,
        user_id: str,
        action_id: str,
        block_id: str,
        value: str,
        view: Mapping[str, Any] | str,
        sign: bool = True,
        timestamp: str | int | None = None,
        tamper: Tamper | None = None,
    ) -> httpx.Response:
        """The user types ``value`` into an external_select: an options request."""
        view_obj = self._resolve_view(view)
        _, element = find_element(view_obj.get("blocks"), action_id, block_id)
        if element.get("type") not in ("external_select", "multi_external_select"):
            raise ValueError(f"{action_id!r} is a {element.get('type')}, not an external select")
        payload = {
            "type": "block_suggestion",
            **self._common(user_id),
            "container": {"type": "view", "view_id": view_obj.get("id")},
            "action_id": action_id,
            "block_id": block_id,
            "value": value,
            "view": view_obj,
        }
        label = f"block_suggestion {action_id} {value!r}"
        response = self._post_payload(
            payload, label=label, sign=sign, timestamp=timestamp, tamper=tamper
        )
        if response.status_code == 200:
            try:
                answer = response.json()
            except ValueError:
                answer = None
            if not isinstance(answer, dict):
                self.standin.record_violation(f"{label}: answer is not a JSON options object")
            else:
                for violation in validate_options_response(answer):
                    self.standin.record_violation(f"{label} answer: {violation}")
        return response

    # ------------------------------------------------------------------ Events API

    def event(
        self,
        event: Mapping[str, Any],
        *,
        event_id: str | None = None,
        event_time: int | None = None,
        retry_num: int | None = None,
        retry_reason: str | None = None,
        sign: bool = True,
        timestamp: str | int | None = None,
        tamper: Tamper | None = None,
    ) -> httpx.Response:
        """Deliver ``event`` in an event_callback envelope (pass the same event_id + retry_num
        to simulate Slack's retries)."""
        ws = self.standin.workspace(self.team_id)
        now = int(self.clock())
        inner = dict(event)
        inner.setdefault("event_ts", f"{now}.{next(self._seq):06d}")
        event_id = event_id or f"Ev{next(self._seq):010d}"
        self.last_event_id = event_id
        envelope = {
            "token": self.verification_token,
            "team_id": ws.team_id,
            "context_team_id": ws.team_id,
            "context_enterprise_id": None,
            "api_app_id": ws.app_id,
            "event": inner,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": event_time if event_time is not None else now,
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": ws.team_id,
                    "user_id": ws.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": f"4-{hashlib.sha1(event_id.encode()).hexdigest()[:24]}",
        }
        headers: dict[str, str] = {}
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
        if retry_reason is not None:
            headers["X-Slack-Retry-Reason"] = retry_reason
        return self.post(
            json.dumps(envelope),
            "application/json",
            label=f"event {inner.get('type')} {event_id}",
            headers=headers,
            sign=sign,
            timestamp=timestamp,
            tamper=tamper,
        )

    def app_home_opened(self, *, user_id: str, tab: str = "home", **opts: Any) -> httpx.Response:
        """The user opens the app's Home tab (with the view published so far, if any)."""
        event: dict[str, Any] = {
            "type": "app_home_opened",
            "user": user_id,
            "channel": dm_channel_id(user_id),
            "tab": tab,
        }
        home = self.standin.home_view(self.team_id, user_id)
        if home is not None:
            event["view"] = home
        return self.event(event, **opts)

    def url_verification(
        self,
        challenge: str,
        *,
        sign: bool = True,
        timestamp: str | int | None = None,
        tamper: Tamper | None = None,
    ) -> httpx.Response:
        body = {
            "token": self.verification_token,
            "challenge": challenge,
            "type": "url_verification",
        }
        return self.post(
            json.dumps(body),
            "application/json",
            label="url_verification",
            sign=sign,
            timestamp=timestamp,
            tamper=tamper,
        )
