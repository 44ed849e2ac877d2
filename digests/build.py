"""Build a Digest from the store: aggregates for the month and the one before, then the incidents.

Reads `Store.month_aggregates` (headline numbers, breakdowns, weekly allegations, accused entities,
which incidents are new and which ongoing) and `Store.get_incident` (the coverage and its claims).
Names come from the knowledge base in the digest's language. Only what was published before the
end of the month is used, so a digest built later tells the month as it stood then. Every list is
sorted on a total key, so the same data always gives the same digest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from digests.errors import DigestError
from digests.model import (
    Breakdown,
    ClaimReport,
    CoverageItem,
    Digest,
    EntityCount,
    Figure,
    Headline,
    IncidentSummary,
    WeekCount,
)
from digests.months import Month, parse_month
from search.backends.base import Store
from search.results import IncidentDetail, MonthAggregates
from shellwatch.domain import (
    RESPONSE_STANCES,
    AnalysedArticle,
    Claim,
    ClaimType,
    Entity,
    Incident,
    IncidentStatus,
    Language,
    Stance,
)

TOP_SOURCES = 5
TOP_ENTITIES = 10


class EntityNames(Protocol):
    """What the digest needs from the knowledge base: an entity by id (None when unknown)."""

    def get(self, entity_id: str) -> Entity | None: ...


def build_digest(
    store: Store,
    kb: EntityNames | None,
    month: str,
    lang: str,
    *,
    today: date | None = None,
    now: datetime | None = None,
) -> Digest:
    """All facts of the digest for `month` (YYYY-MM) with labels and names in `lang` (en or zh)."""
    try:
        language = Language(lang)
    except ValueError:
        raise DigestError(f"unknown digest language {lang!r}: use en or zh") from None
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    today = today or now.date()
    period = parse_month(month, today)
    previous = period.previous()
    current = store.month_aggregates(period.start, period.end)
    before = store.month_aggregates(previous.start, previous.end)
    names = _Names(kb, language)

    new = _summaries(store, names, period, current.new_incident_ids, ongoing=False)
    ongoing = _summaries(store, names, period, current.ongoing_incident_ids, ongoing=True)
    return Digest(
        month=period.key,
        previous_month=previous.key,
        lang=language,
        start=period.start,
        end=period.end,
        complete=period.end <= today,
        generated_at=now,
        headline=_headline(current, before),
        new_incidents=new,
        ongoing_incidents=ongoing,
        accused_entities=[
            EntityCount(id=entity_id, name=names.entity(entity_id, entity_id), count=count)
            for entity_id, count in sorted(current.accused_entities, key=lambda pair: (-pair[1], pair[0]))[
                :TOP_ENTITIES
            ]
        ],
        claims_by_type=_breakdown(
            current.claims_by_type, before.claims_by_type, [t.value for t in ClaimType]
        ),
        claims_by_stance=_breakdown(
            current.claims_by_stance, before.claims_by_stance, [s.value for s in Stance]
        ),
        allegations_by_week=_weeks(period, current.allegations_by_week_and_type),
    )


# Headline numbers and breakdowns ----------------------------------------------------------------


def _figure(key: str, value: int, previous: int) -> Figure:
    return Figure(key=key, value=value, previous=previous, change=value - previous)


def _headline(current: MonthAggregates, before: MonthAggregates) -> Headline:
    sources = sorted(current.articles_by_source.items(), key=lambda pair: (-pair[1], pair[0]))[:TOP_SOURCES]
    return Headline(
        new_incidents=_figure("new_incidents", len(current.new_incident_ids), len(before.new_incident_ids)),
        allegations=_figure("allegations", current.allegations, before.allegations),
        responses=_figure("responses", current.responses, before.responses),
        articles=_figure("articles", current.articles, before.articles),
        articles_by_language=[
            _figure(
                lang.value,
                current.articles_by_language.get(lang.value, 0),
                before.articles_by_language.get(lang.value, 0),
            )
            for lang in Language
        ],
        top_sources=[
            _figure(source, count, before.articles_by_source.get(source, 0)) for source, count in sources
        ],
    )


def _breakdown(current: dict[str, int], before: dict[str, int], order: list[str]) -> list[Breakdown]:
    """Rows for every key seen in either month, most frequent first, vocabulary order on ties."""
    keys = [key for key in order if current.get(key) or before.get(key)]
    keys += sorted(
        key for key in {*current, *before} if key not in order and (current.get(key) or before.get(key))
    )
    rows = [
        Breakdown(
            key=key,
            count=current.get(key, 0),
            previous=before.get(key, 0),
            change=current.get(key, 0) - before.get(key, 0),
        )
        for key in keys
    ]
    return sorted(rows, key=lambda row: -row.count)  # sorted() is stable: ties keep vocabulary order


def _weeks(period: Month, by_week: dict[str, dict[str, int]]) -> list[WeekCount]:
    """Every ISO week (Monday start) that overlaps the month, quiet weeks included as zeros."""
    monday = period.start - timedelta(days=period.start.weekday())
    weeks = {}
    while monday < period.end:
        weeks[monday] = {}
        monday += timedelta(days=7)
    for week, counts in by_week.items():
        weeks[date.fromisoformat(week)] = {t: n for t, n in counts.items() if n}
    return [
        WeekCount(week=week, counts=dict(sorted(counts.items()))) for week, counts in sorted(weeks.items())
    ]


# Incidents -------------------------------------------------------------------------------------


def _summaries(
    store: Store, names: _Names, period: Month, ids: Iterable[str], *, ongoing: bool
) -> list[IncidentSummary]:
    summaries = []
    for incident_id in sorted(set(ids)):
        detail = store.get_incident(incident_id)
        if detail is not None:  # deleted (merged) since the aggregates were read
            summaries.append(_summary(detail, names, period, ongoing=ongoing))
    return sorted(summaries, key=lambda s: (s.started_at, s.id))


def _summary(detail: IncidentDetail, names: _Names, period: Month, *, ongoing: bool) -> IncidentSummary:
    incident = detail.incident
    start, end = period.start_datetime(), period.end_datetime()
    articles = sorted(
        (a for a in detail.articles if _published(a) < end), key=lambda a: (_published(a), a.id)
    )
    claims = [
        _report(claim, article, names)
        for article in articles
        for claim in article.analysis.claims
        if _about(claim, incident, names)
    ]
    allegations = [c for c in claims if c.stance is Stance.ALLEGATION]
    responses = _unique(c for c in claims if c.stance in RESPONSE_STANCES)
    this_month = [c for c in claims if c.article.published_at >= start]
    return IncidentSummary(
        id=incident.id,
        title=incident.title_zh if names.language is Language.ZH else incident.title_en,
        title_en=incident.title_en,
        title_zh=incident.title_zh,
        subject=incident.subject,
        subject_name=names.entity(incident.subject, incident.subject_name),
        claim_types=sorted(set(incident.claim_types), key=list(ClaimType).index),
        depth=incident.depth,
        status=_status_at_end(responses),
        started_at=incident.started_at,
        first_allegation=allegations[0] if allegations else None,
        responses=responses,
        developments=_unique(this_month) if ongoing else [],
        coverage=[_coverage(a) for a in articles if _published(a) >= start],
    )


def _about(claim: Claim, incident: Incident, names: _Names) -> bool:
    """A claim belongs to the incident when it is about the same party (a company or its models)."""
    if incident.subject is None or claim.subject is None:
        return _fold(claim.subject_name) == _fold(incident.subject_name)
    return names.party(claim.subject) == names.party(incident.subject)


def _status_at_end(responses: list[ClaimReport]) -> IncidentStatus:
    stances = {r.stance for r in responses}
    if Stance.ADMISSION in stances:
        return IncidentStatus.CONFIRMED
    if Stance.DENIAL in stances:
        return IncidentStatus.DISPUTED
    return IncidentStatus.ALLEGED


def _unique(reports: Iterable[ClaimReport]) -> list[ClaimReport]:
    """One entry per statement: syndicated reports of the same quote keep only the earliest."""
    seen: set[tuple[str, ...]] = set()
    kept = []
    for report in reports:
        key = (report.stance, report.type, report.subject or report.subject_name, _fold(report.evidence))
        if key not in seen:
            seen.add(key)
            kept.append(report)
    return kept


def _report(claim: Claim, article: AnalysedArticle, names: _Names) -> ClaimReport:
    return ClaimReport(
        type=claim.type,
        depth=claim.depth if claim.depth is not None else claim.type.depth,
        stance=claim.stance,
        subject=claim.subject,
        subject_name=names.entity(claim.subject, claim.subject_name),
        object_name=names.entity(claim.object, claim.object_name)
        if (claim.object or claim.object_name)
        else None,
        speaker=claim.speaker,
        evidence=claim.evidence,
        confidence=claim.confidence,
        article=_coverage(article),
    )


def _coverage(article: AnalysedArticle) -> CoverageItem:
    a = article.article
    return CoverageItem(
        article_id=a.id,
        title=a.title,
        url=a.url,
        source=a.source,
        language=a.language,
        published_at=_published(article),
    )


def _published(article: AnalysedArticle) -> datetime:
    stamp = article.article.published_at or article.article.fetched_at
    return stamp.astimezone(UTC)


def _fold(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


class _Names:
    """Entity names in the digest's language, from the knowledge base when it knows the id."""

    def __init__(self, kb: EntityNames | None, language: Language):
        self.kb = kb
        self.language = language

    def _get(self, entity_id: str | None) -> Entity | None:
        if self.kb is None or not entity_id:
            return None
        try:
            return self.kb.get(entity_id)
        except KeyError:
            return None

    def entity(self, entity_id: str | None, fallback: str | None) -> str:
        entity = self._get(entity_id)
        if entity is None:
            return fallback or entity_id or ""
        if self.language is Language.ZH and entity.names_zh:
            return entity.names_zh[0]
        return entity.name

    def party(self, entity_id: str) -> str:
        """The organisation behind a model or person, else the entity itself."""
        entity = self._get(entity_id)
        return entity.developer if entity is not None and entity.developer else entity_id
