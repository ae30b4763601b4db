from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.okr.kinds import UnitKind
from bot.okr.numbers import (
    NumberInputError,
    format_grade,
    format_input,
    format_pair,
    format_value,
    parse_number,
    parse_number_input,
    unit_name,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("42", 42),
        ("1,000,000", 1_000_000),
        ("1 000 000", 1_000_000),
        ("1\u00a0000", 1000),  # no-break space as a thousands separator
        ("1.5k", 1500),
        ("1.5K", 1500),
        ("2M", 2_000_000),
        ("2m", 2_000_000),
        ("3 B", 3e9),
        ("3bn", 3e9),
        ("2.5 million", 2_500_000),
        ("25 thousand", 25_000),
        ("$1.2M", 1_200_000),
        ("€5,000", 5000),
        ("£20", 20),
        ("5,000 GBP", 5000),
        ("20k dollars", 20_000),
        ("30%", 30),
        ("30 %", 30),
        ("30 percent", 30),
        ("99.9%", 99.9),
        ("-5", -5),
        ("\u22125", -5),  # the typographic minus sign
        ("-$5", -5),
        ("+7", 7),
        ("0.25", 0.25),
        (".5", 0.5),
        ("1e6", 1e6),
        ("1E-3", 0.001),
        ("  12  ", 12),
        ("one million", 1e6),
        ("twenty-five thousand", 25_000),
        ("twenty five thousand", 25_000),
        ("a hundred", 100),
        ("a million", 1e6),
        ("six", 6),
        ("zero", 0),
        ("Twelve", 12),
        ("one hundred and five", 105),
        ("three hundred twenty-one", 321),
        ("a million two thousand", 1_002_000),
        ("thirty percent", 30),
        ("1,000T", 1e15),
    ],
)
def test_parse_number_reads_what_people_type(text: str, expected: float) -> None:
    assert parse_number(text) == pytest.approx(expected)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "abc",
        "a",
        "k",
        "nan",
        "NaN",
        "inf",
        "-Infinity",
        "∞",
        "1e400",
        "-1e400",
        "9" * 400,
        "1,00",  # not a thousands group
        "1,0000",
        "1.2.3",
        "$30%",  # money or a percentage?
        "30% GBP",
        "1e",
        "thousand",
        "thousand million",
        "hundred hundred",
        "twenty-five hundred",
        "one two",
        "and five",
        "5 apples",
        "🚀",
        "<!channel>",
        "x" * 10_000,
        "1" * 10_000,
    ],
)
def test_parse_number_refuses_what_is_not_one_number(text: str) -> None:
    assert parse_number(text) is None


def test_parse_number_turns_negative_zero_into_zero() -> None:
    value = parse_number("-0")
    assert value == 0 and math.copysign(1, value) == 1


@given(st.text(max_size=200))
def test_parse_number_is_none_or_finite_on_any_text(text: str) -> None:
    value = parse_number(text)
    assert value is None or math.isfinite(value)


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_parse_number_reads_grouped_integers(value: int) -> None:
    assert parse_number(f"{value:,}") == value
    assert parse_number(str(value)) == value


# --- parse_number_input ---


@pytest.mark.parametrize(
    ("text", "expected"),
    [(" 42 ", 42), ("1.5k", 1500), ("$1.2M", 1.2e6), ("30%", 30), ("-3", -3), ("1e15", 1e15)],
)
def test_parse_number_input_accepts_typed_values(text: str, expected: float) -> None:
    assert parse_number_input(text) == pytest.approx(expected)


def test_parse_number_input_stores_negative_zero_as_zero() -> None:
    value = parse_number_input("-0")
    assert value == 0 and math.copysign(1, value) == 1
    assert math.copysign(1, parse_number_input("-0.0%")) == 1


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "Enter a value"),
        ("   ", "Enter a value"),
        ("abc", "“abc” is not a number. Type a value like 42, 1.5k or 30%."),
        ("nan", "NaN"),
        ("NaN", "NaN"),
        ("inf", "Infinity"),
        ("-infinity", "Infinity"),
        ("∞", "Infinity"),
        ("1e400", "too large"),
        ("2e15", "too large"),
        ("-2,000T", "too large"),
    ],
)
def test_parse_number_input_says_what_to_fix(text: str, fragment: str) -> None:
    with pytest.raises(NumberInputError) as caught:
        parse_number_input(text)
    assert fragment in caught.value.message
    assert str(caught.value) == caught.value.message


def test_number_input_error_is_a_value_error_with_a_message() -> None:
    error = NumberInputError("Type a number.")
    assert isinstance(error, ValueError)
    assert error.message == str(error) == "Type a number."


def test_parse_number_input_limit_is_a_parameter() -> None:
    assert parse_number_input("1000", max_abs=1000) == 1000
    with pytest.raises(NumberInputError, match="between -1,000 and 1,000"):
        parse_number_input("1001", max_abs=1000)


def test_parse_number_input_shortens_long_garbage_in_its_message() -> None:
    with pytest.raises(NumberInputError) as caught:
        parse_number_input("x" * 10_000)
    assert len(caught.value.message) < 120


@given(st.text(max_size=200))
def test_parse_number_input_returns_a_bounded_number_or_explains(text: str) -> None:
    try:
        value = parse_number_input(text)
    except NumberInputError as error:
        assert error.message
    else:
        assert math.isfinite(value) and abs(value) <= 1e15


# --- format_value ---


@pytest.mark.parametrize(
    ("value", "unit", "label", "expected"),
    [
        (1_000_000, UnitKind.NUMBER, "active users", "1M active users"),
        (1234, UnitKind.NUMBER, None, "1.23k"),  # compact from 1,000: one rule for every size
        (999, UnitKind.NUMBER, None, "999"),
        (4844, UnitKind.NUMBER, "teams", "4.84k teams"),  # reads like "464.6k", not "4,844"
        (464_600, UnitKind.NUMBER, None, "464.6k"),
        (10_000, UnitKind.NUMBER, None, "10k"),
        (12_345, UnitKind.NUMBER, None, "12.35k"),
        (1500, UnitKind.NUMBER, None, "1.5k"),
        (999_999, UnitKind.NUMBER, None, "1M"),  # not "1000k"
        (2.5e9, UnitKind.NUMBER, None, "2.5B"),
        (3e12, UnitKind.NUMBER, None, "3T"),
        (999.5678, UnitKind.NUMBER, None, "999.568"),
        (0.25, UnitKind.NUMBER, None, "0.25"),
        (0.000123, UnitKind.NUMBER, None, "0.000123"),
        (5.0, UnitKind.NUMBER, None, "5"),
        (-1500, UnitKind.NUMBER, None, "-1.5k"),
        (-0.0, UnitKind.NUMBER, None, "0"),
        (90, UnitKind.PERCENT, None, "90%"),
        (99.9, UnitKind.PERCENT, None, "99.9%"),
        (12_345, UnitKind.PERCENT, None, "12,345%"),
        (1.2e6, UnitKind.CURRENCY, "USD", "$1.2M"),
        (5000, UnitKind.CURRENCY, "EUR", "€5k"),
        (5000, UnitKind.CURRENCY, "eur", "€5k"),
        (5000, UnitKind.CURRENCY, "GBP", "5k GBP"),
        (0.37, UnitKind.CURRENCY, "USD", "$0.37"),
        (-1.5e6, UnitKind.CURRENCY, "USD", "-$1.5M"),
        (5000, UnitKind.CURRENCY, None, "5k"),
        (100, UnitKind.DURATION, "ms", "100 ms"),
        (24, UnitKind.DURATION, "h", "24 h"),
        (None, UnitKind.NUMBER, None, "—"),
        (math.nan, UnitKind.NUMBER, None, "—"),
        (math.inf, UnitKind.CURRENCY, "USD", "—"),
    ],
)
def test_format_value(
    value: float | None, unit: UnitKind, label: str | None, expected: str
) -> None:
    assert format_value(value, unit=unit, unit_label=label) == expected


typed_values = st.one_of(
    st.integers(min_value=-(10**15), max_value=10**15).map(float),
    st.decimals(min_value=-(10**6), max_value=10**6, places=3).map(float),
    st.floats(min_value=-1e15, max_value=1e15, allow_nan=False, allow_infinity=False),
)


@given(typed_values, st.sampled_from(list(UnitKind)))
def test_format_then_parse_round_trips_within_the_display_rounding(
    value: float, unit: UnitKind
) -> None:
    parsed = parse_number(format_value(value, unit=unit, unit_label=None))
    assert parsed is not None
    # Exact display: 3 decimals (3 significant digits below 1); compact: 2 decimals of k/M/B/T.
    assert math.isclose(parsed, value, rel_tol=5e-3, abs_tol=5e-4 + 1e-9)


@given(typed_values, st.sampled_from(["USD", "EUR", "GBP"]))
def test_currency_display_round_trips(value: float, code: str) -> None:
    parsed = parse_number(format_value(value, unit=UnitKind.CURRENCY, unit_label=code))
    assert parsed is not None
    assert math.isclose(parsed, value, rel_tol=5e-3, abs_tol=5e-4 + 1e-9)


@given(st.floats(min_value=-1e15, max_value=1e15, allow_nan=False, allow_infinity=False))
def test_format_input_reads_back_as_the_same_number(value: float) -> None:
    value = float(f"{value:.15g}")  # what storage can hold exactly anyway
    assert parse_number(format_input(value)) == value


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1_000_000, "1,000,000"),
        (1_234_567, "1,234,567"),
        (0.125, "0.125"),
        (-40, "-40"),
        (52.5, "52.5"),
    ],
)
def test_format_input_is_exact_not_compact(value: float, text: str) -> None:
    assert format_input(value) == text


# --- the one display rule: format_pair, format_grade, unit_name ---


@pytest.mark.parametrize(
    ("first", "second", "unit", "label", "separator", "expected"),
    [
        # Symbols on both numbers: status used to say "0.37 → $0.25".
        (0.37, 0.25, UnitKind.CURRENCY, "USD", " → ", "$0.37 → $0.25"),
        (0, 90, UnitKind.PERCENT, None, " / ", "0% / 90%"),
        # A spaced unit once, after the last number.
        (250, 100, UnitKind.DURATION, "ms", " → ", "250 → 100 ms"),
        (600_000, 1e6, UnitKind.NUMBER, "active users", " / ", "600k / 1M active users"),
        (5000, 20_000, UnitKind.CURRENCY, "GBP", " / ", "5k / 20k GBP"),
        # One scale rule for both sides: "4,844 / 10k" mixed exact and compact.
        (4844, 10_000, UnitKind.NUMBER, "teams", " / ", "4.84k / 10k teams"),
        (None, 1e6, UnitKind.NUMBER, None, " / ", "— / 1M"),
    ],
)
def test_format_pair(
    first: float | None,
    second: float,
    unit: UnitKind,
    label: str | None,
    separator: str,
    expected: str,
) -> None:
    assert format_pair(first, second, unit=unit, unit_label=label, separator=separator) == expected


@given(
    typed_values,
    typed_values,
    st.sampled_from(list(UnitKind)),
    st.sampled_from([None, "USD", "EUR", "GBP", "ms", "active users"]),
)
def test_a_pair_is_its_two_values_with_the_unit_said_once(
    first: float, second: float, unit: UnitKind, label: str | None
) -> None:
    pair = format_pair(first, second, unit=unit, unit_label=label, separator=" | ")
    left, right = pair.split(" | ")
    # The right side is exactly how the value shows alone: the same number everywhere.
    assert right == format_value(second, unit=unit, unit_label=label)
    # The left side is the same number; it drops only a unit written after a space.
    alone = format_value(first, unit=unit, unit_label=label)
    assert alone.startswith(left)
    assert alone[len(left) :] in ("", f" {label}")
    assert parse_number(left) == parse_number(format_value(first, unit=unit, unit_label=None))


@given(typed_values, st.sampled_from(list(UnitKind)))
def test_every_size_follows_one_scale_rule(value: float, unit: UnitKind) -> None:
    shown = format_value(value, unit=unit, unit_label=None)
    scaled = shown.rstrip("%")[-1] in "kMBT"
    assert scaled == (abs(value) >= 1000 and unit is not UnitKind.PERCENT), shown
    # No "4,844" beside "464.6k" (only the top scale grows past 999: "1,000T").
    assert "," not in shown or unit is UnitKind.PERCENT or abs(value) >= 999.995e12


@pytest.mark.parametrize(
    ("grade", "expected"),
    [(0.5, "0.50"), (0.51, "0.51"), (1.0, "1.00"), (0.0, "0.00"), (0.666, "0.67"), (None, "—")],
)
def test_grades_always_have_two_decimals(grade: float | None, expected: str) -> None:
    assert format_grade(grade) == expected


@given(st.floats(min_value=0, max_value=1))
def test_any_grade_reads_as_two_decimals(grade: float) -> None:
    shown = format_grade(grade)
    assert (
        len(shown) == 4 and shown[1] == "." and abs(float(shown) - grade) <= 0.005 + 1e-12
    )  # half a cent, give or take float


@pytest.mark.parametrize(
    ("unit", "label", "expected"),
    [
        (UnitKind.PERCENT, None, "%"),
        (UnitKind.CURRENCY, "USD", "$"),
        (UnitKind.CURRENCY, "GBP", "GBP"),
        (UnitKind.DURATION, "ms", "ms"),
        (UnitKind.NUMBER, "active users", "active users"),
        (UnitKind.NUMBER, None, ""),
    ],
)
def test_unit_name(unit: UnitKind, label: str | None, expected: str) -> None:
    assert unit_name(unit, label) == expected
