"""Lay out the timeline chart: incidents as bars on a time axis, a coverage histogram below.

The page draws the layout as inline SVG (server-side, no chart library). Zoom levels: all years
(histogram per month), one year `YYYY` (per week) or one month `YYYY-MM` (per day); every tick
label links one level deeper.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from search.results import HistogramBucket
from shellwatch.domain import ClaimType, Incident

WIDTH = 1000
LANE_HEIGHT = 24
BAR_HEIGHT = 14
AXIS_HEIGHT = 26
HISTOGRAM_HEIGHT = 90
MIN_BAR = 8
CHAR_WIDTH = {"en": 6.6, "zh": 12.5}
LABEL_CHARS = 48
MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# One colour per claim type (colour-blind-safe Okabe–Ito order), used by the chart and the legend.
TYPE_COLOURS = {
    ClaimType.LLAMA_BASED: "#0072B2",
    ClaimType.API_DISTILLED: "#D55E00",
    ClaimType.API_WRAPPER: "#CC79A7",
    ClaimType.PROMPT_WRAPPER: "#E69F00",
    ClaimType.RAG_WRAPPER: "#009E73",
    ClaimType.FINE_TUNED: "#56B4E9",
    ClaimType.SELF_DEVELOPED: "#7f7f7f",
}

ZOOM = re.compile(r"(\d{4})(?:-(\d{2}))?")


class ZoomError(ValueError):
    """The zoom parameter is neither empty, YYYY nor YYYY-MM."""


@dataclass
class Bar:
    incident: Incident
    x: float
    width: float
    y: float
    colour: str
    label: str
    label_x: float
    label_anchor: str


@dataclass
class Tick:
    x: float
    label: str
    zoom: str | None  # the zoom level this tick links to


@dataclass
class Column:
    x: float
    width: float
    height: float
    count: int
    label: str


@dataclass
class TimelineLayout:
    zoom: str
    interval: str
    start: date
    end: date
    bars: list[Bar] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)
    columns: list[Column] = field(default_factory=list)
    lanes_height: float = 0
    height: float = 0
    max_count: int = 0
    parent_zoom: str | None = None

    @property
    def histogram_top(self) -> float:
        return self.lanes_height + AXIS_HEIGHT


def interval_for(zoom: str) -> str:
    if not zoom:
        return "month"
    return "week" if len(zoom) == 4 else "day"


def parse_zoom(zoom: str) -> str:
    zoom = zoom.strip()
    if not zoom:
        return ""
    match = ZOOM.fullmatch(zoom)
    if match is None or not 1970 <= int(match.group(1)) <= 2100:
        raise ZoomError(f"zoom: {zoom!r} is not a year (YYYY) or a month (YYYY-MM)")
    if match.group(2) is not None and not 1 <= int(match.group(2)) <= 12:
        raise ZoomError(f"zoom: {zoom!r} has no month {match.group(2)}")
    return zoom


def layout(
    incidents: list[Incident], histogram: list[HistogramBucket], zoom: str, language: str
) -> TimelineLayout:
    start, end, parent = _range(incidents, histogram, zoom)
    result = TimelineLayout(zoom=zoom, interval=interval_for(zoom), start=start, end=end, parent_zoom=parent)
    span = (end - start).days or 1

    def x_of(day: date) -> float:
        return max(0.0, min(WIDTH, (day - start).days / span * WIDTH))

    lanes: list[float] = []  # right edge (incl. label) of the last bar in each lane
    visible = [i for i in incidents if i.started_at.date() < end and i.updated_at.date() >= start]
    for incident in sorted(visible, key=lambda i: (i.started_at, i.id)):
        x0 = x_of(incident.started_at.date())
        x1 = max(x_of(incident.updated_at.date() + timedelta(days=1)), x0 + MIN_BAR)
        title = incident.title_zh if language == "zh" else incident.title_en
        char = CHAR_WIDTH.get(language, 7)
        room_right, room_left = WIDTH - x1 - 6, x0 - 6
        fits_right = min(LABEL_CHARS, len(title)) * char <= room_right
        chars = min(
            LABEL_CHARS, int((room_right if fits_right or room_right >= room_left else room_left) / char)
        )
        label = title if len(title) <= chars else title[: max(1, chars - 1)] + "…"
        label_width = len(label) * char
        if fits_right or room_right >= room_left:
            label_x, anchor, left, right = x1 + 6, "start", x0, x1 + 6 + label_width
        else:
            label_x, anchor, left, right = x0 - 6, "end", x0 - 6 - label_width, x1
        lane = next((n for n, edge in enumerate(lanes) if edge + 8 <= left), None)
        if lane is None:
            lanes.append(right)
            lane = len(lanes) - 1
        else:
            lanes[lane] = right
        colour = TYPE_COLOURS.get(incident.claim_types[0], "#555") if incident.claim_types else "#555"
        y = lane * LANE_HEIGHT + (LANE_HEIGHT - BAR_HEIGHT) / 2
        result.bars.append(Bar(incident, x0, x1 - x0, y, colour, label, label_x, anchor))
    result.lanes_height = max(1, len(lanes)) * LANE_HEIGHT
    result.ticks = _ticks(start, end, zoom, x_of, language)
    in_range = [b for b in histogram if start <= b.date < end]
    result.max_count = max((b.count for b in in_range), default=0)
    for index, bucket in enumerate(in_range):
        following = (
            in_range[index + 1].date if index + 1 < len(in_range) else _next(bucket.date, result.interval)
        )
        x0, x1 = x_of(bucket.date), x_of(min(following, _next(bucket.date, result.interval)))
        height = bucket.count / result.max_count * (HISTOGRAM_HEIGHT - 14) if result.max_count else 0
        result.columns.append(
            Column(x0, max(1.5, x1 - x0 - 1), height, bucket.count, bucket.date.isoformat())
        )
    result.height = result.histogram_top + HISTOGRAM_HEIGHT
    return result


def _range(
    incidents: list[Incident], histogram: list[HistogramBucket], zoom: str
) -> tuple[date, date, str | None]:
    if zoom:
        year = int(zoom[:4])
        if len(zoom) == 4:
            return date(year, 1, 1), date(year + 1, 1, 1), ""
        month = int(zoom[5:7])
        first = date(year, month, 1)
        return first, _next(first, "month"), str(year)
    days = [i.started_at.date() for i in incidents] + [i.updated_at.date() for i in incidents]
    days += [b.date for b in histogram]
    if not days:
        today = datetime.now(UTC).date()
        return date(today.year, 1, 1), date(today.year + 1, 1, 1), None
    return date(min(days).year, 1, 1), date(max(days).year + 1, 1, 1), None


def _ticks(start: date, end: date, zoom: str, x_of, language: str) -> list[Tick]:
    ticks = []
    if not zoom:
        for year in range(start.year, end.year):
            ticks.append(Tick(x_of(date(year, 1, 1)), str(year), str(year)))
    elif len(zoom) == 4:
        for month in range(1, 13):
            label = f"{month}月" if language == "zh" else MONTHS_EN[month - 1]
            ticks.append(Tick(x_of(date(start.year, month, 1)), label, f"{start.year}-{month:02d}"))
    else:
        day = start
        while day < end:
            if day.day in (1, 8, 15, 22, 29):
                label = (
                    f"{day.month}月{day.day}日"
                    if language == "zh"
                    else f"{MONTHS_EN[day.month - 1]} {day.day}"
                )
                ticks.append(Tick(x_of(day), label, None))
            day += timedelta(days=1)
    return ticks


def _next(day: date, interval: str) -> date:
    if interval == "day":
        return day + timedelta(days=1)
    if interval == "week":
        return day + timedelta(days=7)
    if interval == "year":
        return date(day.year + 1, 1, 1)
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)
