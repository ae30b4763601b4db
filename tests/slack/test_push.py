"""POST /api/key-results/<id>/value on the running server: a live per-KR token is needed
(none: 401, wrong: 401, revoked: 401), hostile bodies get a clear 4xx JSON error, nothing is
stored on any refusal, pushes are rate limited per KR; a good push moves the KR."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select

from bot.jobs.sources import make_source_service
from bot.push_api import RateLimit
from bot.services.sources import SourceService
from storage.models import CheckIn, KeyResult
from tests.slack.conftest import ACME, CEO, Ladder
from tests.slack.test_checkin_permissions import World, world

__all__ = ["world"]


@pytest.fixture
def sources(ladder: Ladder) -> Iterator[SourceService]:
    service = make_source_service(ladder.engine, None, clock=ladder.clock)
    yield service
    service.fetcher.close()


@pytest.fixture
def api(ladder: Ladder) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ladder.url.removesuffix("/slack/events"), timeout=10) as client:
        yield client


def token_for(sources: SourceService, kr_id: int) -> str:
    return sources.new_push_token(
        workspace_id=ACME, user_id=CEO, is_admin=lambda: True, key_result_id=kr_id
    )


def stored(ladder: Ladder, kr_id: int) -> tuple[float | None, int]:
    with Session(ladder.engine) as session:
        kr = session.get_one(KeyResult, kr_id)
        check_ins = session.exec(select(CheckIn).where(CheckIn.key_result_id == kr_id)).all()
        return kr.current_value, len(check_ins)


def push(
    api: httpx.Client, kr_id: int, token: str | None, body: Any, **options: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if isinstance(body, (bytes, str)):
        return api.post(f"/api/key-results/{kr_id}/value", content=body, headers=headers, **options)
    return api.post(f"/api/key-results/{kr_id}/value", json=body, headers=headers, **options)


def test_a_good_push_is_recorded(
    ladder: Ladder, world: World, sources: SourceService, api: httpx.Client
) -> None:
    kr_id = world.ceo_krs[0]
    token = token_for(sources, kr_id)
    answer = push(api, kr_id, token, {"value": 4321, "note": "nightly export"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"ok": True, "key_result_id": kr_id, "value": 4321, "recorded": True}
    assert stored(ladder, kr_id) == (4321, 1)
    with Session(ladder.engine) as session:
        [check_in] = session.exec(select(CheckIn)).all()
    assert (check_in.author_id, check_in.source, check_in.note) == (
        "data source",
        "push",
        "nightly export",
    )
    again = push(api, kr_id, token, {"value": 4321})
    assert again.json()["recorded"] is False and stored(ladder, kr_id) == (4321, 1)


def test_tokens_are_required_and_checked(
    ladder: Ladder, world: World, sources: SourceService, api: httpx.Client
) -> None:
    kr_id, other_kr = world.ceo_krs[0], world.ceo_krs[1]
    token = token_for(sources, kr_id)
    other = token_for(sources, other_kr)
    missing = push(api, kr_id, None, {"value": 1})
    assert (missing.status_code, missing.json()["error"]) == (401, "token_required")
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    wrong = push(api, kr_id, token[:-2] + "xx", {"value": 1})
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_token")
    crossed = push(api, kr_id, other, {"value": 1})  # another KR's token
    assert crossed.status_code == 401
    sources.revoke_push_token(
        workspace_id=ACME, user_id=CEO, is_admin=lambda: True, key_result_id=kr_id
    )
    revoked = push(api, kr_id, token, {"value": 1})
    assert (revoked.status_code, revoked.json()["error"]) == (401, "invalid_token")
    # A new token replaces the old one: only the newest works.
    newer = token_for(sources, other_kr)
    assert push(api, other_kr, other, {"value": 1}).status_code == 401
    assert push(api, other_kr, newer, {"value": 1}).status_code == 200
    assert stored(ladder, kr_id) == (None, 0)


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b'{"value": NaN}', 422, "invalid_value"),
        (b'{"value": Infinity}', 422, "invalid_value"),
        (b'{"value": -Infinity}', 422, "invalid_value"),
        (b'{"value": 1e400}', 422, "invalid_value"),
        (b'{"value": 1e16}', 422, "invalid_value"),
        (b'{"value": "123"}', 422, "invalid_value"),
        (b'{"value": true}', 422, "invalid_value"),
        (b'{"value": null}', 422, "invalid_value"),
        (b'{"value": [1]}', 422, "invalid_value"),
        (b'{"note": "no value"}', 422, "missing_value"),
        (b'{"value": 1, "author_id": "U0CEO"}', 422, "unknown_field"),
        (b'{"value": 1, "note": 5}', 422, "invalid_note"),
        (b'{"value": 1, "note": "' + b"x" * 1001 + b'"}', 422, "invalid_note"),
        (b"[1, 2]", 400, "invalid_json"),
        (b"value=1", 400, "invalid_json"),
        (b"\xff\xfe", 400, "invalid_json"),
        (b"[" * 5_000 + b"]" * 5_000, 400, "invalid_json"),
        (b'{"value": 1, "note": "' + b"x" * 20_000 + b'"}', 413, "body_too_large"),
    ],
)
def test_hostile_bodies_are_refused_and_nothing_is_stored(
    ladder: Ladder,
    world: World,
    sources: SourceService,
    api: httpx.Client,
    body: bytes,
    status: int,
    error: str,
) -> None:
    kr_id = world.ceo_krs[0]
    token = token_for(sources, kr_id)
    answer = push(api, kr_id, token, body)
    assert answer.status_code == status, answer.text
    data = answer.json()
    assert data["ok"] is False and data["error"] == error and data["message"]
    assert stored(ladder, kr_id) == (None, 0)


def test_other_methods_and_paths(world: World, api: httpx.Client) -> None:
    assert api.get(f"/api/key-results/{world.ceo_krs[0]}/value").status_code == 405
    assert api.post("/api/key-results/abc/value", json={"value": 1}).status_code == 404


def test_pushes_are_rate_limited_per_key_result(
    ladder: Ladder, world: World, sources: SourceService, api: httpx.Client
) -> None:
    """60 a minute, refilled a second at a time: a burst of 100 gets 60 (plus what refilled
    while it ran) through, the rest 429 with Retry-After, and stores nothing for those."""
    kr_id = world.ceo_krs[0]
    token = token_for(sources, kr_id)
    began = time.monotonic()
    answers = [push(api, kr_id, token, {"value": n}) for n in range(100)]
    elapsed = time.monotonic() - began
    ok = [n for n, a in enumerate(answers) if a.status_code == 200]
    limited = [a for a in answers if a.status_code == 429]
    assert 60 <= len(ok) <= 60 + math.ceil(elapsed) and len(ok) + len(limited) == 100
    assert all(int(a.headers["Retry-After"]) >= 1 for a in limited)
    assert limited[0].json()["error"] == "rate_limited"
    assert stored(ladder, kr_id)[0] == ok[-1]  # the refused pushes stored nothing
    other = world.ceo_krs[1]
    assert push(api, other, token_for(sources, other), {"value": 1}).status_code == 200


def test_the_rate_limit_refills_over_time() -> None:
    now = [0.0]
    limit = RateLimit(60, keys=2, clock=lambda: now[0])
    assert [limit.take(1) for _ in range(60)] == [0.0] * 60
    assert limit.take(1) == pytest.approx(1.0)
    now[0] += 1.0
    assert limit.take(1) == 0.0 and limit.take(1) > 0
    limit.take(2), limit.take(3)  # past `keys`, the least recently used KR is forgotten
    assert 1 not in limit._buckets
