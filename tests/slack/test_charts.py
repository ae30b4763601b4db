"""Trend charts end to end: each surface's image block references a file Ladder uploaded
(through the stand-in's files.getUploadURLExternal, upload URL, files.completeUploadExternal),
the PNG decodes at its size, alt text is present, and what was plotted is the stored data.

What is drawn is recorded by wrapping bot.pictures.draw (the real drawing still runs), so
the tests compare the chart's data with the database, not pixels.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlmodel import Session, select

import bot.pictures
from bot.charts import HEIGHT_PX, WIDTH_PX
from bot.okr.trend import KRTrend, ObjectiveTrend, Point
from bot.pictures import NOT_ATTACHED
from storage.checkins import record_check_in
from storage.models import ChartFile, CheckIn, KeyResult
from storage.workspaces import update_workspace
from tests.factories import reference_company
from tests.slack.conftest import ACME, CEO, Ladder
from tests.slack.test_surfaces import click
from tests.support.slack_standin import SlackStandIn, dm_channel_id

USERS_KR = "Achieve 1 million active users within six months"
PLATFORM = "Launch a new communication platform"
READINGS = ((date(2026, 1, 12), 100_000), (date(2026, 1, 26), 180_000), (date(2026, 2, 9), 250_000))


def at_utc(day: date, hour: int = 15) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.fixture
def company(ladder: Ladder) -> dict[str, int]:
    """The reference company (CEO's), its users KR checked in three times."""
    with Session(ladder.engine, expire_on_commit=False) as session:
        ref = reference_company(
            session, workspace_id=ACME, owner_id=CEO, now=at_utc(date(2026, 1, 5))
        )
        users = session.exec(select(KeyResult).where(KeyResult.title == USERS_KR)).one()
        for day, value in READINGS:
            record_check_in(
                session=session,
                workspace_id=ACME,
                key_result_id=users.id,  # type: ignore[arg-type]
                author_id=CEO,
                value=value,
                period_start=day,
                now=at_utc(day),
            )
        session.commit()
        return {"users": users.id, "platform": ref.platform.id}  # type: ignore[dict-item]


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The chart data of every picture drawn, in order."""
    seen: list[Any] = []
    real = bot.pictures.draw

    def spy(chart: Any) -> Any:
        seen.append(chart)
        return real(chart)

    monkeypatch.setattr(bot.pictures, "draw", spy)
    return seen


def images(blocks: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return [b for b in blocks or [] if b["type"] == "image"]


def check_picture(standin: SlackStandIn, block: dict[str, Any], *, height: int = HEIGHT_PX) -> None:
    """The block shows a file Ladder uploaded and completed: a PNG of the expected size."""
    uploaded = standin.files[block["slack_file"]["id"]]
    assert uploaded.team_id == ACME and uploaded.completed and uploaded.content is not None
    assert uploaded.filename.endswith(".png")
    picture = Image.open(io.BytesIO(uploaded.content))
    assert (picture.format, picture.size) == ("PNG", (WIDTH_PX, height))
    assert len(block["alt_text"]) > 40 and block["alt_text"] == uploaded.alt_txt


def stored_points(ladder: Ladder, kr_id: int) -> list[Point]:
    with Session(ladder.engine) as session:
        rows = session.exec(
            select(CheckIn).where(CheckIn.key_result_id == kr_id).order_by(CheckIn.created_at)
        ).all()
        return [Point(r.created_at.date(), r.value) for r in rows if r.value is not None]


def chart_command(ladder: Ladder, words: str) -> Any:
    before = len(ladder.standin.responses)
    ladder.acme.slash_command(f"chart {words}", user_id=CEO)
    ladder.wait_idle()
    [reply] = ladder.standin.responses[before:]
    return reply


def test_okr_chart_posts_the_kr_chart_in_the_channel(
    ladder: Ladder, company: dict[str, int], drawn: list[Any]
) -> None:
    reply = chart_command(ladder, "achieve 1 MILLION active users")
    assert reply.response_type == "in_channel"
    [image] = images(reply.blocks)
    check_picture(ladder.standin, image)
    assert [
        c.method for c in ladder.standin.calls() if "file" in c.method or c.method == "upload"
    ] == [
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]
    [trend] = drawn
    assert isinstance(trend, KRTrend) and trend.title == USERS_KR
    assert list(trend.points) == stored_points(ladder, company["users"])
    assert [p.value for p in trend.points] == [v for _, v in READINGS]
    assert (trend.start_value, trend.target_value) == (0, 1_000_000)
    assert (trend.pace_start, trend.today) == (date(2026, 1, 5), date(2026, 2, 16))
    # 250k after 35 days from 0: 7,142.86 a day, 146 days to go -> ~1.29M on the due date.
    assert trend.projected_value == pytest.approx(250_000 + 250_000 / 35 * 146)
    assert "250k active users on Feb 9" in image["alt_text"]
    assert "250k" in reply.text  # the words say it too, for notifications and screen readers


def test_an_unchanged_chart_is_not_drawn_or_uploaded_again(
    ladder: Ladder, company: dict[str, int], drawn: list[Any]
) -> None:
    first = images(chart_command(ladder, PLATFORM).blocks)
    second = images(chart_command(ladder, PLATFORM).blocks)
    assert len(ladder.standin.calls("files.getUploadURLExternal")) == 1
    assert len(drawn) == 1 and isinstance(drawn[0], ObjectiveTrend)
    assert first[0]["slack_file"] == second[0]["slack_file"]
    assert first[0]["alt_text"] == second[0]["alt_text"]
    # A new check-in changes the picture: drawn and uploaded once more.
    with Session(ladder.engine) as session:
        record_check_in(
            session=session,
            workspace_id=ACME,
            key_result_id=company["users"],
            author_id=CEO,
            value=300_000,
            period_start=date(2026, 2, 16),
            now=ladder.clock.now,
        )
        session.commit()
    third = images(chart_command(ladder, PLATFORM).blocks)
    assert len(ladder.standin.calls("files.getUploadURLExternal")) == 2
    assert third[0]["slack_file"] != first[0]["slack_file"]
    check_picture(ladder.standin, third[0])


def test_objective_chart_rolls_up_its_krs(
    ladder: Ladder, company: dict[str, int], drawn: list[Any]
) -> None:
    chart_command(ladder, PLATFORM)
    [trend] = drawn
    assert isinstance(trend, ObjectiveTrend) and trend.title == PLATFORM
    days = [d for d, _ in READINGS]
    assert [p.day for p in trend.points] == days
    title, line = trend.krs[0]
    assert title == USERS_KR and [p.value for p in line] == [0.1, 0.18, 0.25]
    with Session(ladder.engine) as session:
        krs = session.exec(
            select(KeyResult).where(KeyResult.objective_id == company["platform"])
        ).all()
    assert len(trend.krs) == len(krs)  # one thin line per KR
    # The roll-up after the last check-in is the status screens' progress of the objective.
    from bot.services.trees import TreeService

    tree, objective = TreeService(ladder.engine, clock=ladder.clock).objective_tree(
        workspace_id=ACME, objective_id=company["platform"]
    )
    assert trend.points[-1].value == pytest.approx(tree.health.objectives[objective.id].progress)


def test_an_unknown_title_gets_a_word_and_no_upload(
    ladder: Ladder, company: dict[str, int]
) -> None:
    reply = chart_command(ladder, "world domination")
    assert "world domination" in reply.text and images(reply.blocks) == []
    assert ladder.standin.calls("files.getUploadURLExternal") == []


def test_pictures_off_in_settings(
    ladder: Ladder, company: dict[str, int], drawn: list[Any]
) -> None:
    with Session(ladder.engine) as session:
        update_workspace(session=session, workspace_id=ACME, charts_enabled=False)
        session.commit()
    reply = chart_command(ladder, PLATFORM)
    assert "turned off" in reply.text and images(reply.blocks) == []
    ladder.acme.app_home_opened(user_id=CEO)
    ladder.wait_idle()
    home = ladder.standin.home_view(ACME, CEO)
    assert home is not None and images(home["blocks"]) == []
    assert NOT_ATTACHED not in str(home["blocks"])
    assert drawn == [] and ladder.standin.calls("files.getUploadURLExternal") == []


@pytest.mark.parametrize("step", ["files.getUploadURLExternal", "files.completeUploadExternal"])
def test_a_failed_upload_still_answers_with_the_words(
    ladder: Ladder, company: dict[str, int], step: str
) -> None:
    ladder.standin.fail_next(step, error="internal_error")
    reply = chart_command(ladder, PLATFORM)
    assert images(reply.blocks) == []
    assert PLATFORM in reply.blocks[0]["text"]["text"]
    assert NOT_ATTACHED in str(reply.blocks)
    with Session(ladder.engine) as session:
        assert session.exec(select(ChartFile)).all() == []  # nothing cached: tried again next time
    again = chart_command(ladder, PLATFORM)
    check_picture(ladder.standin, images(again.blocks)[0])


def test_a_fresh_upload_is_retried_until_slack_shows_it(
    ladder: Ladder, company: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.pictures, "RETRY_DELAYS", (0.01, 0.01, 0.01))
    ladder.standin.file_ready_after = 2  # Slack refuses the first two references
    reply = chart_command(ladder, PLATFORM)
    check_picture(ladder.standin, images(reply.blocks)[0])
    refused = [c for c in ladder.standin.calls("response_url") if c.status != 200]
    assert len(refused) == 2 and "invalid slack file" in str(refused[0].response)


def test_a_file_never_shown_goes_without_the_picture(
    ladder: Ladder, company: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.pictures, "RETRY_DELAYS", (0.01,))
    ladder.standin.file_ready_after = 5
    reply = chart_command(ladder, PLATFORM)
    assert images(reply.blocks) == [] and NOT_ATTACHED in str(reply.blocks)
    with Session(ladder.engine) as session:
        assert session.exec(select(ChartFile)).all() == []  # forgotten: uploaded afresh next time


def test_the_checked_in_summary_carries_the_charts_of_what_moved(
    ladder: Ladder, company: dict[str, int], drawn: list[Any]
) -> None:
    from tests.slack.test_checkins import sender

    ladder.clock.now = at_utc(date(2026, 2, 16))
    sender(ladder).run()
    [prompt_call] = [
        c for c in ladder.standin.calls("chat.postMessage") if c.args.get("channel") == CEO
    ]
    prompt = prompt_call.response["message"]
    ladder.acme.block_action(user_id=CEO, action_id="prompt_checkin", message=prompt)
    [opened] = ladder.standin.wait_for("views.open")
    view = opened.response["view"]
    block = f"value:{company['users']}"
    [action] = [b for b in view["blocks"] if b["block_id"] == block][0:1]
    ladder.clock.advance(minutes=5)
    ladder.acme.view_submission(
        view, user_id=CEO, values={block: {action["element"]["action_id"]: "320k"}}
    )
    [update] = ladder.standin.wait_for("chat.update")
    ladder.wait_idle()
    assert update.args["channel"] == dm_channel_id(CEO) and update.status == 200
    [image] = images(update.args["blocks"])  # one KR moved: one chart
    check_picture(ladder.standin, image)
    [trend] = drawn
    assert isinstance(trend, KRTrend) and trend.title == USERS_KR
    assert list(trend.points) == stored_points(ladder, company["users"])
    assert trend.points[-1] == Point(date(2026, 2, 16), 320_000)


def test_home_shows_the_chart_of_my_objective(
    ladder: Ladder, company: dict[str, int], drawn: list[Any]
) -> None:
    ladder.acme.app_home_opened(user_id=CEO)
    ladder.wait_idle()
    home = ladder.standin.home_view(ACME, CEO)
    assert home is not None
    [image] = images(home["blocks"])
    check_picture(ladder.standin, image)
    ids = [b.get("block_id") for b in home["blocks"]]
    assert ids.index(image["block_id"]) == ids.index("home_actions") + 1  # near the top
    [trend] = drawn
    assert isinstance(trend, ObjectiveTrend) and trend.title == PLATFORM


def test_the_objective_menu_trend_item(ladder: Ladder, company: dict[str, int]) -> None:
    # /okr mine's menu has the Trend item (a status post's menu is full: Slack allows five)
    ladder.acme.slash_command("mine", user_id=CEO, channel_id="C0TEAM")
    ladder.wait_idle()
    [mine] = ladder.standin.responses
    menu = f"objective_menu:{company['platform']}"
    [option] = [
        o
        for b in mine.blocks or []
        for e in [b.get("accessory", {}), *b.get("elements", [])]
        if e.get("action_id") == menu
        for o in e["options"]
        if o["value"].startswith("trend:")
    ]
    before = len(ladder.standin.responses)
    click(ladder, ladder.acme, mine, menu, user=CEO, selected_option=option)  # ephemeral
    ladder.wait_idle()
    [reply] = ladder.standin.responses[before:]
    assert reply.response_type == "ephemeral" and not reply.replace_original
    [image] = images(reply.blocks)
    check_picture(ladder.standin, image)
    assert PLATFORM in reply.blocks[0]["text"]["text"]


def test_an_image_of_an_unknown_file_is_refused_as_slack_would(standin: SlackStandIn) -> None:
    from bot.app import make_client
    from tests.slack.conftest import single_workspace_settings

    client = make_client(single_workspace_settings(standin))
    blocks = [{"type": "image", "slack_file": {"id": "F0NOPE12345"}, "alt_text": "a chart"}]
    with pytest.raises(Exception, match="invalid slack file"):
        client.chat_postMessage(channel="C0TEAM", text="chart", blocks=blocks)
    assert standin.violations  # the app's bug: the test would fail on it
    standin.violations.clear()
    # An upload whose bytes never arrived, or not as many as declared, cannot be completed.
    url = client.files_getUploadURLExternal(filename="c.png", length=10)
    assert httpx.post(url["upload_url"], content=b"12345").status_code == 400
    with pytest.raises(Exception, match="file_not_found"):
        client.files_completeUploadExternal(files=[{"id": url["file_id"]}])
    # A text file is not an image.
    done = client.files_upload_v2(filename="notes.txt", content="hello")
    blocks[0]["slack_file"]["id"] = done["file"]["id"]
    with pytest.raises(Exception, match="invalid slack file"):
        client.chat_postMessage(channel="C0TEAM", text="chart", blocks=blocks)
    standin.violations.clear()
