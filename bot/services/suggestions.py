"""Suggested key results from an OpenAI-compatible chat completions endpoint.

Off unless an admin sets LADDER_LLM_URL (bot/config.py): then the objective form's
"✨ Suggest KRs" sends the objective as typed (title, why, the objective it ladders up to, the
KRs already written, the cycle) to `POST {url}/chat/completions` and offers back only the
suggestions the KR parser can read (bot/okr/suggest.py).

One httpx client per process: connect and read timeouts, a deadline for the whole answer, a
size cap enforced while streaming, no redirects, no proxy from the environment. The URL is
the admin's own, so a private address (a model served on the same network) is allowed; the
data sources' address guard, made for URLs members type, does not apply. The API key is read
from the environment when asked for, by the name LADDER_LLM_API_KEY_ENV gives.

A model may take tens of seconds: `later` runs that wait on a small pool of its own, never on
the listener thread that renders every other reply.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import httpx

from bot.logs import log_event
from bot.okr.suggest import AnswerError, SuggestRequest, chat_messages, offers, read_answer
from bot.sources.fetch import secret_headers

log = logging.getLogger("ladder.suggestions")
USER_AGENT = "Ladder-suggestions/1"


@dataclass(frozen=True)
class SuggestionSettings:
    url: str  # the API's base URL: …/v1
    model: str = ""
    api_key_env: str | None = None  # the name of the variable that holds the key
    timeout: float = 30.0  # seconds for the whole answer
    max_bytes: int = 256_000  # a larger answer is refused
    max_tokens: int = 1000
    workers: int = 2  # answers waited for at once
    queue: int = 8  # more asks than this waiting: "busy, try again"


@dataclass(frozen=True)
class Suggested:
    sentences: list[str]  # what the parser can read, in the model's order
    left_out: int  # suggestions it could not read as key results


class SuggestionError(Exception):
    """No suggestions this time; `reason` is shown to the person, in plain words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SuggestionService:
    def __init__(
        self,
        settings: SuggestionSettings,
        *,
        clock: Callable[[], datetime],
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.environ = os.environ if environ is None else environ
        connect = min(5.0, settings.timeout)
        self.client = httpx.Client(
            timeout=httpx.Timeout(settings.timeout, connect=connect),
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": USER_AGENT},
            limits=httpx.Limits(max_connections=settings.workers),
        )
        self._pool = ThreadPoolExecutor(settings.workers, thread_name_prefix="ladder-suggest")
        self._lock = threading.Lock()
        self._waiting = 0

    @property
    def label(self) -> str:
        """Who suggests, as the form names it: the model, or the server's host."""
        return self.settings.model or httpx.URL(self.settings.url).host or "the model"

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()

    def later(self, work: Callable[[], None]) -> bool:
        """Run `work` on the service's own threads; False (and not run) when too many asks are
        already waiting. `work` handles its own failures; anything it lets out is logged."""
        with self._lock:
            if self._waiting >= self.settings.queue:
                return False
            self._waiting += 1

        def run() -> None:
            try:
                work()
            except Exception:
                log.exception("suggestion work failed")
            finally:
                with self._lock:
                    self._waiting -= 1

        self._pool.submit(run)
        return True

    def suggest(self, request: SuggestRequest, *, typed: list[str] | None = None) -> Suggested:
        """Ask the model; the sentences worth offering (bot.okr.suggest.offers, `typed` being
        the form's KR slot texts), or SuggestionError saying why there are none."""
        today = self.clock().date()
        started = time.monotonic()
        try:
            completion = self._ask(chat_messages(request, today=today))
            sentences = read_answer(completion)
        except SuggestionError as error:
            self._log("error", started, error=error.reason)
            raise
        except AnswerError as error:
            self._log("error", started, error=str(error))
            raise SuggestionError(str(error)) from None
        found, left_out = offers(
            sentences,
            title=request.title,
            typed=typed if typed is not None else list(request.key_results),
            today=today,
            cycle_end=request.cycle_end,
        )
        self._log("ok", started, suggested=len(sentences), offered=len(found), unreadable=left_out)
        return Suggested([o.sentence for o in found], left_out)

    def _ask(self, messages: list[dict[str, str]]) -> object:
        settings = self.settings
        body: dict[str, object] = {
            "messages": messages,
            "temperature": 0.3,
            "max_tokens": settings.max_tokens,
            "stream": False,
        }
        if settings.model:
            body["model"] = settings.model
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if settings.api_key_env:
            secret = self.environ.get(settings.api_key_env, "")
            if not secret.strip():
                raise SuggestionError("the model's API key is not set on the server")
            headers.update(secret_headers(secret))
        deadline = time.monotonic() + settings.timeout
        try:
            with self.client.stream(
                "POST",
                f"{settings.url}/chat/completions",
                content=json.dumps(body).encode(),
                headers=headers,
            ) as response:
                if response.status_code >= 300:
                    log_event(
                        log,
                        "refused",
                        level=logging.WARNING,
                        status=response.status_code,
                        body=_peek(response),
                    )
                    raise SuggestionError(f"the model server answered HTTP {response.status_code}")
                raw = self._read_capped(response, deadline)
        except httpx.TimeoutException:
            raise SuggestionError(
                f"the model did not answer within {settings.timeout:g} seconds"
            ) from None
        except httpx.TransportError as error:
            log_event(log, "unreachable", level=logging.WARNING, error=type(error).__name__)
            raise SuggestionError("Ladder could not reach the model server") from None
        try:
            return json.loads(raw)
        except (UnicodeDecodeError, ValueError):
            raise SuggestionError("the model server's answer is not JSON") from None

    def _read_capped(self, response: httpx.Response, deadline: float) -> bytes:
        cap = self.settings.max_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise SuggestionError(f"the model's answer is larger than {cap // 1000} kB")
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes(16 * 1024):
            size += len(chunk)
            if size > cap:
                raise SuggestionError(f"the model's answer is larger than {cap // 1000} kB")
            if time.monotonic() > deadline:
                raise httpx.ReadTimeout("the whole answer took too long")
            chunks.append(chunk)
        return b"".join(chunks)

    def _log(self, status: str, started: float, **fields: object) -> None:
        log_event(
            log,
            "suggest",
            level=logging.WARNING if status != "ok" else logging.INFO,
            status=status,
            duration_ms=round((time.monotonic() - started) * 1000),
            **fields,
        )


def _peek(response: httpx.Response) -> str:
    """The start of an error answer, for the log (never shown to the person)."""
    try:
        for chunk in response.iter_bytes(512):
            return chunk[:300].decode("utf-8", "replace")
    except httpx.HTTPError:
        pass
    return ""


def make_suggestion_service(
    *,
    url: str | None,
    model: str = "",
    api_key_env: str | None = None,
    timeout: float = 30.0,
    clock: Callable[[], datetime],
) -> SuggestionService | None:
    """The process's suggestion service; None when no model is configured (the default)."""
    if not url:
        return None
    return SuggestionService(
        SuggestionSettings(url=url, model=model, api_key_env=api_key_env, timeout=timeout),
        clock=clock,
    )
