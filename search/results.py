"""Result records the store returns: search hits, facets, timelines, incident details, aggregates.

They are part of the store contract (backends/base.py) and are what the CLI, API, alerts and
digests read; like the domain records they serialise with shellwatch.domain.to_json.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import AwareDatetime, Field

from shellwatch.domain import Alert, AnalysedArticle, Incident, Record


class SearchHit(Record):
    article: AnalysedArticle
    score: float
    highlights: dict[str, list[str]] = Field(default_factory=dict)  # field → snippets with <mark>…</mark>


class FacetCount(Record):
    value: str
    count: int
    label: str | None = None  # display name, e.g. an entity's canonical name


# Totals are exact up to this many matches and "at least this many" above (Elasticsearch's
# track_total_hits): counting every match of a broad query would cost a pass over the whole corpus.
TRACK_TOTAL_HITS = 10_000


class SearchResult(Record):
    query: str
    total: int
    total_relation: Literal["eq", "gte"] = "eq"  # "gte": at least `total` matches (not all counted)
    hits: list[SearchHit]
    facets: dict[str, list[FacetCount]] = Field(default_factory=dict)
    # facet names: entity, type, depth, stance, lang, source, month
    facet_sample: int | None = None  # set when facets count only this many (the newest) matches

    @property
    def total_display(self) -> str:
        """The total for people: "10,000+" when it is a lower bound."""
        return f"{self.total:,}+" if self.total_relation == "gte" else f"{self.total:,}"


class HistogramBucket(Record):
    date: date  # first day of the bucket
    count: int


class Timeline(Record):
    incidents: list[Incident]  # ordered by started_at
    histogram: list[HistogramBucket]  # coverage per bucket
    interval: str = "month"  # "day", "week", "month" or "year"


class IncidentDetail(Record):
    incident: Incident
    articles: list[AnalysedArticle]  # in publication order


class DeadLetter(Record):
    id: str
    task: str
    payload: str  # the JSON the task received
    error: str
    traceback: str
    attempts: int
    failed_at: AwareDatetime


class MonthAggregates(Record):
    """What a monthly digest needs from the store for one period [start, end)."""

    start: date
    end: date
    articles: int
    articles_by_language: dict[str, int]
    articles_by_source: dict[str, int]
    allegations: int
    responses: int
    claims_by_type: dict[str, int]
    claims_by_stance: dict[str, int]
    allegations_by_week_and_type: dict[str, dict[str, int]]  # ISO week start → type → count
    accused_entities: list[tuple[str, int]]  # entity id → allegations, most first
    new_incident_ids: list[str]
    ongoing_incident_ids: list[str]


class DeliveredAlert(Record):
    alert: Alert
    channel: str
    delivered_at: AwareDatetime | None = None
    attempts: int = 0
    last_error: str | None = None


class BulkResult(Record):
    """The outcome of a bulk upsert: one bad document never fails the batch."""

    indexed: int = 0
    new: int = 0
    failures: dict[str, str] = Field(default_factory=dict)  # article id → why it was not indexed
