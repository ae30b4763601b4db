"""POST /api/key-results/<id>/value: CI pipelines and scripts push a KR's value.

    curl -X POST https://ladder.example.com/api/key-results/42/value \\
      -H "Authorization: Bearer $LADDER_PUSH_TOKEN" -H "Content-Type: application/json" \\
      -d '{"value": 1234, "note": "nightly export"}'

A per-KR token (made in the Connect data modal, shown once, kept as a hash, revocable)
authenticates; each KR may push LADDER_PUSH_RATE times a minute (per web process). The value
passes the check-in modal's checks (a real number within range; NaN, ±Infinity, 1e400 and
strings are refused) and is recorded as the period's check-in by "data source", like a
pulled value. Every refusal is a 4xx JSON answer `{"ok": false, "error": code, "message":
…}`, and nothing is stored.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from bot.logs import log_event
from bot.okr.limits import NOTE_MAX
from bot.okr.validate import number_problem
from bot.services.sources import SourceService
from storage.errors import NotFound, Refused, Unavailable

log = logging.getLogger("ladder.push")

PUSH_PATH = re.compile(r"^/api/key-results/(\d{1,18})/value$")
PUSH_PREFIX = "/api/key-results/"
BODY_MAX = 16 * 1024  # {"value": …, "note": …} with a 1,000-character note fits many times
FIELDS = frozenset({"value", "note"})

WSGIApp = Callable[..., Iterable[bytes]]


class RateLimit:
    """A token bucket per key (a KR id): `per_minute` pushes a minute, bursts up to that.
    Kept per process; the least recently used keys are forgotten past `keys`."""

    def __init__(
        self, per_minute: int, *, keys: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.keys = keys
        self.clock = clock
        self._buckets: OrderedDict[int, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: int) -> float:
        """0 when allowed; else the seconds until the next push may come."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.pop(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
            if wait == 0.0:
                tokens -= 1
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self.keys:
                self._buckets.popitem(last=False)
            return wait


UNAUTHORIZED = "401 Unauthorized"
UNPROCESSABLE = "422 Unprocessable Content"


class PushRefused(Exception):
    """A push answered with a 4xx or 5xx JSON refusal (logged unless `logged` is False)."""

    def __init__(
        self,
        status: str,
        code: str,
        message: str,
        headers: list[tuple[str, str]] | None = None,
        *,
        logged: bool = True,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers, self.logged = headers or [], logged


def _no_constants(name: str) -> float:
    raise PushRefused(
        UNPROCESSABLE,
        "invalid_value",
        f"{name} is not a number Ladder can record: send a real number.",
    )


def parse_body(raw: bytes) -> tuple[float, str]:
    """The value and note of a push body, or PushRefused saying what is wrong."""
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constants)
    except PushRefused:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise PushRefused(
            "400 Bad Request",
            "invalid_json",
            'The body must be JSON like {"value": 123, "note": "…"}.',
        ) from None
    if not isinstance(data, dict):
        raise PushRefused(
            "400 Bad Request", "invalid_json", 'The body must be a JSON object like {"value": 123}.'
        )
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        raise PushRefused(
            UNPROCESSABLE,
            "unknown_field",
            f"Unknown field(s): {', '.join(unknown)[:200]}. Send value and, optionally, note.",
        )
    if "value" not in data:
        raise PushRefused(UNPROCESSABLE, "missing_value", 'Send the number as "value".')
    value = data["value"]
    if isinstance(value, bool) or not isinstance(value, int | float):
        kind = (
            "text" if isinstance(value, str) else "null" if value is None else type(value).__name__
        )
        raise PushRefused(
            UNPROCESSABLE, "invalid_value", f'"value" must be a JSON number, not {kind}.'
        )
    try:
        number = float(value)
    except OverflowError:
        number = float("inf")
    problem = number_problem(number, what="value")
    if problem:
        raise PushRefused(UNPROCESSABLE, "invalid_value", problem)
    note = data.get("note", "")
    if note is None:
        note = ""
    if not isinstance(note, str):
        raise PushRefused(UNPROCESSABLE, "invalid_note", '"note" must be text.')
    if len(note) > NOTE_MAX:
        raise PushRefused(
            UNPROCESSABLE, "invalid_note", f"Keep the note under {NOTE_MAX} characters."
        )
    return number, note


def make_push_app(service: SourceService, *, per_minute: int) -> WSGIApp:
    limit = RateLimit(per_minute)

    def push(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        kr_id: int | None = None
        try:
            match = PUSH_PATH.match(environ.get("PATH_INFO", ""))
            if match is None:
                raise PushRefused(
                    "404 Not Found", "not_found", "POST to /api/key-results/<id>/value."
                )
            kr_id = int(match.group(1))
            if environ.get("REQUEST_METHOD") != "POST":
                raise PushRefused(
                    "405 Method Not Allowed",
                    "method_not_allowed",
                    "POST only.",
                    [("Allow", "POST")],
                )
            token = _bearer(environ)
            wait = limit.take(kr_id)
            if wait:
                raise PushRefused(
                    "429 Too Many Requests",
                    "rate_limited",
                    f"At most {per_minute} pushes a minute for a key result; try again in {wait:.0f} s.",
                    [("Retry-After", str(max(1, round(wait))))],
                )
            value, note = parse_body(_body(environ))
            result = service.push(key_result_id=kr_id, token=token, value=value, note=note)
        except PushRefused as error:
            refused = error
        except NotFound:
            refused = PushRefused(
                UNAUTHORIZED,
                "invalid_token",
                "The token is not valid for this key result (wrong, or revoked).",
                [("WWW-Authenticate", 'Bearer error="invalid_token"')],
            )
        except Refused as error:
            refused = PushRefused(UNPROCESSABLE, "invalid_value", str(error), logged=False)
        except Unavailable:
            refused = PushRefused(
                "503 Service Unavailable",
                "unavailable",
                "Ladder's database did not answer; nothing was stored, try again.",
                [("Retry-After", "5")],
                logged=False,
            )
        else:
            ok = {"ok": True, "key_result_id": result.key_result_id, "value": result.value}
            return _json(start_response, "200 OK", {**ok, "recorded": result.recorded})
        if refused.logged:
            log_event(
                log,
                "push_refused",
                level=logging.WARNING,
                key_result=kr_id,
                status=int(refused.status.split()[0]),
                reason=refused.code,
                remote=environ.get("REMOTE_ADDR"),
            )
        return _json(
            start_response,
            refused.status,
            {"ok": False, "error": refused.code, "message": refused.message},
            refused.headers,
        )

    return push


def _bearer(environ: dict[str, Any]) -> str:
    header = environ.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise PushRefused(
            UNAUTHORIZED,
            "token_required",
            "Send the key result's push token: Authorization: Bearer <token>.",
            [("WWW-Authenticate", "Bearer")],
        )
    return token.strip()


def _body(environ: dict[str, Any]) -> bytes:
    raw_length = environ.get("CONTENT_LENGTH") or "0"
    if not raw_length.isdigit():
        raise PushRefused("400 Bad Request", "bad_content_length", "Send a Content-Length.")
    length = int(raw_length)
    if length > BODY_MAX:
        raise PushRefused(
            "413 Content Too Large", "body_too_large", f"Keep the body under {BODY_MAX:,} bytes."
        )
    return environ["wsgi.input"].read(length)


def _json(
    start_response: Callable[..., Any],
    status: str,
    answer: dict[str, Any],
    headers: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    no_store = [("Cache-Control", "no-store"), *(headers or [])]
    return answer_with(start_response, status, json.dumps(answer), "application/json", no_store)


def answer_with(
    start_response: Callable[..., Any],
    status: str,
    text: str,
    content_type: str,
    headers: Iterable[tuple[str, str]] = (),
) -> list[bytes]:
    """A whole WSGI answer: `text` with its type, its length and `headers`."""
    body = text.encode()
    length = ("Content-Length", str(len(body)))
    start_response(status, [("Content-Type", content_type), length, *headers])
    return [body]
