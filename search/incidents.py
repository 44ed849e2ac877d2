"""Incidents: cluster analysed articles into controversies, across languages and outlets.

An article's claims are grouped by the accused *family* (a model and its developer count as one,
via the knowledge base). A group joins an existing incident of that family when the article falls
within `WINDOW` of the incident's coverage and either shares a claim type or reads alike (token
overlap of the titles); otherwise an allegation, denial or admission opens a new incident. Status
only moves forward (alleged → disputed on a denial → confirmed on an admission). Incident ids are
derived from the family, the claim type and the opening article, so a retried article writes the
same incident; processing an article again adds nothing. Workers assign one accused party at a time
(`store.incident_lock`), so concurrent processes cannot open one controversy twice or lose each
other's updates; incidents of one party that turn out to overlap (coverage bridging two stories,
or data from before the lock) are merged into the earlier one.

Reads: the store (list_incidents, get_incident), the knowledge base; titles from data/incident_titles.yaml.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import Field

from search.backends.base import Store
from search.entities import KnowledgeBase, org_of
from search.text import fold, simplified, tokens
from shellwatch.domain import (
    AnalysedArticle,
    Claim,
    ClaimType,
    Incident,
    IncidentStatus,
    Record,
    Stance,
    allegation_key,
    stable_id,
)

log = logging.getLogger(__name__)

WINDOW = timedelta(days=90)
SIMILARITY_THRESHOLD = 0.3
OPENING_STANCES = frozenset({Stance.ALLEGATION, Stance.DENIAL, Stance.ADMISSION})
STATUS_RANK = {IncidentStatus.ALLEGED: 0, IncidentStatus.DISPUTED: 1, IncidentStatus.CONFIRMED: 2}
STANCE_STATUS = {Stance.DENIAL: IncidentStatus.DISPUTED, Stance.ADMISSION: IncidentStatus.CONFIRMED}
TITLES_FILE = Path(__file__).parent / "data" / "incident_titles.yaml"
STOPWORDS_FILE = Path(__file__).parent / "data" / "similarity_stopwords.txt"


class AssignedClaim(Record):
    """A claim of the article and the incident it now belongs to."""

    claim: Claim
    incident_id: str


class IncidentAssignment(Record):
    incidents: list[Incident] = Field(default_factory=list)  # the incidents the article belongs to, as stored
    new_allegations: list[AssignedClaim] = Field(default_factory=list)  # allegations not seen before
    responses: list[AssignedClaim] = Field(default_factory=list)  # denials / admissions, first time only


def assign_incidents(store: Store, analysed: AnalysedArticle, kb: KnowledgeBase) -> IncidentAssignment:
    """Put the article's claims into incidents (creating, updating or merging them) and store them."""
    when = analysed.article.published_at or analysed.article.fetched_at
    groups: dict[str, list[Claim]] = {}
    for claim in analysed.analysis.claims:
        groups.setdefault(family_key(kb, claim.subject, claim.subject_name), []).append(claim)
    assignment = IncidentAssignment()
    for family, claims in groups.items():
        # One accused party at a time across every worker: read, decide and write without another
        # process updating the same incidents in between.
        with store.incident_lock(family):
            _assign_family(store, kb, family, claims, analysed, when, assignment)
    return assignment


def _assign_family(
    store: Store,
    kb: KnowledgeBase,
    family: str,
    claims: list[Claim],
    analysed: AnalysedArticle,
    when: datetime,
    assignment: IncidentAssignment,
) -> None:
    nearby = store.list_incidents(since=when - WINDOW, until=when + WINDOW)
    incident = _best_incident(store, kb, family, claims, analysed, nearby)
    if incident is None:
        if not any(c.stance in OPENING_STANCES for c in claims):
            return  # commentary about a company with no controversy on record
        incident = _open_incident(kb, family, claims, analysed, when)
    updated, new_allegations, responses = _add_coverage(kb, incident, claims, analysed, when)
    if updated != incident:
        store.upsert_incident(updated)
    final = _merge_overlapping(store, kb, updated)
    assignment.incidents.append(final)
    assignment.new_allegations += [AssignedClaim(claim=c, incident_id=final.id) for c in new_allegations]
    assignment.responses += [AssignedClaim(claim=c, incident_id=final.id) for c in responses]
    log.info(
        "event=incident-assigned article=%s incident=%s new_allegations=%d responses=%d",
        analysed.id,
        final.id,
        len(new_allegations),
        len(responses),
    )


def family_key(kb: KnowledgeBase, subject: str | None, subject_name: str) -> str:
    """The accused organisation (a model counts as its developer), or the folded unknown name."""
    if subject:
        return org_of(kb, subject)
    return "name:" + fold(subject_name).strip()


def merge_incidents(store: Store, keep: Incident, other: Incident) -> Incident:
    """Fold `other` into `keep` (coverage, types, allegations, dates, status) and delete `other`."""
    merged = keep.model_copy(
        update={
            "claim_types": _union(keep.claim_types, other.claim_types),
            "status": max(keep.status, other.status, key=STATUS_RANK.__getitem__),
            "started_at": min(keep.started_at, other.started_at),
            "updated_at": max(keep.updated_at, other.updated_at),
            "article_ids": _union(keep.article_ids, other.article_ids),
            "allegation_keys": _union(keep.allegation_keys, other.allegation_keys),
        }
    )
    store.upsert_incident(merged)
    store.delete_incident(other.id)
    log.info("event=incidents-merged kept=%s removed=%s", keep.id, other.id)
    return merged


def incident_title(
    kb: KnowledgeBase,
    subject: str | None,
    subject_name: str,
    claim_type: ClaimType,
    object_id: str | None,
    object_name: str | None,
) -> tuple[str, str]:
    """(title_en, title_zh) from the subject, the claim type and the object, e.g.
    "Yi-34B accused of being based on Llama" / "Yi-34B 被指基于 Llama"."""
    template = _titles()[claim_type.value]
    subject_en, subject_zh = _names(kb, subject, subject_name)
    if object_id or object_name:
        object_en, object_zh = _names(kb, object_id, object_name or object_id or "")
    else:
        object_en, object_zh = template["default_object"]["en"], template["default_object"]["zh"]
    return (
        template["en"].format(subject=subject_en, object=object_en),
        template["zh"].format(subject=subject_zh, object=object_zh),
    )


# Steps ------------------------------------------------------------------------------------------


def _best_incident(
    store: Store,
    kb: KnowledgeBase,
    family: str,
    claims: list[Claim],
    analysed: AnalysedArticle,
    nearby: list[Incident],
) -> Incident | None:
    when = analysed.article.published_at or analysed.article.fetched_at
    types = {c.type for c in claims}
    best: tuple[float, Incident] | None = None
    for incident in nearby:
        if family_key(kb, incident.subject, incident.subject_name) != family:
            continue
        if analysed.id in incident.article_ids:
            return incident  # already assigned: the same incident again, whatever the scores say
        if not incident.started_at - WINDOW <= when <= incident.updated_at + WINDOW:
            continue
        score = 1.0 if types & set(incident.claim_types) else _similarity(store, incident, analysed)
        if score < SIMILARITY_THRESHOLD:
            continue
        if best is None or (score, -incident.started_at.timestamp()) > (
            best[0],
            -best[1].started_at.timestamp(),
        ):
            best = (score, incident)
    return best[1] if best else None


def _open_incident(
    kb: KnowledgeBase, family: str, claims: list[Claim], analysed: AnalysedArticle, when: datetime
) -> Incident:
    opener = next(c for c in claims if c.stance in OPENING_STANCES)
    title_en, title_zh = incident_title(
        kb, opener.subject, opener.subject_name, opener.type, opener.object, opener.object_name
    )
    return Incident(
        id=stable_id("incident", family, opener.type.value, analysed.id),
        subject=opener.subject,
        subject_name=opener.subject_name,
        claim_types=[opener.type],
        title_en=title_en,
        title_zh=title_zh,
        started_at=when,
        updated_at=when,
    )


def _add_coverage(
    kb: KnowledgeBase, incident: Incident, claims: list[Claim], analysed: AnalysedArticle, when: datetime
) -> tuple[Incident, list[Claim], list[Claim]]:
    seen_article = analysed.id in incident.article_ids
    keys = list(incident.allegation_keys)
    new_allegations: list[Claim] = []
    for claim in claims:
        if claim.stance is Stance.ALLEGATION and allegation_key(claim) not in keys:
            keys.append(allegation_key(claim))
            new_allegations.append(claim)
    responses = [] if seen_article else [c for c in claims if c.stance in STANCE_STATUS]
    status = incident.status
    for claim in claims:
        candidate = STANCE_STATUS.get(claim.stance)
        if candidate and STATUS_RANK[candidate] > STATUS_RANK[status]:
            status = candidate
    started = (
        min(incident.started_at, when)
        if any(c.stance is Stance.ALLEGATION for c in claims)
        else incident.started_at
    )
    updated = incident.model_copy(
        update={
            "claim_types": _union(
                incident.claim_types, [c.type for c in claims if c.stance in OPENING_STANCES]
            ),
            "status": status,
            "started_at": started,
            "updated_at": max(incident.updated_at, when),
            "article_ids": _union(incident.article_ids, [analysed.id]),
            "allegation_keys": keys,
        }
    )
    return updated, new_allegations, responses


def _merge_overlapping(store: Store, kb: KnowledgeBase, incident: Incident) -> Incident:
    """Merge incidents of the same family and type whose coverage overlaps; the earliest one stays."""
    family = family_key(kb, incident.subject, incident.subject_name)
    overlapping = [
        other
        for other in store.list_incidents(
            since=incident.started_at - WINDOW, until=incident.updated_at + WINDOW
        )
        if family_key(kb, other.subject, other.subject_name) == family
        and set(other.claim_types) & set(incident.claim_types)
        and other.started_at - WINDOW <= incident.updated_at
        and incident.started_at - WINDOW <= other.updated_at
    ]
    if len(overlapping) < 2:
        return incident
    overlapping.sort(key=lambda i: (i.started_at, i.id))
    keep = overlapping[0]
    for other in overlapping[1:]:
        keep = merge_incidents(store, keep, other)
    return keep


def _similarity(store: Store, incident: Incident, analysed: AnalysedArticle) -> float:
    """Jaccard overlap of title tokens (bigrams in Chinese) with the incident's coverage."""
    detail = store.get_incident(incident.id)
    if detail is None or not detail.articles:
        return 0.0
    mine = _headline_words(analysed.article.title)
    theirs: set[str] = set()
    for article in detail.articles[:20]:
        theirs |= _headline_words(article.article.title)
    if not mine or not theirs:
        return 0.0
    return len(mine & theirs) / len(mine | theirs)


def _headline_words(title: str) -> set[str]:
    return {t for t in tokens(title) if t not in _stopwords()}


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    lines = STOPWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(word for line in lines if not line.startswith("#") for word in line.split())


def _names(kb: KnowledgeBase, entity_id: str | None, fallback: str) -> tuple[str, str]:
    entity = kb.get(entity_id) if entity_id else None
    if entity is None:
        return fallback, fallback
    zh = next(
        (n for n in entity.names_zh if n == simplified(n)),
        entity.names_zh[0] if entity.names_zh else entity.name,
    )
    return entity.name, zh


def _union(first: list, second: list) -> list:
    return list(dict.fromkeys([*first, *second]))


@lru_cache(maxsize=1)
def _titles() -> dict[str, dict]:
    return yaml.safe_load(TITLES_FILE.read_text(encoding="utf-8"))
