"""The Digest: every fact one monthly digest shows, in one pydantic record.

`build_digest` fills it from the store; every renderer (Markdown, HTML, PDF, JSON, CSV) reads only
this record, so all formats carry the same facts. Names and titles are already in the digest's
language; quotes (`evidence`) stay in the language of the article they come from.
"""

from __future__ import annotations

from datetime import date

from pydantic import AwareDatetime, Field

from shellwatch.domain import ClaimType, IncidentStatus, Language, Record, Stance


class Figure(Record):
    """One headline number with the previous month's value for comparison."""

    key: str  # e.g. "new_incidents", a language code, or a source name
    value: int
    previous: int
    change: int  # value - previous


class Headline(Record):
    new_incidents: Figure
    allegations: Figure
    responses: Figure
    articles: Figure
    articles_by_language: list[Figure]  # key = language code, every language listed
    top_sources: list[Figure]  # key = source name, most articles first


class CoverageItem(Record):
    """One article of the coverage, with its link."""

    article_id: str
    title: str
    url: str
    source: str
    language: Language
    published_at: AwareDatetime  # publication time, or fetch time when the page gave none


class ClaimReport(Record):
    """One claim as an article reported it: the quote stays in the article's language."""

    type: ClaimType
    depth: int | None
    stance: Stance
    subject: str | None
    subject_name: str
    object_name: str | None = None
    speaker: str | None = None
    evidence: str
    confidence: float
    article: CoverageItem


class IncidentSummary(Record):
    id: str
    title: str  # in the digest's language
    title_en: str
    title_zh: str
    subject: str | None
    subject_name: str  # in the digest's language
    claim_types: list[ClaimType]
    depth: int | None  # the shallowest wrapping depth among its claim types
    status: IncidentStatus  # as of the end of the month
    started_at: AwareDatetime
    first_allegation: ClaimReport | None
    responses: list[ClaimReport]  # denials and admissions up to the end of the month
    developments: list[ClaimReport]  # ongoing incidents: the claims reported this month
    coverage: list[CoverageItem]  # this month's articles, oldest first


class EntityCount(Record):
    id: str
    name: str  # in the digest's language
    count: int


class Breakdown(Record):
    key: str  # a claim type or a stance
    count: int
    previous: int
    change: int


class WeekCount(Record):
    week: date  # the Monday the ISO week starts on
    counts: dict[str, int]  # claim type → allegations


class Digest(Record):
    month: str  # YYYY-MM
    previous_month: str
    lang: Language
    start: date
    end: date  # exclusive: the first day of the next month
    complete: bool  # False while the month is still running
    generated_at: AwareDatetime
    headline: Headline
    new_incidents: list[IncidentSummary] = Field(default_factory=list)
    ongoing_incidents: list[IncidentSummary] = Field(default_factory=list)
    accused_entities: list[EntityCount] = Field(default_factory=list)
    claims_by_type: list[Breakdown] = Field(default_factory=list)
    claims_by_stance: list[Breakdown] = Field(default_factory=list)
    allegations_by_week: list[WeekCount] = Field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Nothing happened: no articles, no claims and no incidents in the month."""
        return (
            self.headline.articles.value == 0
            and not self.new_incidents
            and not self.ongoing_incidents
            and not any(row.count for row in self.claims_by_type)
        )

    @property
    def incidents(self) -> list[IncidentSummary]:
        return [*self.new_incidents, *self.ongoing_incidents]
