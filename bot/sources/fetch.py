"""Fetch one number from a data source: JSON with a JMESPath expression, a Prometheus
instant query, or a cell of a CSV file, all over HTTP(S) with httpx.

One `Fetcher` (one shared `httpx.Client`) serves a whole process: timeouts, a connection
limit, retries on connect errors (the transport) and on 5xx answers (here, with backoff), a
response-size cap enforced while streaming, and the address guard on every hop and every
new connection. Credentials are named, never stored: `LADDER_SOURCE_<NAME>` in the
environment holds a bearer token or a whole `Header-Name: value`.
"""

from __future__ import annotations

import contextvars
import csv
import io
import json
import math
import os
import re
import ssl
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from typing import Any

import httpcore
import httpx
import jmespath
import jmespath.exceptions

from bot.okr.validate import number_problem
from bot.sources.guard import ForbiddenAddress, checked_addresses, normalize_host

CREDENTIAL_PREFIX = "LADDER_SOURCE_"
CREDENTIAL_NAME = re.compile(r"[A-Z0-9_]{1,40}")
_HEADER_CREDENTIAL = re.compile(r"([A-Za-z0-9-]{1,64}):\s*(\S.*)")
URL_MAX = 2000
EXPRESSION_MAX = 1000
USER_AGENT = "Ladder-data-source/1"


class SourceKind(StrEnum):
    JSON = "json"
    PROMETHEUS = "prometheus"
    CSV = "csv"


KIND_LABELS: dict[SourceKind, str] = {
    SourceKind.JSON: "JSON over HTTP",
    SourceKind.PROMETHEUS: "Prometheus",
    SourceKind.CSV: "CSV over HTTP",
}


@dataclass(frozen=True)
class SourceSpec:
    """What to fetch and how to pick the number. `expression` is the JMESPath expression
    (JSON) or the PromQL query (Prometheus); `column` and `row_key` pick a CSV cell (the
    last row, or the row whose first cell equals `row_key`)."""

    kind: SourceKind
    url: str
    expression: str = ""
    column: str = ""
    row_key: str = ""
    multiplier: float = 1.0
    credential: str | None = None  # the NAME of LADDER_SOURCE_<NAME>


def spec_of(source: object) -> SourceSpec:
    """The spec of anything with its seven fields: a stored source (storage.models.DataSource)
    or an imported one (bot.services.transfer's SourceDoc, its kind given)."""
    spec = SourceSpec(**{f.name: getattr(source, f.name) for f in fields(SourceSpec)})
    return replace(spec, kind=SourceKind(spec.kind))


@dataclass(frozen=True)
class FetchPolicy:
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    total_timeout: float = 20.0  # a server dripping bytes cannot hold a worker longer
    max_bytes: int = 2_000_000
    attempts: int = 3  # tries on 5xx answers
    backoff: float = 0.5  # seconds before the 2nd try, doubling after
    connect_retries: int = 2  # transport-level retries of a failed connect
    max_redirects: int = 5
    max_connections: int = 32


@dataclass(frozen=True)
class Reading:
    """A value as it would be recorded: `raw` as the source gave it, `value` scaled."""

    value: float
    raw: float
    url: str  # where it was read, after redirects
    attempts: int = 1


@dataclass
class SourceError(Exception):
    """A source that could not give a number; `reason` is shown to the KR's owner."""

    reason: str
    status: int | None = field(default=None)

    def __str__(self) -> str:
        return self.reason


# -- validation ------------------------------------------------------------------------


def spec_problem(spec: SourceSpec) -> str | None:
    """Why a source as typed cannot work (shown where it was typed), or None."""
    try:
        url = httpx.URL(spec.url.strip())
    except (httpx.InvalidURL, TypeError):
        return "The URL is not a valid address."
    if url.scheme not in ("http", "https") or not url.host:
        return "The URL must start with http:// or https:// and name a host."
    if len(spec.url) > URL_MAX:
        return f"Keep the URL under {URL_MAX} characters."
    if url.userinfo:
        return (
            "Put no password in the URL: name a credential (LADDER_SOURCE_<NAME>) instead, "
            "so it is never stored."
        )
    if len(spec.expression) > EXPRESSION_MAX:
        return f"Keep the expression under {EXPRESSION_MAX} characters."
    if spec.kind is SourceKind.JSON:
        if not spec.expression.strip():
            return "Give a JMESPath expression that picks the number, e.g. data.active_users"
        try:
            jmespath.compile(spec.expression)
        except jmespath.exceptions.JMESPathError as error:
            return f"The JMESPath expression does not parse: {_first_line(error)}"
    elif spec.kind is SourceKind.PROMETHEUS:
        if not spec.expression.strip():
            return 'Give the Prometheus query, e.g. sum(up{job="api"})'
    elif spec.kind is SourceKind.CSV and not spec.column.strip():
        return "Name the CSV column that holds the number."
    if not math.isfinite(spec.multiplier) or spec.multiplier == 0:
        return "The multiplier must be a number other than 0 (1 keeps the value as it is)."
    if spec.credential is not None and not CREDENTIAL_NAME.fullmatch(spec.credential):
        return "A credential name is upper-case letters, digits and _ (LADDER_SOURCE_<NAME>)."
    return None


def credential_names(environ: Mapping[str, str] | None = None) -> list[str]:
    """The credential names whoever runs Ladder has set, for the modal to offer."""
    environ = os.environ if environ is None else environ
    return sorted(
        name.removeprefix(CREDENTIAL_PREFIX)
        for name, value in environ.items()
        if name.startswith(CREDENTIAL_PREFIX)
        and value
        and CREDENTIAL_NAME.fullmatch(name.removeprefix(CREDENTIAL_PREFIX))
    )


def credential_headers(name: str | None, environ: Mapping[str, str]) -> dict[str, str]:
    if name is None:
        return {}
    secret = environ.get(CREDENTIAL_PREFIX + name, "")
    if not secret:
        raise SourceError(f"the credential {CREDENTIAL_PREFIX}{name} is not set on the server")
    return secret_headers(secret)


def secret_headers(secret: str) -> dict[str, str]:
    """The header a credential's value stands for: a whole `Header-Name: value`, or else a
    bearer token."""
    header = _HEADER_CREDENTIAL.fullmatch(secret.strip())
    if header:
        return {header.group(1): header.group(2)}
    return {"Authorization": f"Bearer {secret.strip()}"}


# -- the guarded transport --------------------------------------------------------------

# The allow-list of the fetch under way; the connection backend reads it at connect time.
_allowed_hosts: contextvars.ContextVar[Collection[str]] = contextvars.ContextVar(
    "ladder_source_allowed_hosts", default=frozenset()
)


class _GuardedBackend(httpcore.SyncBackend):
    """Connects only to addresses the guard permits, resolving the name itself, so the
    address checked is the address connected to."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        addresses = checked_addresses(host, port, allowed_hosts=_allowed_hosts.get())
        error: Exception | None = None
        for address in addresses:
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as failure:
                error = failure
        assert error is not None
        raise error


class _GuardedTransport(httpx.HTTPTransport):
    def __init__(self, policy: FetchPolicy) -> None:
        limits = httpx.Limits(
            max_connections=policy.max_connections,
            max_keepalive_connections=policy.max_connections,
        )
        super().__init__(trust_env=False, limits=limits, retries=policy.connect_retries)
        # httpx has no parameter for the network backend: rebuild its pool with ours.
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl.create_default_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            retries=policy.connect_retries,
            network_backend=_GuardedBackend(),
        )


# -- fetching ----------------------------------------------------------------------------


class Fetcher:
    """The process's one HTTP client for data sources. Thread-safe; close() at exit."""

    def __init__(
        self,
        policy: FetchPolicy | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        sleep: Any = time.sleep,
    ) -> None:
        self.policy = policy or FetchPolicy()
        self.environ = os.environ if environ is None else environ
        self._sleep = sleep
        self.client = httpx.Client(
            transport=_GuardedTransport(self.policy),
            timeout=httpx.Timeout(
                self.policy.read_timeout, connect=self.policy.connect_timeout, pool=None
            ),
            follow_redirects=False,  # followed by hand: each hop is checked
            headers={"User-Agent": USER_AGENT},
        )

    def close(self) -> None:
        self.client.close()

    def read(self, spec: SourceSpec, *, allowed_hosts: Collection[str] = ()) -> Reading:
        """Fetch and pick the number, scaled by the multiplier; SourceError says why not.
        ForbiddenAddress is a SourceError's reason too: nothing is requested from it."""
        problem = spec_problem(spec)
        if problem:
            raise SourceError(problem)
        allowed = frozenset(normalize_host(h) for h in allowed_hosts)
        url = _request_url(spec)
        headers = credential_headers(spec.credential, self.environ)
        deadline = time.monotonic() + self.policy.total_timeout
        attempt = 0
        while True:
            attempt += 1
            try:
                body, final_url, content_type = self._get(url, headers, allowed, deadline)
                break
            except _ServerError as error:
                if attempt >= self.policy.attempts:
                    raise SourceError(
                        f"the server answered HTTP {error.status} ({attempt} tries)",
                        status=error.status,
                    ) from None
                pause = self.policy.backoff * 2 ** (attempt - 1)
                if time.monotonic() + pause >= deadline:
                    raise SourceError(f"the server answered HTTP {error.status}") from None
                self._sleep(pause)
        raw = _pick(spec, body, content_type)
        value = raw * spec.multiplier
        problem = number_problem(value, what="value")
        if problem:
            raise SourceError(f"{problem} (read {raw!r} × {spec.multiplier:g})")
        return Reading(value=0.0 if value == 0 else value, raw=raw, url=final_url, attempts=attempt)

    def _get(
        self, url: str, headers: dict[str, str], allowed: frozenset[str], deadline: float
    ) -> tuple[bytes, str, str]:
        current = httpx.URL(url)
        origin = _origin(current)
        token = _allowed_hosts.set(allowed)
        try:
            for _hop in range(self.policy.max_redirects + 1):
                # Checked before every request: a pooled connection opened for another
                # workspace's allow-list must not carry this one to a private host.
                try:
                    checked_addresses(
                        current.host, current.port or _default_port(current), allowed_hosts=allowed
                    )
                    hop_headers = headers if _origin(current) == origin else {}
                    with self.client.stream("GET", current, headers=hop_headers) as response:
                        if response.is_redirect:
                            location = response.headers.get("location", "")
                            current = current.join(location)
                            if current.scheme not in ("http", "https"):
                                raise SourceError(f"redirected to a {current.scheme} address")
                            continue
                        if response.status_code >= 500:
                            raise _ServerError(response.status_code)
                        if not response.is_success:
                            raise SourceError(
                                f"the server answered HTTP {response.status_code}",
                                status=response.status_code,
                            )
                        body = self._read_capped(response, deadline)
                        return body, str(current), response.headers.get("content-type", "")
                except ForbiddenAddress as error:
                    raise SourceError(str(error)) from None
                except httpx.TimeoutException:
                    raise SourceError("the server did not answer in time") from None
                except httpx.TransportError as error:
                    raise SourceError(
                        f"could not reach {current.host}: {_first_line(error)}"
                    ) from None
            raise SourceError(f"more than {self.policy.max_redirects} redirects")
        finally:
            _allowed_hosts.reset(token)

    def _read_capped(self, response: httpx.Response, deadline: float) -> bytes:
        cap = self.policy.max_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise SourceError(f"the response is {int(declared):,} bytes, above the {cap:,} cap")
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes(64 * 1024):  # decoded: a zip bomb counts in full
            size += len(chunk)
            if size > cap:
                raise SourceError(f"the response is larger than the {cap:,}-byte cap")
            if time.monotonic() > deadline:
                raise SourceError("the server did not answer in time")
            chunks.append(chunk)
        return b"".join(chunks)


class _ServerError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _origin(url: httpx.URL) -> tuple[str, str, int]:
    return url.scheme, url.host, url.port or _default_port(url)


def _default_port(url: httpx.URL) -> int:
    return 443 if url.scheme == "https" else 80


def _request_url(spec: SourceSpec) -> str:
    url = spec.url.strip()
    if spec.kind is not SourceKind.PROMETHEUS:
        return url
    base = httpx.URL(url)
    path = base.path.rstrip("/")
    if not path.endswith("/api/v1/query"):
        path += "/api/v1/query"
    return str(base.copy_with(path=path, params={"query": spec.expression.strip()}))


# -- picking the number --------------------------------------------------------------------


def _pick(spec: SourceSpec, body: bytes, content_type: str) -> float:
    if spec.kind is SourceKind.CSV:
        return _pick_csv(spec, _text(body, content_type))
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as error:
        raise SourceError(f"the response is not JSON ({_first_line(error)})") from None
    if spec.kind is SourceKind.PROMETHEUS:
        return _pick_prometheus(data)
    try:
        found = jmespath.search(spec.expression, data)
    except jmespath.exceptions.JMESPathError as error:
        raise SourceError(f"the expression failed: {_first_line(error)}") from None
    return _as_number(found, what="the expression")


def _as_number(found: object, *, what: str) -> float:
    if found is None:
        raise SourceError(f"{what} matched nothing")
    if isinstance(found, bool):
        raise SourceError(f"{what} matched {str(found).lower()}, not a number")
    if isinstance(found, int | float):
        try:
            number = float(found)
        except OverflowError:
            raise SourceError(f"{what} matched a number too large to use") from None
        if not math.isfinite(number):
            raise SourceError(f"{what} matched {number}, not a real number")
        return number
    if isinstance(found, str):
        shown = found if len(found) <= 40 else found[:39] + "…"
        raise SourceError(
            f"{what} matched the text “{shown}”, not a number (to_number(…) converts text)"
        )
    raise SourceError(f"{what} matched a {_json_type(found)}, not a number")


def _pick_prometheus(data: Any) -> float:
    if not isinstance(data, dict) or "status" not in data:
        raise SourceError("the response is not a Prometheus API answer")
    if data.get("status") != "success":
        raise SourceError(f"Prometheus refused the query: {data.get('error') or 'no reason'}")
    result = data.get("data") or {}
    kind = result.get("resultType")
    samples = result.get("result")
    if kind == "scalar":
        pair = samples
    elif kind == "vector":
        if not isinstance(samples, list) or len(samples) != 1:
            count = len(samples) if isinstance(samples, list) else 0
            raise SourceError(
                f"the query returned {count} samples; it must return exactly one "
                "(aggregate it, e.g. sum(…))"
            )
        pair = samples[0].get("value") if isinstance(samples[0], dict) else None
    else:
        raise SourceError(f"the query returned a {kind}; use an instant query with one sample")
    if not isinstance(pair, list) or len(pair) != 2 or not isinstance(pair[1], str):
        raise SourceError("the Prometheus answer has no sample value")
    try:
        number = float(pair[1])
    except ValueError:
        raise SourceError(f"the sample value “{pair[1][:40]}” is not a number") from None
    if not math.isfinite(number):
        raise SourceError(f"the sample value is {pair[1]}, not a real number")
    return number


def _text(body: bytes, content_type: str) -> str:
    charset = httpx.Headers({"content-type": content_type}).encoding or "utf-8-sig"
    try:
        return body.decode(charset)
    except (LookupError, UnicodeDecodeError):
        try:
            return body.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise SourceError("the CSV is not text (UTF-8)") from None


def _pick_csv(spec: SourceSpec, text: str) -> float:
    rows = [row for row in csv.reader(io.StringIO(text.lstrip("\ufeff"))) if any(row)]
    if not rows:
        raise SourceError("the CSV is empty")
    header = [cell.strip() for cell in rows[0]]
    wanted = spec.column.strip()
    lowered = [cell.lower() for cell in header]
    if wanted in header:
        index = header.index(wanted)
    elif wanted.lower() in lowered:
        index = lowered.index(wanted.lower())
    else:
        shown = ", ".join(header[:10])
        raise SourceError(f"the CSV has no column “{wanted}” (it has: {shown})")
    data = rows[1:]
    if spec.row_key.strip():
        key = spec.row_key.strip()
        matching = [row for row in data if row and row[0].strip() == key]
        if not matching:
            raise SourceError(f"no CSV row starts with “{key}”")
        row = matching[-1]
    elif data:
        row = data[-1]
    else:
        raise SourceError("the CSV has a header but no rows")
    if index >= len(row) or not row[index].strip():
        raise SourceError(f"the “{header[index]}” cell is empty")
    cell = row[index].strip()
    cleaned = cell.replace(",", "").replace("_", "").replace(" ", "").removesuffix("%")
    try:
        number = float(cleaned)
    except ValueError:
        raise SourceError(f"the “{header[index]}” cell is “{cell[:40]}”, not a number") from None
    return _as_number(number, what=f"the “{header[index]}” cell")


def _json_type(value: object) -> str:
    return "list" if isinstance(value, list) else "object" if isinstance(value, dict) else "value"


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or error.__class__.__name__
    return text.splitlines()[0][:200]
