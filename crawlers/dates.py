"""Publication times as aware datetimes, from structured metadata or from the text.

Order of trust: a time the feed or sitemap gave, then the page's own metadata (JSON-LD
`datePublished`, `article:published_time`, `<time datetime>`), then htmldate's reading of the page,
then the first date written in the visible text (`2023年12月15日`, `12月15日`, `3小时前`, `昨天`,
`Dec 15, 2023`, `3 hours ago`). A time without a zone is read in the source's zone: UTC+8 for
Chinese outlets, UTC for English ones. Relative and year-less dates are resolved against the
fetch time.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta, timezone

from lxml import html as lxml_html

from shellwatch.domain import Language
from shellwatch.months import MONTHS

CHINA_TZ = timezone(timedelta(hours=8), "UTC+8")

_TIME = r"(?:\s*(?P<hour>\d{1,2})[:：时時](?P<minute>\d{2})(?:[:：](?P<second>\d{2}))?)?"
ZH_FULL = re.compile(
    r"(?P<year>20\d{2})\s*年\s*(?P<month>\d{1,2})\s*月\s*(?P<day>\d{1,2})\s*[日号號]" + _TIME
)
ISO_LIKE = re.compile(r"(?<!\d)(?P<year>20\d{2})[-/.](?P<month>\d{1,2})[-/.](?P<day>\d{1,2})(?!\d)" + _TIME)
ZH_NO_YEAR = re.compile(r"(?<![\d年])(?P<month>\d{1,2})\s*月\s*(?P<day>\d{1,2})\s*[日号號]" + _TIME)
EN_MDY = re.compile(
    r"\b(?P<mon>jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<year>20\d{2})"
    r"(?:,?\s*(?:at\s+)?(?P<hour>\d{1,2}):(?P<minute>\d{2})\s*(?P<ampm>[ap]\.?m\.?)?)?",
    re.IGNORECASE,
)
EN_DMY = re.compile(
    r"\b(?P<day>\d{1,2})\s+(?P<mon>jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?,?\s+(?P<year>20\d{2})",
    re.IGNORECASE,
)
ZH_RELATIVE = re.compile(
    r"(?P<count>\d{1,3}|[一二两兩三四五六七八九十半])\s*(?:个|個)?\s*(?P<unit>秒|分钟|分鐘|小时|小時|天|周|週|星期)\s*[以之]?前"
)
EN_RELATIVE = re.compile(
    r"\b(?P<count>\d{1,3}|an?|one)\s+(?P<unit>second|minute|min|hour|hr|day|week)s?\s+ago\b", re.IGNORECASE
)
ZH_DAY_WORDS = re.compile(r"(?P<word>今天|今日|昨天|昨日|前天)" + _TIME)
EN_DAY_WORDS = re.compile(r"\b(?P<word>today|yesterday)\b", re.IGNORECASE)

ZH_NUMERALS = {
    "一": 1,
    "二": 2,
    "两": 2,
    "兩": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
    "十": 10,
}
UNIT_SECONDS = {
    "秒": 1,
    "分钟": 60,
    "分鐘": 60,
    "小时": 3600,
    "小時": 3600,
    "天": 86400,
    "日": 86400,
    "周": 604800,
    "週": 604800,
    "星期": 604800,
    "second": 1,
    "minute": 60,
    "min": 60,
    "hour": 3600,
    "hr": 3600,
    "day": 86400,
    "week": 604800,
}
DAY_WORD_OFFSET = {"今天": 0, "今日": 0, "昨天": 1, "昨日": 1, "前天": 2, "today": 0, "yesterday": 1}

# <meta> names / properties / itemprops that carry the publication time, most trusted first.
META_DATE_KEYS = (
    "article:published_time",
    "og:published_time",
    "datepublished",
    "pubdate",
    "publishdate",
    "publish-date",
    "date",
    "dc.date.issued",
    "parsely-pub-date",
)


def source_zone(language: Language) -> timezone:
    """Zone assumed for a time written without one."""
    return CHINA_TZ if language == Language.ZH else UTC


def parse_timestamp(value: str | None, language: Language) -> datetime | None:
    """An ISO-8601 / RFC-3339 timestamp (or a bare date) as an aware datetime."""
    if not value:
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text)
    try:
        parsed = datetime.fromisoformat(
            text.replace(" ", "T", 1) if re.match(r"\d{4}-\d\d-\d\d \d", text) else text
        )
    except ValueError:
        return date_in_text(value, language, now=None)
    return _aware(parsed, language)


def date_from_metadata(tree: lxml_html.HtmlElement, language: Language) -> datetime | None:
    """The publication time the page states in JSON-LD or `<meta>` / `<time>` markup."""
    for script in tree.xpath("//script[@type='application/ld+json']/text()"):
        found = _date_in_json_ld(script)
        if found:
            parsed = parse_timestamp(found, language)
            if parsed:
                return parsed
    # One pass over the metadata elements instead of one document scan per key.
    found: dict[str, str] = {}
    for element in tree.xpath("//meta[@content] | //*[@itemprop='datePublished'][@datetime]"):
        key = (element.get("property") or element.get("name") or element.get("itemprop") or "").lower()
        if key in META_DATE_KEYS:
            found.setdefault(key, element.get("content") or element.get("datetime") or "")
    candidates = [found[key] for key in META_DATE_KEYS if key in found]
    candidates += tree.xpath("//article//time/@datetime | //time[@pubdate]/@datetime")
    for value in candidates:
        parsed = parse_timestamp(str(value), language)
        if parsed:
            return parsed
    return None


def date_in_text(
    text: str, language: Language, now: datetime | None, *, prefer_absolute: bool = True
) -> datetime | None:
    """The first date written in the text. Relative and year-less dates need `now` (the fetch time).
    With `prefer_absolute`, any full date beats them (in a story, `6月3日` is rarely the publication
    date); without it, as in a byline, the first date of any kind wins."""
    zone = source_zone(language)
    absolute: list[tuple[int, datetime]] = []
    for pattern in (ZH_FULL, ISO_LIKE):
        match = pattern.search(text)
        if match:
            found = _build(match, int(match["year"]), int(match["month"]), zone)
            if found:
                absolute.append((match.start(), found))
    for pattern in (EN_MDY, EN_DMY):
        match = pattern.search(text)
        if match:
            found = _build(match, int(match["year"]), MONTHS[match["mon"].lower().rstrip(".")], zone)
            if found:
                absolute.append((match.start(), found))
    if absolute and (prefer_absolute or now is None):
        return min(absolute, key=lambda item: item[0])[1]
    relative = _relative_candidates(text, now.astimezone(zone), zone) if now is not None else []
    candidates = relative + absolute
    return min(candidates, key=lambda item: item[0])[1] if candidates else None


def _relative_candidates(text: str, local_now: datetime, zone: timezone) -> list[tuple[int, datetime]]:
    found: list[tuple[int, datetime]] = []
    match = ZH_NO_YEAR.search(text)
    if match:
        candidate = _build(match, local_now.year, int(match["month"]), zone)
        if candidate and candidate > local_now + timedelta(days=1):
            candidate = candidate.replace(year=local_now.year - 1)
        if candidate:
            found.append((match.start(), candidate))
    for pattern in (ZH_RELATIVE, EN_RELATIVE):
        match = pattern.search(text)
        if match:
            count_text = match["count"].lower()
            if count_text == "半":
                count = 0.5
            elif count_text in ("a", "an", "one"):
                count = 1
            else:
                count = ZH_NUMERALS.get(count_text) or int(count_text)
            seconds = UNIT_SECONDS[match["unit"].lower()]
            found.append((match.start(), local_now - timedelta(seconds=count * seconds)))
    for pattern in (ZH_DAY_WORDS, EN_DAY_WORDS):
        match = pattern.search(text)
        if match:
            day = local_now - timedelta(days=DAY_WORD_OFFSET[match["word"].lower()])
            hour = match.groupdict().get("hour")
            minute = match.groupdict().get("minute")
            found.append(
                (
                    match.start(),
                    day.replace(hour=int(hour or 0), minute=int(minute or 0), second=0, microsecond=0),
                )
            )
    return found


def _build(match: re.Match[str], year: int, month: int, zone: timezone) -> datetime | None:
    groups = match.groupdict()
    hour = int(groups.get("hour") or 0)
    if groups.get("ampm") and groups["ampm"].lower().startswith("p") and hour < 12:
        hour += 12
    try:
        return datetime(
            year,
            month,
            int(groups["day"]),
            hour,
            int(groups.get("minute") or 0),
            int(groups.get("second") or 0),
            tzinfo=zone,
        )
    except ValueError:
        return None


def _aware(value: datetime | date, language: Language) -> datetime:
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=source_zone(language))
    return value


def _date_in_json_ld(payload: str) -> str | None:
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    stack = [data]
    while stack:
        node = stack.pop(0)
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            for key in ("datePublished", "dateCreated", "uploadDate"):
                if isinstance(node.get(key), str):
                    return node[key]
            stack.extend(value for value in node.values() if isinstance(value, dict | list))
    return None
