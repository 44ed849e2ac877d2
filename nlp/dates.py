"""Event dates mentioned in article text, as ISO strings.

Absolute dates (`2023年11月14日`, `2023-11-14`, `Nov 14, 2023`, `14 November 2023`) give
`YYYY-MM-DD`; a month without a day (`2023年11月`, `November 2023`) gives `YYYY-MM`. Dates
without a year (`11月14日`, `Nov 14`) and relative ones (`昨天`, `3天前`, `last week`,
`上个月`) are resolved against the publication date and skipped when it is unknown. A relative
week resolves to the Monday of that week, a relative month to the month (`YYYY-MM`).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from nlp.script import fold
from shellwatch.months import MONTHS

MONTH_NAME = r"(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
ZH_DIGITS = {
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
    "十": 10,
}

# Patterns run on the folded text (lower case, half-width digits). Each starts with a plain
# character class (or a lookahead for one) so the scan skips quickly; the boundaries are checked
# in `_boundary_ok`.
PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "ymd",
        re.compile(
            r"(?P<y>(?:19|20)\d\d)\s*(?:年|[-/.])\s*(?P<m>\d{1,2})\s*(?:月|[-/.])\s*(?P<d>\d{1,2})(?:日|号)?(?!\d)"
        ),
    ),
    ("ym", re.compile(r"(?P<y>(?:19|20)\d\d)\s*年\s*(?P<m>\d{1,2})\s*月(?!\s*\d)")),
    ("md", re.compile(r"(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*(?:日|号)")),
    ("en_mdy", re.compile(MONTH_NAME + r"\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(?P<y>(?:19|20)\d\d))?\b")),
    (
        "en_dmy",
        re.compile(r"(?P<d>\d{1,2})(?:st|nd|rd|th)?\s+" + MONTH_NAME + r"(?:,?\s+(?P<y>(?:19|20)\d\d))?\b"),
    ),
    ("en_my", re.compile(MONTH_NAME + r",?\s+(?P<y>(?:19|20)\d\d)\b")),
    (
        "rel",
        re.compile(
            # The words a relative date can start with, first: a cheap check at every position
            # instead of the whole alternation.
            r"(?=[今昨前上本这去\d一二两三四五六七八九十]|today|yesterday|last |this |(?:two|three|four|five|six) )"
            r"(?P<rel>今天|今日|昨天|昨日|前天|上周|上星期|上个月|上月|本周|这周|本月|去年|"
            r"(?P<n>\d{1,2}|[一二两三四五六七八九十])\s*(?P<unit>天|日|周|星期|个月)前|"
            r"today|yesterday|last (?:week|month|year)|this (?:week|month)|"
            r"(?P<en_n>\d{1,2}|two|three|four|five|six) (?P<en_unit>days?|weeks?|months?) ago)"
        ),
    ),
]
EN_NUMBERS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
# Characters a pattern cannot match without: an English text skips the Chinese patterns' scans.
REQUIRED = {"ym": "年", "md": "月"}
# Patterns whose every match needs the publication date to resolve: not scanned without one.
NEED_ANCHOR = frozenset({"md", "rel"})


def event_dates(
    text: str, published_at: datetime | date | None = None, *, limit: int = 20, folded: str | None = None
) -> list[str]:
    """ISO dates (and `YYYY-MM` months) mentioned in `text`, in order of first mention;
    `folded`: `fold(text)`, when the caller has it."""
    anchor = published_at.date() if isinstance(published_at, datetime) else published_at
    text = fold(text) if folded is None else folded
    found: dict[str, None] = {}
    taken: list[tuple[int, int]] = []
    for kind, pattern in PATTERNS:
        if kind in REQUIRED and REQUIRED[kind] not in text:
            continue
        if anchor is None and kind in NEED_ANCHOR:
            continue
        for match in pattern.finditer(text):
            if not _boundary_ok(text, match.start(), match.end()):
                continue
            if any(match.start() < e and s < match.end() for s, e in taken):
                continue
            value = _resolve(kind, match, anchor)
            if value is not None:
                taken.append(match.span())
                found.setdefault(f"{match.start():09d}|{value}", None)
    ordered = [key.split("|", 1)[1] for key in sorted(found)]
    unique = list(dict.fromkeys(ordered))
    return unique[:limit]


def _boundary_ok(text: str, start: int, end: int) -> bool:
    """No digit or letter glued to either end ("12023年", "anov 5" are no dates)."""
    before = text[start - 1] if start else " "
    after = text[end] if end < len(text) else " "
    if before.isdigit() or (before.isascii() and before.isalpha() and text[start].isalpha()):
        return False
    return not (after.isascii() and after.isalpha() and text[end - 1].isalpha())


def _resolve(kind: str, match: re.Match[str], anchor: date | None) -> str | None:
    groups = match.groupdict()
    if kind == "rel":
        return _relative(match, anchor)
    year = int(groups["y"]) if groups.get("y") else None
    month = MONTHS[groups["mon"].lower().rstrip(".")] if groups.get("mon") else int(groups["m"])
    if kind in ("ym", "en_my"):
        return f"{year:04d}-{month:02d}" if 1 <= month <= 12 else None
    day = int(groups["d"])
    if year is None:
        if anchor is None:
            return None
        year = anchor.year
        # "12月28日" in a January article is last December, not a date eleven months ahead.
        if (month, day) > (anchor.month, anchor.day) and month - anchor.month >= 2:
            year -= 1
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def _relative(match: re.Match[str], anchor: date | None) -> str | None:
    if anchor is None:
        return None
    word = match.group("rel").lower()
    if match.group("unit") or match.group("en_unit"):
        raw = match.group("n") or match.group("en_n")
        n = int(raw) if raw.isdigit() else ZH_DIGITS.get(raw) or EN_NUMBERS.get(raw.lower(), 1)
        unit = (match.group("unit") or match.group("en_unit")).lower()
        if unit in ("天", "日") or unit.startswith("day"):
            return (anchor - timedelta(days=n)).isoformat()
        if unit in ("周", "星期") or unit.startswith("week"):
            return _monday(anchor - timedelta(weeks=n)).isoformat()
        return _month(anchor, -n)
    if word in ("今天", "今日", "today"):
        return anchor.isoformat()
    if word in ("昨天", "昨日", "yesterday"):
        return (anchor - timedelta(days=1)).isoformat()
    if word == "前天":
        return (anchor - timedelta(days=2)).isoformat()
    if word in ("上周", "上星期", "last week"):
        return _monday(anchor - timedelta(weeks=1)).isoformat()
    if word in ("本周", "这周", "this week"):
        return _monday(anchor).isoformat()
    if word in ("上个月", "上月", "last month"):
        return _month(anchor, -1)
    if word in ("本月", "this month"):
        return _month(anchor, 0)
    if word in ("去年", "last year"):
        return None  # a year is too coarse for a timeline
    return None


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _month(anchor: date, offset: int) -> str:
    index = anchor.year * 12 + anchor.month - 1 + offset
    return f"{index // 12:04d}-{index % 12 + 1:02d}"
