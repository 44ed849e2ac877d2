"""Digest periods: parsing, validation and the month before a date."""

from __future__ import annotations

from datetime import date

import pytest

from digests import MonthError, last_month, parse_month


def test_parse_month_gives_half_open_range() -> None:
    month = parse_month("2023-12", today=date(2024, 2, 10))
    assert (month.key, month.start, month.end) == ("2023-12", date(2023, 12, 1), date(2024, 1, 1))
    assert month.previous().key == "2023-11"
    assert parse_month("2024-01", today=date(2024, 2, 10)).previous().key == "2023-12"


def test_current_month_is_allowed_while_it_runs() -> None:
    assert parse_month("2024-02", today=date(2024, 2, 10)).key == "2024-02"


@pytest.mark.parametrize(
    "value", ["2023-13", "2023-00", "2023-1", "23-12", "2023/12", "december", "", "2023-12-01"]
)
def test_malformed_months_are_refused(value: str) -> None:
    with pytest.raises(MonthError, match="not a month"):
        parse_month(value, today=date(2024, 2, 10))


def test_future_month_is_refused() -> None:
    with pytest.raises(MonthError, match="2024-03 is in the future"):
        parse_month("2024-03", today=date(2024, 2, 10))


@pytest.mark.parametrize(
    ("today", "expected"),
    [(date(2024, 1, 1), "2023-12"), (date(2024, 3, 31), "2024-02"), (date(2023, 12, 1), "2023-11")],
)
def test_last_month(today: date, expected: str) -> None:
    assert last_month(today) == expected
