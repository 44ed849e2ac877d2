"""What the API and the pages show of the store's records: claims with their keys, articles,
incidents with their allegations, responses and coverage (syndicated copies folded).

Everything here returns plain data; escaping is the templates' (autoescape) and JSON's business.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from search.corrections import claim_key
from search.incidents import family_key
from search.results import IncidentDetail
from shellwatch.domain import RESPONSE_STANCES, AnalysedArticle, Claim, Incident, Stance, to_dict

SNIPPET_CHARS = 280


@dataclass
class ClaimView:
    key: str
    article_id: str
    claim: Claim
    corrected: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "article_id": self.article_id,
            "corrected": self.corrected,
            **to_dict(self.claim),
        }


@dataclass
class CoverageItem:
    """One article of an incident's coverage, with the copies of it folded underneath."""

    article: AnalysedArticle
    copies: list[str] = field(default_factory=list)  # URLs of syndicated copies (转载)
    folded: list[AnalysedArticle] = field(default_factory=list)  # stored articles that are copies

    def as_dict(self) -> dict[str, Any]:
        data = article_summary(self.article)
        data["also_published_at"] = self.copies
        data["folded_article_ids"] = [a.id for a in self.folded]
        return data


@dataclass
class IncidentView:
    incident: Incident
    allegations: list[ClaimView]
    responses: list[ClaimView]
    other_claims: list[ClaimView]
    coverage: list[CoverageItem]

    @property
    def languages(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for item in self.coverage:
            lang = item.article.article.language.value
            counts[lang] = counts.get(lang, 0) + 1
        return counts

    def as_dict(self) -> dict[str, Any]:
        return {
            **incident_dict(self.incident),
            "allegations": [c.as_dict() for c in self.allegations],
            "responses": [c.as_dict() for c in self.responses],
            "other_claims": [c.as_dict() for c in self.other_claims],
            "coverage": [item.as_dict() for item in self.coverage],
            "coverage_by_language": self.languages,
        }


def claim_views(analysed: AnalysedArticle, corrected_keys: set[str] | None = None) -> list[ClaimView]:
    views = []
    for claim in analysed.analysis.claims:
        key = claim_key(analysed.id, claim)
        views.append(ClaimView(key, analysed.id, claim, key in (corrected_keys or set())))
    return views


def article_summary(analysed: AnalysedArticle) -> dict[str, Any]:
    """An article without its full text (a snippet instead), with its claims and their keys."""
    article = analysed.article
    text = " ".join(article.text.split())
    return {
        "id": article.id,
        "url": article.url,
        "title": article.title,
        "source": article.source,
        "language": article.language.value,
        "author": article.author,
        "published_at": article.published_at.isoformat() if article.published_at else None,
        "fetched_at": article.fetched_at.isoformat(),
        "snippet": text[:SNIPPET_CHARS] + ("…" if len(text) > SNIPPET_CHARS else ""),
        "also_published_at": article.also_published_at,
        "incident_ids": analysed.incident_ids,
        "relevant": analysed.analysis.relevant,
        "claims": [c.as_dict() for c in claim_views(analysed)],
    }


def article_detail(analysed: AnalysedArticle, corrected_keys: set[str]) -> dict[str, Any]:
    data = article_summary(analysed)
    data["text"] = analysed.article.text
    data["claims"] = [c.as_dict() for c in claim_views(analysed, corrected_keys)]
    data["entities"] = [to_dict(m) for m in analysed.analysis.entities]
    data["event_dates"] = analysed.analysis.event_dates
    return data


def incident_dict(incident: Incident) -> dict[str, Any]:
    data = to_dict(incident)
    data["depth"] = incident.depth
    data["articles"] = len(incident.article_ids)
    del data["allegation_keys"]
    return data


def incident_view(detail: IncidentDetail, kb: Any, corrected_keys: set[str] | None = None) -> IncidentView:
    """Split the coverage's claims about this incident's subject into allegations and responses."""
    incident = detail.incident
    family = family_key(kb, incident.subject, incident.subject_name)
    allegations: list[ClaimView] = []
    responses: list[ClaimView] = []
    others: list[ClaimView] = []
    coverage = fold_syndicated(detail.articles)
    for item in coverage:
        for view in claim_views(item.article, corrected_keys):
            if family_key(kb, view.claim.subject, view.claim.subject_name) != family:
                continue
            if view.claim.stance is Stance.ALLEGATION:
                allegations.append(view)
            elif view.claim.stance in RESPONSE_STANCES:
                responses.append(view)
            else:
                others.append(view)
    return IncidentView(incident, allegations, responses, others, coverage)


def fold_syndicated(articles: list[AnalysedArticle]) -> list[CoverageItem]:
    """Coverage in date order; a stored article that is a syndicated copy of an earlier one (its URL
    is among that one's `also_published_at`, or they share a canonical URL) is folded under it."""
    ordered = sorted(articles, key=_when)
    items: list[CoverageItem] = []
    owner_of: dict[str, CoverageItem] = {}
    for analysed in ordered:
        article = analysed.article
        owner = owner_of.get(article.canonical_url) or owner_of.get(article.url)
        if owner is not None:
            owner.folded.append(analysed)
            if article.url not in owner.copies:
                owner.copies.append(article.url)
            continue
        item = CoverageItem(analysed, copies=list(article.also_published_at))
        items.append(item)
        for url in (article.canonical_url, article.url, *article.also_published_at):
            owner_of.setdefault(url, item)
    return items


def _when(analysed: AnalysedArticle) -> tuple[datetime, str]:
    return analysed.article.published_at or analysed.article.fetched_at, analysed.id
