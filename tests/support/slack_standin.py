"""A loopback stand-in for Slack's Web API, owned by the tests (and reused by benchmarks).

The app under test gets ``standin.api_url`` as ``SLACK_API_URL`` (its WebClient ``base_url``)
and talks real HTTP to this server. The stand-in answers with Slack's documented response
shapes, refuses what Slack refuses (Block Kit limits, trigger_id lifetime, view stack depth,
response_url budget, auth), records every call, and can inject faults, 429s, latency and
token-bucket rate ceilings.

Usage from a pytest fixture::

    @pytest.fixture
    def slack():
        with SlackStandIn() as standin:
            standin.add_workspace("T0LADDER", bot_token="xoxb-test")
            standin.add_user("T0LADDER", "U0ALICE", email="alice@example.com")
            yield standin
            assert standin.violations == []

Notes on fidelity (where Slack is ambiguous or unknowable offline, the choice is written
down here rather than guessed silently):

- Error codes follow the Web API method reference: a reused trigger_id answers
  ``exchanged_trigger_id`` (the interactivity guide calls it ``trigger_exchanged``; app code
  should treat both alike), an expired one ``expired_trigger_id``.
- A missing token answers ``not_authed`` and an unknown one ``invalid_auth``, as Slack does.
  A token inside a JSON body is ignored (Slack requires the Authorization header for JSON).
- Posting to a user id (``U…``) opens that user's DM channel ``D…`` (``dm_channel_id``);
  chat.update/chat.delete need the ``D…`` id, like Slack.
- ``C…``/``G…`` channels are accepted unless registered with ``add_channel`` as archived or
  without the bot as member (or ``strict_channels=True``).
- views.push needs a trigger issued from an open modal (``issue_trigger_id(view_id=…)``) or,
  failing that, the user's open modal stack; otherwise ``invalid_arguments``.
- response_url: pseudo-method ``response_url`` in the records; ``used_url`` after 5 posts,
  ``expired_url`` after 30 minutes, ``invalid_blocks``/``no_text`` like chat.postMessage.
- File uploads: the upload URL is recorded as pseudo-method ``upload``; files.getUploadURLExternal
  needs a filename and a positive length, the upload must be exactly that many bytes, and
  files.completeUploadExternal refuses a file whose bytes never arrived.
- Image blocks (and image elements) referencing ``slack_file: {"id": …}`` are checked on every
  message, view and response_url post: a file unknown to the workspace, not completed, or not
  a png/jpg/jpeg/gif is refused ``invalid_blocks`` with "invalid slack file
  [json-pointer:…/slack_file]", as Slack answers (python-slack-sdk issues #1521, #1658), and
  recorded as a violation. Slack also refuses a *fresh* upload for a moment (#1521: "if I
  wait for about 1 sec … it works"): ``file_ready_after = n`` makes each completed file be
  refused that way n times before it can be referenced (no violation: a client must retry).
- Slack fills missing ``block_id``/``action_id`` in stored messages and views; so do we,
  deterministically (a short hash of the block).
- users.list pages through the calling workspace's users (registration order; Slack promises
  no order) with ``limit`` (default 0 = everything, capped at 1000) and a ``cursor`` that
  decodes to ``user:<id>`` like Slack's; a cursor we did not issue answers ``invalid_cursor``.
  Deactivated users are listed, without timezone or role fields (as in users.info).
- Message ``metadata`` must be ``{"event_type": <non-empty string>, "event_payload": {...}}``
  or chat.postMessage/chat.update answer ``invalid_metadata_format``. On chat.update an
  omitted ``metadata`` keeps the old one and ``{}`` removes it, per the method reference.
- conversations.history knows DM channels (opened by posting to a user id or by
  conversations.open), channels registered with ``add_channel`` (archived ones stay
  readable; without the bot as member: ``not_in_channel``) and channels this workspace has
  posted to; anything else is ``channel_not_found``. Newest first, ``limit`` default 100 and
  capped at 999, thread replies left out (parents carry ``reply_count`` etc.), ``metadata``
  only with ``include_all_metadata=true``. Its cursor decodes to ``next_ts:<ts>``.
  (Since 2025 Slack caps this method at 1 call/min and ``limit`` 15 for commercially
  distributed non-Marketplace apps; the stand-in models the Tier 3 that internal apps get.)
- users.list and conversations.history do not accept JSON bodies: Slack ignores such a
  body, so the stand-in drops its arguments and records a violation.
- OAuth (``set_oauth_app``): ``authorize(team_id, user_id)`` plays the person approving the
  install in the browser and returns the code Slack would put on the redirect; oauth.v2.access
  takes client_id/client_secret by HTTP Basic auth (as slack_sdk sends them) or as form fields,
  exchanges a code once within 10 minutes (``redirect_uri`` must repeat the authorize one, if
  that had one) and issues a new bot token per install. With token rotation it issues
  ``xoxe.xoxb-`` tokens with ``expires_in`` and a ``refresh_token``; a refresh token works once
  (the guide: "The refresh token is then revoked"), and the old access token keeps working
  until it expires. Expired tokens answer ``token_expired``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import hashlib
import itertools
import json
import math
import mimetypes
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

from .blockkit import MESSAGE_TEXT_MAX, VIEW_MAX_BYTES, validate_message, validate_view

Clock = Callable[[], float]
Handler = Callable[[str, dict[str, Any]], dict[str, Any]]

TRIGGER_TTL_SECONDS = 3.0
OAUTH_CODE_TTL_SECONDS = 10 * 60
TOKEN_LIFETIME_SECONDS = 12 * 60 * 60  # rotating tokens expire after 12 hours
VIEW_STACK_MAX = 3
RESPONSE_URL_MAX_POSTS = 5
RESPONSE_URL_TTL_SECONDS = 30 * 60
DEFAULT_APP_ID = "A0LADDER"
DEFAULT_SCOPES = "commands,chat:write,im:write,users:read,users:read.email,team:read,files:write"
# Rate tiers in calls per second (Slack publishes them per minute).
TIERS: dict[int, float] = {1: 1 / 60, 2: 20 / 60, 3: 50 / 60, 4: 100 / 60}
SLACK_TIERS: dict[str, int] = {
    "users.list": 2,
    "chat.update": 3,
    "chat.delete": 3,
    "conversations.open": 3,
    "conversations.history": 3,
    "users.lookupByEmail": 3,
    "team.info": 3,
    "chat.postEphemeral": 4,
    "views.open": 4,
    "views.push": 4,
    "views.update": 4,
    "views.publish": 4,
    "users.info": 4,
    "files.getUploadURLExternal": 4,
    "files.completeUploadExternal": 4,
}

_BASE_TS = 1_700_000_000
# Fields slack_sdk JSON-encodes into a string when it sends a form body.
_JSON_FIELDS = frozenset({"blocks", "attachments", "view", "files", "metadata", "user_auth_blocks"})
_EMPTY_DICT: dict[str, Any] = {}
_SUMMARY_KEYS = ("channel", "user", "user_id", "users", "email", "view_id", "ts", "text")
# Methods whose reference says "does not currently accept application/json".
_FORM_ONLY = frozenset({"users.list", "conversations.history"})
USERS_LIST_MAX_LIMIT = 1000
HISTORY_DEFAULT_LIMIT = 100
HISTORY_MAX_LIMIT = 999


# ----------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class RecordedCall:
    """One request the stand-in answered (API method, or ``response_url``/``upload``)."""

    method: str
    args: dict[str, Any]
    team_id: str | None
    response: dict[str, Any]
    status: int
    at: float
    token: str | None = None  # the access token the call carried (None: none, or not an API call)

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.response.get("ok") is True

    @property
    def error(self) -> str | None:
        return self.response.get("error")


@dataclass(frozen=True, slots=True)
class ResponsePost:
    """One accepted POST to a response_url."""

    url: str
    team_id: str
    body: dict[str, Any]
    response_type: str | None
    text: str | None
    blocks: list[dict[str, Any]] | None
    replace_original: bool
    delete_original: bool
    at: float


@dataclass(slots=True)
class UploadedFile:
    file_id: str
    team_id: str
    filename: str
    length: int
    alt_txt: str | None = None
    content: bytes | None = None
    title: str | None = None
    completed: bool = False
    not_ready_refusals: int = 0  # references refused before the file can be shown
    channel_id: str | None = None
    initial_comment: str | None = None
    thread_ts: str | None = None


@dataclass(slots=True)
class Workspace:
    team_id: str
    team_name: str
    domain: str
    bot_token: str
    bot_user_id: str
    bot_id: str
    app_id: str
    scopes: str


@dataclass(slots=True)
class _Trigger:
    team_id: str
    user_id: str | None
    view_id: str | None
    issued_at: float
    used: bool = False


@dataclass(slots=True)
class _ResponseUrl:
    url: str
    team_id: str
    channel_id: str | None
    message_ts: str | None
    user_id: str | None
    created_at: float
    posts: int = 0


@dataclass(slots=True)
class _Channel:
    name: str
    is_member: bool
    is_archived: bool


@dataclass(slots=True)
class _Fault:
    status: int
    error: str
    remaining: int
    retry_after: int | None = None


@dataclass(slots=True)
class _Ceiling:
    per_second: float | None
    burst: float
    per_channel_per_second: float | None
    channel_burst: float


@dataclass(slots=True)
class _Bucket:
    rate: float
    capacity: float
    tokens: float
    stamp: float

    def refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now


@dataclass(slots=True)
class _ViewRecord:
    team_id: str
    user_id: str | None
    obj: dict[str, Any]
    is_open: bool = True
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class _OAuthApp:
    client_id: str
    client_secret: str
    token_rotation: bool
    token_lifetime: float


@dataclass(slots=True)
class _OAuthCode:
    team_id: str
    user_id: str
    scopes: str
    redirect_uri: str | None
    issued_at: float


class _Refusal(Exception):
    """Raised inside a method handler to answer ``{"ok": false, "error": ...}``."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.body: dict[str, Any] = {"ok": False, "error": error, **extra}


# ------------------------------------------------------------------------------ helpers


def dm_channel_id(user_id: str) -> str:
    """The stand-in's deterministic DM channel id for a user (``U0ALICE`` -> ``D0ALICE``)."""
    return "D" + user_id[1:]


def _short_id(seed: str, n: int = 5) -> str:
    return hashlib.sha1(seed.encode()).hexdigest()[:n].upper()


def fill_ids(blocks: Any) -> Any:
    """A copy of ``blocks`` with block_id/action_id filled where missing, as Slack does."""
    if not isinstance(blocks, list):
        return blocks
    out = json.loads(json.dumps(blocks))
    for i, block in enumerate(out):
        if not isinstance(block, dict):
            continue
        if "block_id" not in block and block.get("type") != "markdown":
            block["block_id"] = _short_id(f"{i}:{json.dumps(block, sort_keys=True)}")
        for j, element in enumerate(_interactive_elements(block)):
            if "action_id" not in element:
                element["action_id"] = _short_id(f"{block.get('block_id')}:{j}:{element}")
    return out


def _interactive_elements(block: Mapping[str, Any]) -> list[dict[str, Any]]:
    btype = block.get("type")
    if btype == "section" and isinstance(block.get("accessory"), dict):
        acc = block["accessory"]
        return [] if acc.get("type") == "image" else [acc]
    if btype in ("actions", "context_actions") and isinstance(block.get("elements"), list):
        return [e for e in block["elements"] if isinstance(e, dict)]
    if btype == "input" and isinstance(block.get("element"), dict):
        return [block["element"]]
    return []


_IMAGE_TYPES = frozenset({"png", "jpg", "jpeg", "gif"})


def _slack_file_refs(blocks: list[Any], path: str) -> list[tuple[str, dict[str, Any]]]:
    """(json path, slack_file object) of every image block and image element in `blocks`."""
    found: list[tuple[str, dict[str, Any]]] = []
    for i, block in enumerate(blocks):
        if not isinstance(block, dict):
            continue
        here = f"{path}.{i}"
        if isinstance(block.get("slack_file"), dict):
            found.append((f"{here}.slack_file", block["slack_file"]))
        accessory = block.get("accessory")
        if isinstance(accessory, dict) and isinstance(accessory.get("slack_file"), dict):
            found.append((f"{here}.accessory.slack_file", accessory["slack_file"]))
        for j, element in enumerate(block.get("elements") or []):
            if isinstance(element, dict) and isinstance(element.get("slack_file"), dict):
                found.append((f"{here}.elements.{j}.slack_file", element["slack_file"]))
    return found


def _flag(value: Any) -> bool:
    return value is True or value in ("true", "1", 1)


def _encode_cursor(kind: str, value: str) -> str:
    return base64.b64encode(f"{kind}:{value}".encode()).decode()


def _decode_cursor(cursor: Any, kind: str) -> str | None:
    """The value inside a cursor we issued for ``kind``; None when there is no cursor.

    Raises ``invalid_cursor`` for anything else, as Slack does.
    """
    if cursor is None or cursor == "":
        return None
    try:
        text = base64.b64decode(str(cursor), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise _Refusal("invalid_cursor") from exc
    prefix = f"{kind}:"
    if not text.startswith(prefix) or len(text) == len(prefix):
        raise _Refusal("invalid_cursor")
    return text[len(prefix) :]


def _parse_ts(value: Any, error: str) -> Decimal | None:
    """A message timestamp as a Decimal (exact, unlike float); None when absent."""
    if value is None or value == "":
        return None
    try:
        ts = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise _Refusal(error) from exc
    if not ts.is_finite() or ts < 0:
        raise _Refusal(error)
    return ts


def _parse_limit(value: Any, *, default: int, maximum: int) -> int:
    """``limit`` as Slack reads it: absent or 0 -> ``default``, above ``maximum`` -> capped."""
    if value is None or value == "":
        return default
    try:
        limit = int(str(value).strip())
    except ValueError:
        limit = -1
    if limit < 0:
        raise _refuse_invalid_arguments([f"limit: must be a non-negative integer, not {value!r}"])
    return min(limit or default, maximum)


def _check_metadata(value: Any) -> dict[str, Any] | None:
    """Message metadata as Slack stores it, or None when not given; refuses bad shapes."""
    if value is None or value == "":
        return None
    if not isinstance(value, dict):
        raise _Refusal("invalid_metadata_format")
    event_type, payload = value.get("event_type"), value.get("event_payload")
    if not isinstance(event_type, str) or not event_type or not isinstance(payload, dict):
        raise _Refusal("invalid_metadata_format")
    return {"event_type": event_type, "event_payload": copy.deepcopy(payload)}


def _refuse_invalid_arguments(messages: Iterable[str]) -> _Refusal:
    return _Refusal(
        "invalid_arguments", response_metadata={"messages": [f"[ERROR] {m}" for m in messages]}
    )


# ------------------------------------------------------------------------------- server


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024  # benchmarks open many connections at once
    standin: SlackStandIn


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive for pooled clients (httpx); urllib closes anyway
    # Headers and body go out in two writes; with Nagle on, keep-alive clients stall ~40 ms
    # per call on delayed ACKs.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def do_POST(self) -> None:
        self._dispatch()

    def do_GET(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if len(raw) < length:
            # The client died mid-body (a kill -9 in the fault tests). Slack never acts on a
            # request it did not receive whole: record nothing, answer nothing.
            self.close_connection = True
            return
        split = urlsplit(self.path)
        standin = self.server.standin
        try:
            status, body, headers = standin._handle_http(
                split.path, split.query, self.headers.get("Content-Type"), self.headers, raw
            )
        except Exception as exc:  # a stand-in bug must fail the test, not hang the client
            standin.record_violation(f"stand-in crashed on {split.path}: {exc!r}")
            status, body, headers = 500, {"ok": False, "error": "standin_crashed"}, {}
        if isinstance(body, bytes):
            payload, ctype = body, "text/plain; charset=utf-8"
        else:
            payload, ctype = json.dumps(body).encode(), "application/json; charset=utf-8"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


class SlackStandIn:
    """Loopback HTTP server impersonating slack.com/api for one or more workspaces."""

    def __init__(
        self,
        *,
        clock: Clock = time.monotonic,
        validate: bool = True,
        strict_channels: bool = False,
        latency: float = 0.0,
    ) -> None:
        self.clock = clock
        self.validate = validate  # benchmarks may turn Block Kit validation off
        self.strict_channels = strict_channels
        self.latency = latency  # seconds added to every request (see set_latency)
        self.violations: list[str] = []
        self.ratelimited: Counter[str] = Counter()  # 429s answered, per method

        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._calls: list[RecordedCall] = []
        self._responses: list[ResponsePost] = []
        self._workspaces: dict[str, Workspace] = {}
        self._tokens: dict[str, str] = {}
        self._revoked: dict[str, str] = {}
        self._users: dict[str, dict[str, Any]] = {}
        self._channels: dict[tuple[str, str], _Channel] = {}
        self._dm_owner: dict[str, str] = {}
        self._messages: dict[str, dict[str, dict[str, Any]]] = {}
        self._ts_channel: dict[str, str] = {}
        self._known_channels: set[tuple[str, str]] = set()  # (team, channel) posted to
        self._ephemerals: list[dict[str, Any]] = []
        self._triggers: dict[str, _Trigger] = {}
        self._views: dict[str, _ViewRecord] = {}
        self._stacks: dict[tuple[str, str | None], list[str]] = {}
        self._homes: dict[tuple[str, str], str] = {}
        self._external_ids: dict[tuple[str, str], str] = {}
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._files: dict[str, UploadedFile] = {}
        self.file_ready_after = 0  # references refused per fresh upload (see the docstring)
        self._faults: dict[str, deque[_Fault]] = {}
        self._method_latency: dict[str, float] = {}
        self._ceilings: dict[str, _Ceiling] = {}
        self._buckets: dict[tuple[str, ...], _Bucket] = {}
        self._custom: dict[str, Handler] = {}
        self._ts_seq = itertools.count(1)
        self._id_seq = itertools.count(1)  # triggers and response_urls
        self._id_seqs: dict[str, itertools.count[int]] = {}  # V…, F… ids
        self._hash_seq = itertools.count(1)
        self._oauth_app: _OAuthApp | None = None
        self._oauth_codes: dict[str, _OAuthCode] = {}
        self._refresh_tokens: dict[str, str] = {}  # refresh token -> team, until used
        self._token_expiry: dict[str, float] = {}  # access token -> stand-in clock time
        self._oauth_seq = itertools.count(1)
        self._handlers: dict[str, Callable[[Workspace, dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "team.info": self._team_info,
            "users.info": self._users_info,
            "users.lookupByEmail": self._users_lookup_by_email,
            "users.list": self._users_list,
            "conversations.open": self._conversations_open,
            "conversations.history": self._conversations_history,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
        }

        self._server = _Server(("127.0.0.1", 0), _RequestHandler)
        self._server.standin = self
        self.port: int = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.api_url = f"{self.base_url}/api/"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"slack-standin-{self.port}",
            daemon=True,
        )
        self._thread.start()

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> SlackStandIn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving (idempotent); pending latency waits are cut short."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # ------------------------------------------------------------------ workspace setup

    def add_workspace(
        self,
        team_id: str,
        *,
        bot_token: str,
        team_name: str | None = None,
        domain: str | None = None,
        bot_user_id: str | None = None,
        bot_id: str | None = None,
        app_id: str = DEFAULT_APP_ID,
        bot_name: str = "ladder",
        scopes: str = DEFAULT_SCOPES,
    ) -> Workspace:
        """Register a workspace with its bot token (the bot user is registered too)."""
        name = team_name or f"Team {team_id}"
        ws = Workspace(
            team_id=team_id,
            team_name=name,
            domain=domain or "".join(c for c in name.lower() if c.isalnum()) or "team",
            bot_token=bot_token,
            bot_user_id=bot_user_id or f"U0BOT{team_id[1:]}",
            bot_id=bot_id or f"B0BOT{team_id[1:]}",
            app_id=app_id,
            scopes=scopes,
        )
        with self._lock:
            self._workspaces[team_id] = ws
            self._tokens[bot_token] = team_id
        self.add_user(team_id, ws.bot_user_id, name=bot_name, is_bot=True, tz="America/Los_Angeles")
        return ws

    def workspace(self, team_id: str) -> Workspace:
        return self._workspaces[team_id]

    def add_token(self, team_id: str, token: str) -> None:
        """Another valid token for a workspace (e.g. a rotated one)."""
        with self._lock:
            self._tokens[token] = team_id

    def revoke(
        self, token: str, *, error: Literal["token_revoked", "account_inactive"] = "token_revoked"
    ) -> None:
        """From now on calls with ``token`` answer ``error`` (uninstall / deactivated bot)."""
        with self._lock:
            self._revoked[token] = error

    def add_user(
        self,
        team_id: str,
        user_id: str,
        *,
        name: str | None = None,
        real_name: str | None = None,
        email: str | None = None,
        tz: str = "America/New_York",
        tz_offset: int | None = None,
        tz_label: str | None = None,
        is_admin: bool = False,
        is_owner: bool = False,
        is_primary_owner: bool = False,
        deleted: bool = False,
        is_bot: bool = False,
        is_restricted: bool = False,
        locale: str = "en-US",
    ) -> dict[str, Any]:
        """Register a user; returns the users.info ``user`` object."""
        handle = name or user_id.lower()
        real = real_name or handle.title()
        if tz_offset is None or tz_label is None:
            now = datetime.now(ZoneInfo(tz))
            offset = now.utcoffset()
            tz_offset = (
                tz_offset if tz_offset is not None else int(offset.total_seconds() if offset else 0)
            )
            tz_label = tz_label or (now.tzname() or tz)
        profile: dict[str, Any] = {
            "real_name": real,
            "real_name_normalized": real,
            "display_name": handle,
            "display_name_normalized": handle,
            "team": team_id,
            "status_text": "",
            "status_emoji": "",
            "image_72": f"https://avatars.example.invalid/{user_id}_72.png",
        }
        if email is not None:
            profile["email"] = email
        if is_bot:
            profile["bot_id"] = f"B0BOT{team_id[1:]}"
        user: dict[str, Any] = {
            "id": user_id,
            "team_id": team_id,
            "name": handle,
            "deleted": deleted,
            "color": "9f69e7",
            "real_name": real,
            "tz": tz,
            "tz_label": tz_label,
            "tz_offset": tz_offset,
            "profile": profile,
            "is_admin": is_admin,
            "is_owner": is_owner,
            "is_primary_owner": is_primary_owner,
            "is_restricted": is_restricted,
            "is_ultra_restricted": False,
            "is_bot": is_bot,
            "is_app_user": False,
            "updated": _BASE_TS,
            "locale": locale,
        }
        with self._lock:
            self._users[user_id] = user
        return copy.deepcopy(user)

    def set_user(self, user_id: str, **fields: Any) -> None:
        """Change top-level users.info fields later, e.g. ``set_user(uid, deleted=True)``."""
        with self._lock:
            self._users[user_id].update(fields)

    def user(self, user_id: str) -> dict[str, Any] | None:
        with self._lock:
            u = self._users.get(user_id)
            return copy.deepcopy(u) if u else None

    def add_channel(
        self,
        team_id: str,
        channel_id: str,
        *,
        name: str | None = None,
        is_member: bool = True,
        is_archived: bool = False,
    ) -> None:
        with self._lock:
            self._channels[(team_id, channel_id)] = _Channel(
                name or channel_id.lower(), is_member, is_archived
            )

    def channel_name(self, team_id: str, channel_id: str) -> str:
        """The name Slack would send in payloads for this channel."""
        if channel_id.startswith("D"):
            return "directmessage"
        ch = self._channels.get((team_id, channel_id))
        return ch.name if ch else channel_id.lower()

    def set_handler(self, method: str, handler: Handler) -> None:
        """Answer ``method`` with ``handler(team_id, args) -> response`` (after auth)."""
        with self._lock:
            self._custom[method] = handler

    # ------------------------------------------------------------------ OAuth installs

    def set_oauth_app(
        self,
        client_id: str,
        client_secret: str,
        *,
        token_rotation: bool = False,
        token_lifetime: float = TOKEN_LIFETIME_SECONDS,
    ) -> None:
        """The app's credentials for oauth.v2.access (and whether its tokens rotate)."""
        with self._lock:
            self._oauth_app = _OAuthApp(client_id, client_secret, token_rotation, token_lifetime)

    def authorize(
        self,
        team_id: str,
        user_id: str,
        *,
        scopes: str | None = None,
        redirect_uri: str | None = None,
    ) -> str:
        """``user_id`` approves the install in ``team_id``: the ``code`` for the redirect.

        ``scopes`` (comma-separated, as in the authorize URL) become the bot's scopes;
        ``redirect_uri`` is the one the authorize URL carried, if any.
        """
        with self._lock:
            ws = self._workspaces[team_id]
            if self._team_user(ws, user_id) is None:
                raise ValueError(f"{user_id} is not a member of {team_id}")
            n = next(self._oauth_seq)
            code = f"{n}.{team_id[1:].lower()}.{_short_id(f'code{team_id}{n}', 16).lower()}"
            self._oauth_codes[code] = _OAuthCode(
                team_id, user_id, scopes or ws.scopes, redirect_uri, self.clock()
            )
        return code

    def expire_token(self, token: str) -> None:
        """``token`` has reached its expiry: calls with it answer ``token_expired``."""
        with self._lock:
            self._token_expiry[token] = self.clock() - 1.0

    def uninstall(self, team_id: str) -> None:
        """The app is removed from ``team_id``: its tokens answer ``token_revoked``."""
        with self._lock:
            for token, team in self._tokens.items():
                if team == team_id:
                    self._revoked[token] = "token_revoked"
            self._refresh_tokens = {
                r: team for r, team in self._refresh_tokens.items() if team != team_id
            }

    def _oauth_v2_access(
        self, args: dict[str, Any], headers: Mapping[str, str]
    ) -> tuple[dict[str, Any], str | None]:
        """oauth.v2.access: (answer, team) for a code exchange or a token refresh."""
        app = self._oauth_app
        client_id, client_secret = args.get("client_id"), args.get("client_secret")
        auth = headers.get("Authorization") or ""
        if auth.startswith("Basic "):
            with contextlib.suppress(binascii.Error, UnicodeDecodeError, ValueError):
                client_id, _, client_secret = (
                    base64.b64decode(auth[6:].strip(), validate=True).decode().partition(":")
                )
        if app is None or client_id != app.client_id:
            return {"ok": False, "error": "invalid_client_id"}, None
        if client_secret != app.client_secret:
            return {"ok": False, "error": "bad_client_secret"}, None
        grant = args.get("grant_type") or "authorization_code"
        if grant == "refresh_token":
            team_id = self._refresh_tokens.pop(str(args.get("refresh_token")), None)
            if team_id is None:
                return {"ok": False, "error": "invalid_refresh_token"}, None
            return self._issue_bot_token(self._workspaces[team_id], app), team_id
        if grant != "authorization_code":
            return {"ok": False, "error": "invalid_grant_type"}, None
        code = self._oauth_codes.pop(str(args.get("code")), None)
        if code is None or self.clock() - code.issued_at > OAUTH_CODE_TTL_SECONDS:
            return {"ok": False, "error": "invalid_code"}, None
        if code.redirect_uri is not None and args.get("redirect_uri") != code.redirect_uri:
            return {"ok": False, "error": "bad_redirect_uri"}, code.team_id
        ws = self._workspaces[code.team_id]
        ws.scopes = code.scopes
        body = self._issue_bot_token(ws, app)
        body["authed_user"] = {"id": code.user_id}
        return body, ws.team_id

    def _issue_bot_token(self, ws: Workspace, app: _OAuthApp) -> dict[str, Any]:
        n = next(self._oauth_seq)
        token = f"xoxb-{ws.team_id[1:].lower()}-{n}"
        body: dict[str, Any] = {
            "ok": True,
            "app_id": ws.app_id,
            "scope": ws.scopes,
            "token_type": "bot",
            "bot_user_id": ws.bot_user_id,
            "team": {"id": ws.team_id, "name": ws.team_name},
            "enterprise": None,
            "is_enterprise_install": False,
        }
        if app.token_rotation:
            token = f"xoxe.{token}"
            refresh = f"xoxe-1-{ws.team_id[1:].lower()}-{n}-{_short_id(f'rt{n}', 12).lower()}"
            self._refresh_tokens[refresh] = ws.team_id
            self._token_expiry[token] = self.clock() + app.token_lifetime
            body["expires_in"] = int(app.token_lifetime)
            body["refresh_token"] = refresh
        body["access_token"] = token
        self._tokens[token] = ws.team_id
        ws.bot_token = token
        return body

    # ------------------------------------------------------------------ triggers / urls

    def issue_trigger_id(
        self,
        team_id: str,
        *,
        user_id: str | None = None,
        view_id: str | None = None,
        age_seconds: float = 0.0,
    ) -> str:
        """A trigger_id as Slack puts in an interaction payload, issued ``age_seconds`` ago.

        ``view_id`` ties it to an interaction inside that modal (needed for views.push).
        """
        with self._lock:
            n = next(self._id_seq)
            digest = hashlib.sha1(f"t{team_id}{n}".encode()).hexdigest()[:20]
            trigger_id = f"{1_000_000_000 + n}.{team_id[1:].lower()}.{digest}"
            self._triggers[trigger_id] = _Trigger(
                team_id, user_id, view_id, self.clock() - age_seconds
            )
        return trigger_id

    def new_response_url(
        self,
        team_id: str,
        *,
        channel_id: str | None = None,
        message_ts: str | None = None,
        user_id: str | None = None,
        age_seconds: float = 0.0,
    ) -> str:
        """A response_url served by the stand-in (5 posts within 30 minutes)."""
        with self._lock:
            n = next(self._id_seq)
            rid = f"{team_id}-{n:06d}-{_short_id(f'r{team_id}{n}', 12).lower()}"
            url = f"{self.base_url}/response/{rid}"
            self._response_urls[rid] = _ResponseUrl(
                url, team_id, channel_id, message_ts, user_id, self.clock() - age_seconds
            )
        return url

    # ------------------------------------------------------------------ faults and limits

    def fail_next(
        self, method: str, *, status: int | None = None, error: str | None = None, times: int = 1
    ) -> None:
        """Make the next ``times`` calls of ``method`` ("*" = any) fail.

        ``status`` alone: that HTTP status with ``internal_error``; ``error`` alone: HTTP 200
        ``{"ok": false, "error": error}``; neither: HTTP 500.
        """
        if status is None and error is None:
            status = 500
        fault = _Fault(
            status=status or 200,
            error=error or ("internal_error" if (status or 200) >= 500 else "request_failed"),
            remaining=times,
        )
        with self._lock:
            self._faults.setdefault(method, deque()).append(fault)

    def rate_limit_next(self, method: str, *, retry_after: int = 1, times: int = 1) -> None:
        """Answer the next ``times`` calls with HTTP 429 ``ratelimited`` + Retry-After."""
        with self._lock:
            self._faults.setdefault(method, deque()).append(
                _Fault(status=429, error="ratelimited", remaining=times, retry_after=retry_after)
            )

    def set_latency(self, method: str | None, seconds: float) -> None:
        """Delay answers of ``method`` (None: every method) by ``seconds`` (non-busy wait)."""
        with self._lock:
            if method is None:
                self.latency = seconds
            else:
                self._method_latency[method] = seconds

    def set_ceiling(
        self,
        method: str = "chat.postMessage",
        *,
        per_second: float | None = 20.0,
        per_channel_per_second: float | None = 1.0,
        burst: float | None = None,
        channel_burst: float | None = None,
    ) -> None:
        """Token-bucket rate ceiling per workspace (and per channel, keyed on ``channel``).

        Over the ceiling the stand-in answers 429 with a Retry-After (whole seconds, rounded
        up) that is enough for the next call to pass. ``burst`` defaults to one second of
        rate; ``channel_burst`` to max(1, per_channel_per_second).
        """
        with self._lock:
            self._ceilings[method] = _Ceiling(
                per_second=per_second,
                burst=burst if burst is not None else max(1.0, per_second or 0.0),
                per_channel_per_second=per_channel_per_second,
                channel_burst=channel_burst
                if channel_burst is not None
                else max(1.0, per_channel_per_second or 0.0),
            )
            self._buckets = {k: v for k, v in self._buckets.items() if k[1] != method}

    def set_tier(self, method: str, tier: int, *, burst: float | None = None) -> None:
        """Ceiling for a Slack rate tier (1-4); the burst defaults to a minute's allowance."""
        rate = TIERS[tier]
        self.set_ceiling(
            method,
            per_second=rate,
            per_channel_per_second=None,
            burst=burst if burst is not None else max(1.0, rate * 60),
        )

    def apply_slack_tiers(self) -> None:
        """Slack's published tiers for the methods we use, and ~1 msg/s/channel for posts."""
        for method, tier in SLACK_TIERS.items():
            self.set_tier(method, tier)
        self.set_ceiling("chat.postMessage", per_second=20.0, per_channel_per_second=1.0)

    def clear_limits(self) -> None:
        """Remove faults, latency and ceilings."""
        with self._lock:
            self._faults.clear()
            self._method_latency.clear()
            self._ceilings.clear()
            self._buckets.clear()
            self.latency = 0.0

    def ratelimited_count(self, method: str | None = None) -> int:
        with self._lock:
            return self.ratelimited[method] if method else sum(self.ratelimited.values())

    # ------------------------------------------------------------------ records

    def calls(self, method: str | None = None, team_id: str | None = None) -> list[RecordedCall]:
        with self._lock:
            return [
                c
                for c in self._calls
                if (method is None or c.method == method)
                and (team_id is None or c.team_id == team_id)
            ]

    def last(self, method: str) -> RecordedCall:
        found = self.calls(method)
        if not found:
            raise AssertionError(f"no {method} call recorded\n{self._summary()}")
        return found[-1]

    @property
    def responses(self) -> list[ResponsePost]:
        """Accepted response_url posts, oldest first."""
        with self._lock:
            return list(self._responses)

    @property
    def files(self) -> dict[str, UploadedFile]:
        with self._lock:
            return dict(self._files)

    def wait_for(
        self,
        method: str,
        *,
        predicate: Callable[[RecordedCall], bool] | None = None,
        count: int = 1,
        timeout: float = 5.0,
        team_id: str | None = None,
    ) -> list[RecordedCall]:
        """Block until ``count`` matching calls are recorded (since the last reset)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [
                    c
                    for c in self._calls
                    if c.method == method
                    and (team_id is None or c.team_id == team_id)
                    and (predicate is None or predicate(c))
                ]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    what = f"{count} x {method}" + (" matching the predicate" if predicate else "")
                    raise AssertionError(
                        f"timed out after {timeout}s waiting for {what}; "
                        f"got {len(found)}.\n{self._summary()}"
                    )
                self._cond.wait(remaining)

    def record_violation(self, violation: str) -> None:
        """Used by SlackSender for rules checked on the app's HTTP answers."""
        with self._cond:
            self.violations.append(violation)
            self._cond.notify_all()

    def reset(self) -> None:
        """Forget recorded calls, response_url posts, violations and 429 counts."""
        with self._lock:
            self._calls.clear()
            self._responses.clear()
            self.violations.clear()
            self.ratelimited.clear()

    def _summary(self, limit: int = 40) -> str:
        with self._lock:
            calls = self._calls[-limit:]
            total = len(self._calls)
        if not calls:
            return "No calls recorded."
        lines = [f"Recorded calls ({total}, last {len(calls)} shown):"]
        for c in calls:
            outcome = "ok" if c.ok else f"{c.status} {c.error}"
            keys = {k: c.args[k] for k in _SUMMARY_KEYS if k in c.args}
            shown = json.dumps(keys)[:160]
            lines.append(f"  {c.method} [{outcome}] team={c.team_id} {shown}")
        return "\n".join(lines)

    # ------------------------------------------------------------------ state accessors

    def messages(self, channel_id: str) -> list[dict[str, Any]]:
        """Current (not deleted) messages of a channel, oldest first."""
        with self._lock:
            return [copy.deepcopy(m) for m in self._messages.get(channel_id, {}).values()]

    def add_message(
        self,
        team_id: str,
        channel_id: str,
        *,
        user: str,
        text: str = "",
        blocks: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
    ) -> dict[str, Any]:
        """Store a message someone else posted (e.g. a user's reply in their DM with the bot).

        ``channel_id`` may be a user id (``U…``): the message goes to that user's DM channel,
        which becomes known to conversations.history. Returns the stored message.
        """
        with self._lock:
            if channel_id[:1] in "UW":
                owner, channel_id = channel_id, dm_channel_id(channel_id)
                self._dm_owner[channel_id] = owner
            message: dict[str, Any] = {
                "type": "message",
                "user": user,
                "text": text,
                "ts": self._next_ts(),
                "team": team_id,
            }
            if blocks:
                message["blocks"] = fill_ids(blocks)
            if thread_ts:
                message["thread_ts"] = thread_ts
            self._store_message(channel_id, message)
            return copy.deepcopy(message)

    def message(self, channel_id: str, ts: str) -> dict[str, Any] | None:
        with self._lock:
            m = self._messages.get(channel_id, {}).get(ts)
            return copy.deepcopy(m) if m else None

    def find_message(self, ts: str) -> tuple[str, dict[str, Any]] | None:
        """(channel_id, message) for a ts the stand-in issued, if it still exists."""
        with self._lock:
            channel = self._ts_channel.get(ts)
            if channel is None or ts not in self._messages.get(channel, {}):
                return None
            return channel, copy.deepcopy(self._messages[channel][ts])

    @property
    def ephemerals(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._ephemerals)

    def view(self, view_id: str) -> dict[str, Any] | None:
        """The current view object (as views.* returned it), open or not."""
        with self._lock:
            rec = self._views.get(view_id)
            return copy.deepcopy(rec.obj) if rec else None

    def view_stack(self, team_id: str, user_id: str | None) -> list[dict[str, Any]]:
        """The user's open modal stack, root first."""
        with self._lock:
            ids = self._stacks.get((team_id, user_id), [])
            return [copy.deepcopy(self._views[v].obj) for v in ids]

    def home_view(self, team_id: str, user_id: str) -> dict[str, Any] | None:
        with self._lock:
            vid = self._homes.get((team_id, user_id))
            return copy.deepcopy(self._views[vid].obj) if vid else None

    def close_view(self, view_id: str, *, clear: bool = False) -> None:
        """The user closed (or the app cleared) a modal: pop it (or the whole stack)."""
        with self._lock:
            rec = self._views.get(view_id)
            if rec is None:
                return
            stack = self._stacks.get((rec.team_id, rec.user_id), [])
            if view_id in stack:
                cut = 0 if clear else stack.index(view_id)
                for vid in stack[cut:]:
                    self._retire_view(vid)
                del stack[cut:]

    def _retire_view(self, view_id: str) -> None:
        """A closed modal can no longer be updated, and its external_id is free again."""
        rec = self._views[view_id]
        rec.is_open = False
        external_id = rec.obj.get("external_id")
        if external_id and self._external_ids.get((rec.team_id, external_id)) == view_id:
            del self._external_ids[(rec.team_id, external_id)]

    def apply_view_response(self, view_id: str, response: Mapping[str, Any] | None) -> list[str]:
        """Apply an app's view_submission answer to the stack; returns refusals, if any."""
        with self._lock:
            rec = self._views.get(view_id)
            if rec is None:
                return [f"view_submission answer for unknown view {view_id}"]
            action = (response or _EMPTY_DICT).get("response_action")
            if action in (None, "clear"):
                self.close_view(view_id, clear=action == "clear")
            elif action == "update":
                view = (response or _EMPTY_DICT).get("view")
                if isinstance(view, dict) and not (self.validate and validate_view(view)):
                    ws = self._workspaces[rec.team_id]
                    self._replace_view(ws, rec, view)
            elif action == "push":
                stack = self._stacks.get((rec.team_id, rec.user_id), [])
                if len(stack) >= VIEW_STACK_MAX:
                    return ["response_action=push: push_limit_reached (3 views max)"]
                view = (response or _EMPTY_DICT).get("view")
                if isinstance(view, dict) and not (self.validate and validate_view(view)):
                    ws = self._workspaces[rec.team_id]
                    self._push_view(ws, rec.user_id, view, stack)
            return []

    # ------------------------------------------------------------------ HTTP dispatch

    def _handle_http(
        self,
        path: str,
        query: str,
        content_type: str | None,
        headers: Mapping[str, str],
        raw: bytes,
    ) -> tuple[int, dict[str, Any] | bytes, dict[str, str]]:
        if path.startswith("/api/"):
            return self._api(path[5:], query, content_type, headers, raw)
        if path.startswith("/response/"):
            return self._response_url(path[10:], content_type, raw)
        if path.startswith("/upload/"):
            return self._upload(path[8:], raw)
        return 404, {"ok": False, "error": "not_found"}, {}

    def _delay(self, method: str) -> None:
        delay = (
            self._method_latency.get(method, self.latency) if self._method_latency else self.latency
        )
        if delay > 0:
            self._stop.wait(delay)  # non-busy, and cut short by close()

    def _parse_args(
        self,
        query: str,
        content_type: str | None,
        headers: Mapping[str, str],
        raw: bytes,
        method: str = "",
    ) -> tuple[dict[str, Any], str | None]:
        """Decode a request the way Slack does; returns (args, token)."""
        args: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True)) if query else {}
        ctype = (content_type or "").split(";", 1)[0].strip().lower()
        body_token: str | None = None
        if ctype == "application/json":
            try:
                body = json.loads(raw or b"{}")
            except ValueError as exc:
                raise _Refusal("invalid_json") from exc
            if not isinstance(body, dict):
                raise _Refusal("invalid_json")
            body.pop("token", None)  # Slack wants the Authorization header with JSON bodies
            if method in _FORM_ONLY:
                if body:
                    self.record_violation(
                        f"{method}: does not accept application/json; Slack ignores the body "
                        f"arguments {sorted(body)} (send them as query or form arguments)"
                    )
                body = {}
            args.update(body)
        elif ctype.startswith("multipart/"):
            raise _Refusal("invalid_form_data")  # files.upload (v1) is not served
        else:
            args.update(parse_qsl(raw.decode(), keep_blank_values=True))
            for key in _JSON_FIELDS & args.keys():
                value = args[key]
                if isinstance(value, str):
                    # Undecodable: handlers refuse the raw string with the method's own error.
                    with contextlib.suppress(ValueError):
                        args[key] = json.loads(value)
            body_token = args.pop("token", None)
        auth = headers.get("Authorization") or ""
        token = auth[7:].strip() if auth.startswith("Bearer ") else body_token
        args.pop("token", None)
        return args, token or None

    def _api(
        self,
        method: str,
        query: str,
        content_type: str | None,
        headers: Mapping[str, str],
        raw: bytes,
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        self._delay(method)
        extra_headers: dict[str, str] = {}
        try:
            args, token = self._parse_args(query, content_type, headers, raw, method)
        except _Refusal as refusal:
            args, token = {}, None
            early: dict[str, Any] | None = refusal.body
        else:
            early = None
        with self._cond:
            now = self.clock()
            team_id = self._tokens.get(token) if token else None
            status = 200
            fault = self._take_fault(method) if self._faults else None
            if fault is not None:
                status, body = fault.status, {"ok": False, "error": fault.error}
                if fault.retry_after is not None:
                    extra_headers["Retry-After"] = str(fault.retry_after)
            elif early is not None:
                body = early
            elif method == "oauth.v2.access":  # authenticated by the client credentials
                body, team_id = self._oauth_v2_access(args, headers)
            elif method not in self._handlers and method not in self._custom:
                body = {"ok": False, "error": "unknown_method", "req_method": method}
            elif not token:
                body = {"ok": False, "error": "not_authed"}
            elif token in self._revoked:
                body = {"ok": False, "error": self._revoked[token]}
            elif token in self._token_expiry and now >= self._token_expiry[token]:
                body = {"ok": False, "error": "token_expired"}
            elif team_id is None:
                body = {"ok": False, "error": "invalid_auth"}
            else:
                wait = self._ceiling_wait(method, team_id, args, now) if self._ceilings else 0.0
                if wait > 0:
                    status, body = 429, {"ok": False, "error": "ratelimited"}
                    extra_headers["Retry-After"] = str(max(1, math.ceil(wait - 1e-9)))
                else:
                    ws = self._workspaces[team_id]
                    extra_headers["X-OAuth-Scopes"] = ws.scopes
                    try:
                        custom = self._custom.get(method)
                        body = custom(team_id, args) if custom else self._handlers[method](ws, args)
                    except _Refusal as refusal:
                        body = refusal.body
            if status == 429:
                self.ratelimited[method] += 1
            self._calls.append(RecordedCall(method, args, team_id, body, status, now, token))
            self._cond.notify_all()
        return status, body, extra_headers

    def _take_fault(self, method: str) -> _Fault | None:
        for key in (method, "*"):
            queue = self._faults.get(key)
            if queue:
                fault = queue[0]
                fault.remaining -= 1
                if fault.remaining <= 0:
                    queue.popleft()
                return fault
        return None

    def _ceiling_wait(
        self, method: str, team_id: str, args: Mapping[str, Any], now: float
    ) -> float:
        ceiling = self._ceilings.get(method)
        if ceiling is None:
            return 0.0
        buckets: list[_Bucket] = []
        if ceiling.per_second:
            buckets.append(self._bucket((team_id, method), ceiling.per_second, ceiling.burst, now))
        channel = args.get("channel")
        if ceiling.per_channel_per_second and isinstance(channel, str) and channel:
            if channel[0] in "UW":  # a DM by user id is the same channel as its D… id
                channel = dm_channel_id(channel)
            key = (team_id, method, channel)
            buckets.append(
                self._bucket(key, ceiling.per_channel_per_second, ceiling.channel_burst, now)
            )
        wait = 0.0
        for bucket in buckets:
            bucket.refill(now)
            if bucket.tokens < 1.0:
                wait = max(wait, (1.0 - bucket.tokens) / bucket.rate)
        if wait > 0:
            return wait
        for bucket in buckets:
            bucket.tokens -= 1.0
        return 0.0

    def _bucket(self, key: tuple[str, ...], rate: float, capacity: float, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(rate, capacity, capacity, now)
        return bucket

    def _violation(self, where: str, errors: list[str]) -> None:
        self.violations.extend(f"{where}: {e}" for e in errors)

    # ------------------------------------------------------------------ ids

    def _next_ts(self) -> str:
        n = next(self._ts_seq) * 100
        return f"{_BASE_TS + n // 1_000_000}.{n % 1_000_000:06d}"

    def _next_id(self, prefix: str) -> str:
        seq = self._id_seqs.setdefault(prefix, itertools.count(1))
        return f"{prefix}{next(seq):010d}"

    def _next_hash(self) -> str:
        n = next(self._hash_seq)
        return f"{_BASE_TS + n}.{_short_id(f'h{n}', 8).lower()}"

    # ------------------------------------------------------------------ identity methods

    def _auth_test(self, ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{ws.domain}.slack.com/",
            "team": ws.team_name,
            "user": self._users[ws.bot_user_id]["name"],
            "team_id": ws.team_id,
            "user_id": ws.bot_user_id,
            "bot_id": ws.bot_id,
            "is_enterprise_install": False,
        }

    def _team_info(self, ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
        team = args.get("team")
        if team and team != ws.team_id:
            raise _Refusal("team_not_found")
        return {
            "ok": True,
            "team": {
                "id": ws.team_id,
                "name": ws.team_name,
                "url": f"https://{ws.domain}.slack.com/",
                "domain": ws.domain,
                "email_domain": "",
                "icon": {"image_default": True},
                "is_verified": False,
            },
        }

    def _team_user(self, ws: Workspace, user_id: Any) -> dict[str, Any] | None:
        user = self._users.get(user_id) if isinstance(user_id, str) else None
        return user if user is not None and user["team_id"] == ws.team_id else None

    def _user_object(self, user: dict[str, Any]) -> dict[str, Any]:
        out = {**user, "profile": dict(user["profile"])}  # all nested values are immutable
        if out["deleted"]:
            # Deactivated accounts come back without timezone or role fields.
            for key in ("tz", "tz_label", "tz_offset", "is_admin", "is_owner", "is_primary_owner"):
                out.pop(key, None)
        return out

    def _users_info(self, ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("user"):
            raise _Refusal("user_not_found")
        user = self._team_user(ws, args["user"])
        if user is None:
            raise _Refusal("user_not_found")
        out = self._user_object(user)
        if not _flag(args.get("include_locale")):
            out.pop("locale", None)
        return {"ok": True, "user": out}

    def _users_lookup_by_email(self, ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
        email = str(args.get("email") or "").lower()
        for user in self._users.values():
            if user["team_id"] == ws.team_id and user["profile"].get("email", "").lower() == email:
                out = self._user_object(user)
                out.pop("locale", None)
                return {"ok": True, "user": out}
        raise _Refusal("users_not_found")

    def _users_list(self, ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
        limit = _parse_limit(args.get("limit"), default=0, maximum=USERS_LIST_MAX_LIMIT)
        members = [u for u in self._users.values() if u["team_id"] == ws.team_id]
        start = 0
        after = _decode_cursor(args.get("cursor"), "user")
        if after is not None:
            ids = [u["id"] for u in members]
            if after not in ids:
                raise _Refusal("invalid_cursor")
            start = ids.index(after)
        page = members[start : start + limit] if limit else members[start:]
        end = start + len(page)
        next_cursor = _encode_cursor("user", members[end]["id"]) if end < len(members) else ""
        out = []
        for user in page:
            obj = self._user_object(user)
            if not _flag(args.get("include_locale")):
                obj.pop("locale", None)
            out.append(obj)
        return {
            "ok": True,
            "members": out,
            "cache_ts": _BASE_TS,
            "response_metadata": {"next_cursor": next_cursor},
        }

    # ------------------------------------------------------------------ conversations

    def _open_dm(self, ws: Workspace, user_id: str) -> tuple[str, bool]:
        channel = dm_channel_id(user_id)
        existed = channel in self._dm_owner
        self._dm_owner[channel] = user_id
        return channel, existed

    def _resolve_channel(self, ws: Workspace, channel: Any, *, allow_user: bool) -> str:
        if not isinstance(channel, str) or not channel:
            raise _Refusal("channel_not_found")
        head = channel[0]
        if head in "UW":
            if not allow_user or self._team_user(ws, channel) is None:
                raise _Refusal("channel_not_found")
            return self._open_dm(ws, channel)[0]
        if head == "D":
            owner = self._dm_owner.get(channel)
            if owner is None or self._team_user(ws, owner) is None:
                raise _Refusal("channel_not_found")
            return channel
        if head in "CG":
            registered = self._channels.get((ws.team_id, channel))
            if registered is None:
                if self.strict_channels:
                    raise _Refusal("channel_not_found")
                return channel
            if registered.is_archived:
                raise _Refusal("is_archived")
            if not registered.is_member:
                raise _Refusal("not_in_channel")
            return channel
        raise _Refusal("channel_not_found")

    def _history_channel(self, ws: Workspace, channel: Any) -> str:
        """A channel whose history this workspace's bot can read (see the module notes)."""
        if not isinstance(channel, str) or not channel:
            raise _Refusal("channel_not_found")
        if channel[0] == "D":
            owner = self._dm_owner.get(channel)
            if owner is None or self._team_user(ws, owner) is None:
                raise _Refusal("channel_not_found")
            return channel
        if channel[0] in "CG":
            registered = self._channels.get((ws.team_id, channel))
            if registered is not None:
                if not registered.is_member:
                    raise _Refusal("not_in_channel")
                return channel
            if (ws.team_id, channel) in self._known_channels:
                return channel
        raise _Refusal("channel_not_found")

    def _conversations_history(self, ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._history_channel(ws, args.get("channel"))
        oldest = _parse_ts(args.get("oldest"), "invalid_ts_oldest")
        latest = _parse_ts(args.get("latest"), "invalid_ts_latest")
        inclusive = _flag(args.get("inclusive"))
        limit = _parse_limit(
            args.get("limit"), default=HISTORY_DEFAULT_LIMIT, maximum=HISTORY_MAX_LIMIT
        )
        cursor = args.get("cursor")
        before = _parse_ts(_decode_cursor(cursor, "next_ts"), "invalid_cursor")
        with_metadata = _flag(args.get("include_all_metadata"))

        stored = [
            m for m in self._messages.get(channel, {}).values() if m.get("team") == ws.team_id
        ]
        replies: dict[str, list[dict[str, Any]]] = {}
        timeline: list[tuple[Decimal, dict[str, Any]]] = []
        for m in stored:
            parent = m.get("thread_ts")
            if parent and parent != m["ts"]:
                replies.setdefault(parent, []).append(m)  # replies stay in their thread
                continue
            ts = Decimal(m["ts"])
            if oldest is not None and (ts < oldest or (ts == oldest and not inclusive)):
                continue
            if latest is not None and (ts > latest or (ts == latest and not inclusive)):
                continue
            if before is not None and ts > before:
                continue
            timeline.append((ts, m))
        timeline.sort(key=lambda item: item[0], reverse=True)
        page, rest = timeline[:limit], timeline[limit:]

        messages = []
        for _, m in page:
            out = {k: v for k, v in m.items() if k != "metadata" or with_metadata}
            thread = replies.get(m["ts"])
            if thread:
                users = list(dict.fromkeys(r.get("user") for r in thread if r.get("user")))
                out.update(
                    thread_ts=m["ts"],
                    reply_count=len(thread),
                    reply_users_count=len(users),
                    reply_users=users,
                    latest_reply=max((r["ts"] for r in thread), key=Decimal),
                )
            messages.append(out)
        return {
            "ok": True,
            "messages": messages,
            "has_more": bool(rest),
            "pin_count": 0,
            "channel_actions_ts": None,
            "channel_actions_count": 0,
            "response_metadata": {
                "next_cursor": _encode_cursor("next_ts", rest[0][1]["ts"]) if rest else ""
            },
        }

    def _conversations_open(self, ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
        if args.get("channel"):
            channel = self._resolve_channel(ws, args["channel"], allow_user=False)
            return {"ok": True, "channel": {"id": channel}}
        users = args.get("users")
        ids = users if isinstance(users, list) else [u for u in str(users or "").split(",") if u]
        if not ids:
            raise _Refusal("users_list_not_supplied")
        for uid in ids:
            user = self._team_user(ws, uid.strip())
            if user is None:
                raise _Refusal("user_not_found")
            if user["deleted"]:
                raise _Refusal("user_disabled")
            if user["is_bot"] and len(ids) == 1:
                raise _Refusal("cannot_dm_bot")
        if len(ids) > 8:
            raise _Refusal("too_many_users")
        if len(ids) == 1:
            channel, existed = self._open_dm(ws, ids[0].strip())
            info: dict[str, Any] = {"id": channel}
            if _flag(args.get("return_im")):
                info.update(created=_BASE_TS, is_im=True, is_org_shared=False, user=ids[0])
                info.update(is_user_deleted=False, priority=0)
            out: dict[str, Any] = {"ok": True, "channel": info}
            if existed:
                out.update(no_op=True, already_open=True)
            return out
        channel = "G" + _short_id(",".join(sorted(ids)), 10)
        self._channels.setdefault((ws.team_id, channel), _Channel("mpdm", True, False))
        return {"ok": True, "channel": {"id": channel}}

    # ------------------------------------------------------------------ chat

    def _check_message(
        self, method: str, args: dict[str, Any], *, need_content: bool, ws: Workspace | None = None
    ) -> None:
        blocks = args.get("blocks")
        if blocks is not None and not isinstance(blocks, list):
            raise _Refusal("invalid_blocks_format")
        text = args.get("text")
        if need_content and not text and not blocks and not args.get("attachments"):
            raise _Refusal("no_text")
        if isinstance(text, str) and len(text) > MESSAGE_TEXT_MAX:
            raise _Refusal("msg_too_long")
        if self.validate:
            errors = validate_message(args)
            if errors:
                self._violation(method, errors)
                raise _Refusal(
                    "invalid_blocks",
                    errors=errors,
                    response_metadata={"messages": [f"[ERROR] {e}" for e in errors]},
                )
        if ws is not None and isinstance(blocks, list):
            self._check_file_refs(method, ws, blocks)

    def _message_object(self, ws: Workspace, args: dict[str, Any], ts: str) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "user": ws.bot_user_id,
            "bot_id": ws.bot_id,
            "app_id": ws.app_id,
            "text": args.get("text") or "",
            "ts": ts,
            "team": ws.team_id,
            "bot_profile": {"id": ws.bot_id, "app_id": ws.app_id, "team_id": ws.team_id},
        }
        if args.get("blocks"):
            message["blocks"] = fill_ids(args["blocks"])
        for key in ("attachments", "metadata", "thread_ts"):
            if args.get(key):
                message[key] = args[key]
        return message

    def _store_message(self, channel: str, message: dict[str, Any]) -> None:
        self._messages.setdefault(channel, {})[message["ts"]] = message
        self._ts_channel[message["ts"]] = channel
        if message.get("team"):
            self._known_channels.add((message["team"], channel))

    def _chat_post_message(self, ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(ws, args.get("channel"), allow_user=True)
        self._check_message("chat.postMessage", args, need_content=True, ws=ws)
        metadata = _check_metadata(args.get("metadata"))
        ts = self._next_ts()
        message = self._message_object(ws, {**args, "metadata": metadata}, ts)
        self._store_message(channel, message)
        # Stored messages are copy-on-write, so the response may share this dict.
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _chat_post_ephemeral(self, ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(ws, args.get("channel"), allow_user=True)
        user = self._team_user(ws, args.get("user"))
        if user is None or user["deleted"]:
            raise _Refusal("user_not_in_channel")
        self._check_message("chat.postEphemeral", args, need_content=True, ws=ws)
        ts = self._next_ts()
        message = self._message_object(ws, args, ts)
        self._ephemerals.append({"channel": channel, "user": user["id"], "message": message})
        return {"ok": True, "message_ts": ts}

    def _existing_message(self, ws: Workspace, args: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        channel = self._resolve_channel(ws, args.get("channel"), allow_user=False)
        message = self._messages.get(channel, {}).get(str(args.get("ts") or ""))
        if message is None:
            raise _Refusal("message_not_found")
        return channel, message

    def _chat_update(self, ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
        channel, message = self._existing_message(ws, args)
        if message.get("bot_id") != ws.bot_id:
            raise _Refusal("cant_update_message")
        if "text" not in args and "blocks" not in args and "attachments" not in args:
            raise _Refusal("no_text")
        self._check_message("chat.update", args, need_content=False, ws=ws)
        # Omitted (or empty form value): keep the metadata; {}: remove it; else replace it.
        new_metadata = args.get("metadata")
        if new_metadata is not None and new_metadata != "" and new_metadata != {}:
            new_metadata = _check_metadata(new_metadata)
        message = dict(message)  # copy-on-write: earlier responses keep the old version
        if new_metadata == {}:
            message.pop("metadata", None)
        elif new_metadata:
            message["metadata"] = new_metadata
        if "text" in args:
            message["text"] = args["text"] or ""
        if "blocks" in args:
            message["blocks"] = fill_ids(args["blocks"])
        if "attachments" in args:
            message["attachments"] = args["attachments"]
        message["edited"] = {"user": ws.bot_user_id, "ts": self._next_ts()}
        self._store_message(channel, message)
        return {
            "ok": True,
            "channel": channel,
            "ts": message["ts"],
            "text": message["text"],
            "message": message,
        }

    def _chat_delete(self, ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
        channel, message = self._existing_message(ws, args)
        if message.get("bot_id") != ws.bot_id:
            raise _Refusal("cant_delete_message")
        del self._messages[channel][message["ts"]]
        return {"ok": True, "channel": channel, "ts": message["ts"]}

    # ------------------------------------------------------------------ views

    def _check_view(self, method: str, view: Any, *, expected_type: str) -> dict[str, Any]:
        if not isinstance(view, dict):
            raise _refuse_invalid_arguments(["view: must be a JSON object"])
        if view.get("type") != expected_type:
            raise _refuse_invalid_arguments(
                [f"view.type: {method} takes a {expected_type} view, not {view.get('type')!r}"]
            )
        if self.validate:
            errors = validate_view(view)
            if errors:
                self._violation(method, errors)
                too_large = any(f"(max {VIEW_MAX_BYTES})" in e for e in errors)
                if too_large:
                    raise _Refusal("view_too_large", errors=errors)
                raise _refuse_invalid_arguments(errors)
        return view

    def _use_trigger(self, ws: Workspace, trigger_id: Any) -> _Trigger:
        trigger = self._triggers.get(trigger_id) if isinstance(trigger_id, str) else None
        if trigger is None or trigger.team_id != ws.team_id:
            raise _Refusal("invalid_trigger_id")
        if trigger.used:
            raise _Refusal("exchanged_trigger_id")
        if self.clock() - trigger.issued_at > TRIGGER_TTL_SECONDS:
            raise _Refusal("expired_trigger_id")
        return trigger

    def _view_object(
        self,
        ws: Workspace,
        view: dict[str, Any],
        *,
        view_id: str,
        previous: str | None = None,
        root: str | None = None,
    ) -> dict[str, Any]:
        default_title = {"type": "plain_text", "text": "View Title", "emoji": True}
        return {
            "id": view_id,
            "team_id": ws.team_id,
            "type": view["type"],
            "blocks": fill_ids(view.get("blocks") or []),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": self._next_hash(),
            "title": view.get("title", default_title),
            "clear_on_close": _flag(view.get("clear_on_close", False)),
            "notify_on_close": _flag(view.get("notify_on_close", False)),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "previous_view_id": previous,
            "root_view_id": root or view_id,
            "app_id": ws.app_id,
            "external_id": view.get("external_id", ""),
            "app_installed_team_id": ws.team_id,
            "bot_id": ws.bot_id,
        }

    def _claim_external_id(self, ws: Workspace, view: Mapping[str, Any], view_id: str) -> None:
        external_id = view.get("external_id")
        if external_id:
            owner = self._external_ids.get((ws.team_id, external_id))
            if owner is not None and owner != view_id:
                raise _Refusal("duplicate_external_id")
            self._external_ids[(ws.team_id, external_id)] = view_id

    def _push_view(
        self, ws: Workspace, user_id: str | None, view: dict[str, Any], stack: list[str]
    ) -> dict[str, Any]:
        view_id = self._next_id("V")
        self._claim_external_id(ws, view, view_id)
        obj = self._view_object(
            ws,
            view,
            view_id=view_id,
            previous=stack[-1] if stack else None,
            root=stack[0] if stack else None,
        )
        self._views[view_id] = _ViewRecord(ws.team_id, user_id, obj)
        stack.append(view_id)
        return obj

    def _replace_view(
        self, ws: Workspace, rec: _ViewRecord, view: dict[str, Any]
    ) -> dict[str, Any]:
        old = rec.obj
        self._claim_external_id(ws, view, old["id"])
        obj = self._view_object(
            ws, view, view_id=old["id"], previous=old["previous_view_id"], root=old["root_view_id"]
        )
        rec.history.append(old)
        rec.obj = obj
        return obj

    def _views_open(self, ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
        trigger = self._use_trigger(ws, args.get("trigger_id"))
        view = self._check_view("views.open", args.get("view"), expected_type="modal")
        self._check_file_refs("views.open", ws, view.get("blocks") or [], path="view.blocks")
        key = (ws.team_id, trigger.user_id)
        for old in self._stacks.get(key, []):
            self._retire_view(old)
        stack: list[str] = []
        obj = self._push_view(ws, trigger.user_id, view, stack)
        self._stacks[key] = stack
        trigger.used = True
        return {"ok": True, "view": obj}

    def _views_push(self, ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
        trigger = self._use_trigger(ws, args.get("trigger_id"))
        view = self._check_view("views.push", args.get("view"), expected_type="modal")
        self._check_file_refs("views.push", ws, view.get("blocks") or [], path="view.blocks")
        key = (ws.team_id, trigger.user_id)
        if trigger.view_id is not None and trigger.view_id in self._views:
            rec = self._views[trigger.view_id]
            key = (rec.team_id, rec.user_id)
        stack = self._stacks.get(key)
        if not stack:
            raise _refuse_invalid_arguments(
                ["trigger_id: views.push needs a trigger from an interaction in an open modal"]
            )
        if len(stack) >= VIEW_STACK_MAX:
            raise _Refusal("push_limit_reached")
        obj = self._push_view(ws, key[1], view, stack)
        trigger.used = True
        return {"ok": True, "view": obj}

    def _views_update(self, ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
        view_id = args.get("view_id")
        if not view_id and args.get("external_id"):
            view_id = self._external_ids.get((ws.team_id, args["external_id"]))
        if not view_id and not args.get("external_id"):
            raise _refuse_invalid_arguments(["view_id or external_id is required"])
        rec = self._views.get(view_id) if isinstance(view_id, str) else None
        if rec is None or rec.team_id != ws.team_id or not rec.is_open:
            raise _Refusal("not_found")
        view = self._check_view("views.update", args.get("view"), expected_type=rec.obj["type"])
        self._check_file_refs("views.update", ws, view.get("blocks") or [], path="view.blocks")
        if args.get("hash") and args["hash"] != rec.obj["hash"]:
            raise _Refusal("hash_conflict")
        return {"ok": True, "view": self._replace_view(ws, rec, view)}

    def _views_publish(self, ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
        user = self._team_user(ws, args.get("user_id"))
        if user is None:
            raise _Refusal("user_not_found")
        view = self._check_view("views.publish", args.get("view"), expected_type="home")
        self._check_file_refs("views.publish", ws, view.get("blocks") or [], path="view.blocks")
        key = (ws.team_id, user["id"])
        existing = self._homes.get(key)
        if existing is not None:
            rec = self._views[existing]
            if args.get("hash") and args["hash"] != rec.obj["hash"]:
                raise _Refusal("hash_conflict")
            return {"ok": True, "view": self._replace_view(ws, rec, view)}
        view_id = self._next_id("V")
        self._claim_external_id(ws, view, view_id)
        obj = self._view_object(ws, view, view_id=view_id)
        self._views[view_id] = _ViewRecord(ws.team_id, user["id"], obj)
        self._homes[key] = view_id
        return {"ok": True, "view": obj}

    # ------------------------------------------------------------------ files

    def _check_file_refs(
        self, method: str, ws: Workspace, blocks: list[Any], *, path: str = "blocks"
    ) -> None:
        """Refuse image blocks/elements whose ``slack_file`` id Slack could not show."""
        invalid: list[str] = []
        not_ready: list[UploadedFile] = []
        for where, ref in _slack_file_refs(blocks, path):
            file_id = ref.get("id")
            if file_id is None:
                continue  # a url reference: not modelled
            f = self._files.get(file_id) if isinstance(file_id, str) else None
            image = f is not None and f.filename.rsplit(".", 1)[-1].lower() in _IMAGE_TYPES
            if f is None or f.team_id != ws.team_id or not f.completed or not image:
                invalid.append(f"invalid slack file [json-pointer:/{where.replace('.', '/')}]")
            elif f.not_ready_refusals > 0:
                not_ready.append(f)
                invalid.append(f"invalid slack file [json-pointer:/{where.replace('.', '/')}]")
        if not invalid:
            return
        if len(not_ready) < len(invalid):  # a reference that will never work: the app's bug
            self._violation(method, invalid)
        for f in not_ready:
            f.not_ready_refusals -= 1
        raise _Refusal(
            "invalid_blocks",
            errors=invalid,
            response_metadata={"messages": [f"[ERROR] {e}" for e in invalid]},
        )

    def _files_get_upload_url(self, ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
        filename = args.get("filename")
        try:
            length = int(args.get("length"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            length = -1
        if not filename or length < 1:
            raise _refuse_invalid_arguments(["filename and a positive length are required"])
        file_id = self._next_id("F")
        self._files[file_id] = UploadedFile(
            file_id, ws.team_id, str(filename), length, alt_txt=args.get("alt_txt")
        )
        return {"ok": True, "upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}

    def _files_complete_upload(self, ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
        items = args.get("files")
        if not isinstance(items, list) or not items:
            raise _refuse_invalid_arguments(["files: must be a non-empty JSON array"])
        channel = args.get("channel_id") or None
        if channel is None and args.get("channels"):
            channel = str(args["channels"]).split(",")[0]
        if channel is not None:
            channel = self._resolve_channel(ws, channel, allow_user=False)
        out = []
        for item in items:
            f = self._files.get(item.get("id")) if isinstance(item, dict) else None
            if f is None or f.team_id != ws.team_id or f.content is None:
                raise _Refusal("file_not_found")
            f.title = item.get("title") or f.filename
            f.completed = True
            f.not_ready_refusals = self.file_ready_after
            f.channel_id = channel
            f.initial_comment = args.get("initial_comment")
            f.thread_ts = args.get("thread_ts")
            out.append(
                {
                    "id": f.file_id,
                    "created": _BASE_TS,
                    "name": f.filename,
                    "title": f.title,
                    "mimetype": mimetypes.guess_type(f.filename)[0] or "text/plain",
                    "user": ws.bot_user_id,
                    "size": len(f.content),
                    "channels": [channel] if channel and channel[0] == "C" else [],
                    "ims": [channel] if channel and channel[0] == "D" else [],
                }
            )
        return {"ok": True, "files": out}

    def _upload(
        self, file_id: str, raw: bytes
    ) -> tuple[int, dict[str, Any] | bytes, dict[str, str]]:
        self._delay("upload")
        with self._cond:
            f = self._files.get(file_id)
            if f is None or f.completed:
                status, body = 404, {"ok": False, "error": "file_not_found"}
            elif len(raw) != f.length:  # Slack checks the bytes against the declared length
                status, body = 400, {"ok": False, "error": "length_mismatch"}
            else:
                f.content = raw
                status, body = 200, {"ok": True}
            args = {"file_id": file_id, "length": len(raw)}
            team = f.team_id if f else None
            self._calls.append(RecordedCall("upload", args, team, body, status, self.clock()))
            self._cond.notify_all()
        return (status, f"OK - {len(raw)}".encode(), {}) if status == 200 else (status, body, {})

    # ------------------------------------------------------------------ response_url

    def _response_url(
        self, rid: str, content_type: str | None, raw: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        self._delay("response_url")
        try:
            text = raw.decode()
            if (content_type or "").startswith("application/json") or text.startswith("{"):
                body = json.loads(text or "{}")
            else:  # form body with payload=<json>, as some clients send
                body = json.loads(dict(parse_qsl(text)).get("payload", "{}"))
        except ValueError:
            body = None
        with self._cond:
            now = self.clock()
            entry = self._response_urls.get(rid)
            status, reply = self._respond(entry, body, now)
            args = body if isinstance(body, dict) else {"raw": raw.decode(errors="replace")}
            team = entry.team_id if entry else None
            self._calls.append(RecordedCall("response_url", args, team, reply, status, now))
            self._cond.notify_all()
        return status, reply, {}

    def _respond(
        self, entry: _ResponseUrl | None, body: Any, now: float
    ) -> tuple[int, dict[str, Any]]:
        if entry is None:
            return 404, {"ok": False, "error": "invalid_url"}
        if now - entry.created_at > RESPONSE_URL_TTL_SECONDS:
            return 404, {"ok": False, "error": "expired_url"}
        if entry.posts >= RESPONSE_URL_MAX_POSTS:
            return 404, {"ok": False, "error": "used_url"}
        if not isinstance(body, dict):
            return 400, {"ok": False, "error": "invalid_payload"}
        delete = _flag(body.get("delete_original"))
        replace = _flag(body.get("replace_original"))
        if not delete:
            if not body.get("text") and not body.get("blocks") and not body.get("attachments"):
                return 400, {"ok": False, "error": "no_text"}
            if body.get("blocks") is not None and not isinstance(body["blocks"], list):
                return 400, {"ok": False, "error": "invalid_blocks_format"}
            errors = validate_message(body) if self.validate else []
            if errors:
                self._violation("response_url", errors)
                return 400, {"ok": False, "error": "invalid_blocks", "errors": errors}
            if isinstance(body.get("blocks"), list):
                try:
                    self._check_file_refs(
                        "response_url", self._workspaces[entry.team_id], body["blocks"]
                    )
                except _Refusal as refusal:
                    return 400, refusal.body
        entry.posts += 1
        self._apply_response(entry, body, delete=delete, replace=replace)
        self._responses.append(
            ResponsePost(
                url=entry.url,
                team_id=entry.team_id,
                body=body,
                response_type=body.get("response_type"),
                text=body.get("text"),
                blocks=body.get("blocks"),
                replace_original=replace,
                delete_original=delete,
                at=now,
            )
        )
        return 200, {"ok": True}

    def _apply_response(
        self, entry: _ResponseUrl, body: dict[str, Any], *, delete: bool, replace: bool
    ) -> None:
        """Mirror the effect on stored messages when we know the original message."""
        channel, ts = entry.channel_id, entry.message_ts
        original = self._messages.get(channel or "", {}).get(ts or "")
        if original is not None and delete:
            del self._messages[channel][ts]  # type: ignore[index]
        elif original is not None and replace:
            replaced = {**original, "text": body.get("text") or ""}
            if "blocks" in body:
                replaced["blocks"] = fill_ids(body["blocks"])
            self._store_message(channel, replaced)  # type: ignore[arg-type]
        elif body.get("response_type") == "in_channel" and channel:
            ws = self._workspaces[entry.team_id]
            ts_new = self._next_ts()
            self._store_message(channel, self._message_object(ws, body, ts_new))
