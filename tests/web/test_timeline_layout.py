"""The timeline chart layout: bars never overlap, zoom levels, ticks and histogram columns."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from search.results import HistogramBucket
from shellwatch.domain import ClaimType, Incident
from web.timeline import CHAR_WIDTH, TYPE_COLOURS, WIDTH, ZoomError, layout, parse_zoom


def incident(
    number: int, start: datetime, days: int, claim_type: ClaimType = ClaimType.LLAMA_BASED
) -> Incident:
    return Incident(
        id=f"i{number:03d}",
        subject=None,
        subject_name=f"Model-{number}",
        claim_types=[claim_type],
        title_en=f"Model-{number} accused of being based on Llama",
        title_zh=f"模型{number} 被指基于 Llama 等开源模型，仅改动了两个张量的名称，此事引发广泛讨论",
        started_at=start,
        updated_at=start + timedelta(days=days),
    )


@pytest.mark.parametrize("language", ["en", "zh"])
def test_bars_and_labels_never_overlap(language: str) -> None:
    start = datetime(2023, 1, 1, tzinfo=UTC)
    incidents = [incident(n, start + timedelta(days=9 * n), 20 + n % 5) for n in range(60)]
    chart = layout(incidents, [], "", language)
    assert len(chart.bars) == 60
    spans: dict[float, list[tuple[float, float]]] = {}
    for bar in chart.bars:
        label = len(bar.label) * CHAR_WIDTH[language]
        left = bar.x if bar.label_anchor == "start" else bar.label_x - label
        right = bar.label_x + label if bar.label_anchor == "start" else bar.x + bar.width
        assert 0 <= bar.x <= WIDTH and left >= -1 and right <= WIDTH + 1
        spans.setdefault(bar.y, []).append((left, right))
    for row in spans.values():
        row.sort()
        for (_, end), (begin, _) in zip(row, row[1:], strict=False):
            assert end <= begin
    assert chart.lanes_height == len(spans) * 24


def test_zoom_levels_ticks_and_histogram() -> None:
    start = datetime(2023, 11, 14, tzinfo=UTC)
    incidents = [
        incident(1, start, 3, ClaimType.API_DISTILLED),
        incident(2, datetime(2024, 6, 1, tzinfo=UTC), 1),
    ]
    histogram = [
        HistogramBucket(date=date(2023, 11, 1), count=4),
        HistogramBucket(date=date(2024, 6, 1), count=2),
    ]
    everything = layout(incidents, histogram, "", "en")
    assert [t.label for t in everything.ticks] == ["2023", "2024"] and everything.ticks[0].zoom == "2023"
    assert everything.bars[0].colour == TYPE_COLOURS[ClaimType.API_DISTILLED]
    assert [c.count for c in everything.columns] == [4, 2] and everything.max_count == 4
    year = layout(incidents, histogram, "2023", "zh")
    assert [b.incident.id for b in year.bars] == ["i001"]
    assert year.ticks[10].label == "11月" and year.ticks[10].zoom == "2023-11" and year.parent_zoom == ""
    month = layout(incidents, histogram, "2023-11", "en")
    assert month.interval == "day" and [t.label for t in month.ticks][:2] == ["Nov 1", "Nov 8"]
    assert month.bars[0].width >= 8


@pytest.mark.parametrize("bad", ["2023-13", "23", "2023-1", "abcd", "1900", "2023-11-01"])
def test_bad_zoom_is_refused(bad: str) -> None:
    with pytest.raises(ZoomError):
        parse_zoom(bad)


def test_empty_timeline_still_lays_out() -> None:
    chart = layout([], [], "", "en")
    assert chart.bars == [] and chart.columns == [] and chart.height > 0
