"""LADDER_SEND_RATE: read once, refused with one clear line when it is not a sane rate."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, load_settings


def test_the_send_rate_defaults_to_ten_per_second() -> None:
    assert load_settings({}, require_slack=False).send_rate == 10.0


def test_the_send_rate_can_be_raised_for_big_workspaces() -> None:
    assert load_settings({"LADDER_SEND_RATE": "20"}, require_slack=False).send_rate == 20.0


@pytest.mark.parametrize("raw", ["0", "-1", "fast", "nan", "inf", "1e400", "5000"])
def test_a_bad_send_rate_stops_start_up_with_one_line(raw: str) -> None:
    with pytest.raises(ConfigError, match=r"^LADDER_SEND_RATE is not a rate .*default is 10"):
        load_settings({"LADDER_SEND_RATE": raw}, require_slack=False)
