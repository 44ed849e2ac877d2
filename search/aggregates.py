"""Bucketing and the digest's numbers, computed the same way for every backend."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import date, timedelta

from search.results import HistogramBucket, MonthAggregates
from shellwatch.domain import RESPONSE_STANCES, Stance


def bucket_day(day: date) -> date:
    return day


BUCKETS: dict[str, Callable[[date], date]] = {
    "day": bucket_day,
    "week": lambda d: d - timedelta(days=d.weekday()),
    "month": lambda d: d.replace(day=1),
    "year": lambda d: d.replace(month=1, day=1),
}


def histogram(days: Counter[str], interval: str) -> list[HistogramBucket]:
    buckets: Counter[date] = Counter()
    for day, count in days.items():
        buckets[BUCKETS[interval](date.fromisoformat(day))] += count
    return [HistogramBucket(date=d, count=c) for d, c in sorted(buckets.items())]


def aggregate(
    start: date,
    end: date,
    articles: int,
    by_language: dict[str, int],
    by_source: dict[str, int],
    claim_rows: list[tuple],
    new_ids: list[str],
    ongoing_ids: list[str],
) -> MonthAggregates:
    """The digest's numbers from the period's claims (type, stance, subject, day); shared by backends."""
    by_type: Counter[str] = Counter()
    by_stance: Counter[str] = Counter()
    by_week: dict[str, Counter[str]] = defaultdict(Counter)
    accused: Counter[str] = Counter()
    for claim_type, stance, subject, day in claim_rows:
        by_type[claim_type] += 1
        by_stance[stance] += 1
        if stance == Stance.ALLEGATION.value:
            week = BUCKETS["week"](date.fromisoformat(day[:10])).isoformat()
            by_week[week][claim_type] += 1
            if subject:
                accused[subject] += 1
    return MonthAggregates(
        start=start,
        end=end,
        articles=articles,
        articles_by_language=by_language,
        articles_by_source=by_source,
        allegations=by_stance[Stance.ALLEGATION.value],
        responses=sum(by_stance[s.value] for s in RESPONSE_STANCES),
        claims_by_type=dict(by_type.most_common()),
        claims_by_stance=dict(by_stance.most_common()),
        allegations_by_week_and_type={w: dict(c) for w, c in sorted(by_week.items())},
        accused_entities=sorted(accused.items(), key=lambda kv: (-kv[1], kv[0])),
        new_incident_ids=new_ids,
        ongoing_incident_ids=ongoing_ids,
    )
