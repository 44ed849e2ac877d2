"""Digest periods: parse and validate `YYYY-MM`, and find the month before a date.

A digest covers one calendar month in UTC, the half-open range [first day, first day of the next
month). Malformed months and months that have not started yet are refused with a MonthError whose
message the CLI prints as is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from digests.errors import MonthError

_MONTH = re.compile(r"(\d{4})-(\d{2})")


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @property
    def key(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def start(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def end(self) -> date:
        """The first day of the next month (exclusive end)."""
        return self.next().start

    def next(self) -> Month:
        return Month(self.year + (self.month == 12), self.month % 12 + 1)

    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def start_datetime(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=UTC)

    def end_datetime(self) -> datetime:
        return self.next().start_datetime()


def parse_month(value: str, today: date | None = None) -> Month:
    """`YYYY-MM` → Month; raises MonthError when malformed or not yet begun (relative to `today`)."""
    match = _MONTH.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise MonthError(f"{value!r} is not a month: use YYYY-MM, e.g. 2023-12")
    year, number = int(match.group(1)), int(match.group(2))
    if not 1 <= number <= 12:
        raise MonthError(f"{value!r} is not a month: the month must be 01 to 12")
    if year < 1970:
        raise MonthError(f"{value!r} is before 1970; there is no coverage that old")
    month = Month(year, number)
    today = today or datetime.now(UTC).date()
    if month.start > today:
        raise MonthError(f"{month.key} is in the future (today is {today.isoformat()})")
    return month


def last_month(today: date | None = None) -> str:
    """The month before `today` as `YYYY-MM`: what the monthly task builds on the first."""
    today = today or datetime.now(UTC).date()
    return Month(today.year, today.month).previous().key
