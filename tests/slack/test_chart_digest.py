"""The weekly digest carries the team's picture: each objective now, a week ago, and pace.

The data drawn is compared with what the digest says in words (18% → 24% for the platform
objective in tests/slack/test_digests.py's company), not with pixels.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

import bot.pictures
from bot.charts import WIDTH_PX, team_height
from bot.okr.trend import TeamTrend
from bot.pictures import NOT_ATTACHED
from tests.slack.conftest import Ladder
from tests.slack.test_digests import (  # noqa: F401  (company is a fixture)
    FRIDAY,
    PLATFORM_CHANNEL,
    at_utc,
    company,
    posts_to,
    sender,
)


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    seen: list[Any] = []
    real = bot.pictures.draw

    def spy(chart: Any) -> Any:
        seen.append(chart)
        return real(chart)

    monkeypatch.setattr(bot.pictures, "draw", spy)
    return seen


def test_the_digest_carries_the_team_chart(
    ladder: Ladder,
    company: dict[str, int],  # noqa: F811  (the fixture imported above)
    drawn: list[Any],
) -> None:
    ladder.clock.now = at_utc(FRIDAY, 15, 0)
    sender(ladder).run()
    [post] = posts_to(ladder, PLATFORM_CHANNEL)
    assert post.status == 200 and post.response["ok"]
    [image] = [b for b in post.args["blocks"] if b["type"] == "image"]
    uploaded = ladder.standin.files[image["slack_file"]["id"]]
    assert uploaded.completed and uploaded.team_id == post.team_id
    [team] = [t for t in drawn if isinstance(t, TeamTrend) and t.scope == "Platform"]
    picture = Image.open(io.BytesIO(uploaded.content or b""))
    assert picture.size == (WIDTH_PX, team_height(team))
    bars = {b.title: b for b in team.bars}
    platform = bars["Launch a new communication platform"]
    # The digest's own words: "18% → 24% (+6)".
    assert (round(platform.before * 100), round(platform.progress * 100)) == (18, 24)
    assert "Launch a new communication platform" in image["alt_text"]
    assert "24% (+6)" in image["alt_text"]
    assert set(bars) == {"Launch a new communication platform", "Ship the API", "Harden the API"}


def test_a_digest_goes_out_when_its_chart_cannot(
    ladder: Ladder,
    company: dict[str, int],  # noqa: F811  (the fixture imported above)
) -> None:
    ladder.standin.fail_next("files.getUploadURLExternal", error="internal_error", times=10)
    ladder.clock.now = at_utc(FRIDAY, 15, 0)
    sender(ladder).run()
    [post] = posts_to(ladder, PLATFORM_CHANNEL)
    assert post.status == 200 and post.response["ok"]
    assert [b for b in post.args["blocks"] if b["type"] == "image"] == []
    assert NOT_ATTACHED in str(post.args["blocks"])
    assert "Launch a new communication platform" in str(post.args["blocks"])
