"""Incidents: cluster analysed articles into controversies, across languages and outlets.

An article's claims are grouped by the accused *family* (a model and its developer count as one,
via the knowledge base). A group joins an existing incident of that family when the article falls
within `WINDOW` of the incident's coverage and either shares a claim type or reads alike (token
overlap of the titles). Otherwise an allegation, denial or admission may open a new incident, but
only when corroborated, so that one misread sentence does not make a controversy
(data/incident_opening.yaml holds the thresholds):
- opening claims about the family in articles from at least two outlets within `WINDOW`, or
- one confident claim, or a less confident denial or admission spoken by the accused itself.
A claim about a party that the same article names as the *source* of another party's claim ("X
copied Y" read as "Y accused") is not evidence against it. A claim short of the rules *waits*: its
article stays stored and searchable, in no incident; when a later article corroborates it, the
store gives the waiting articles back (`Store.list_articles_with_claims`, by family and period)
and the incident opens with all of them in timeline order, dated by the first allegation, its
status from their responses.

Status only moves forward (alleged → disputed on a denial → confirmed on an admission). Incident
ids are derived from the family, the claim type and the opening article (the earliest one), so a
retried article writes the same incident; processing an article again adds nothing. Workers assign
one accused party at a time (`store.incident_lock`), so concurrent processes cannot open one
controversy twice or lose each other's updates (the waiting articles are read under that lock
too); incidents of one party that turn out to overlap (coverage bridging two stories, or data from
before the lock) are merged into the earlier one.

Where waiting matters downstream:
- alerts (alerts/dispatch.py) are raised only for `IncidentAssignment.new_allegations` and
  `.responses`, so a waiting claim raises none yet; when its incident opens, the waiting
  articles' allegations and responses are reported once, in the opening article's assignment,
  `AssignedClaim.article_id` naming the article each comes from; alert ids (subscription,
  incident, allegation) keep them exactly-once. plan_alerts matches subscriptions against the
  article being processed, though: a subscription whose article filters (stance, language,
  query) only the waiting article passes misses that alert until dispatch matches each claim
  against its own article (`article_id`);
- digests (digests/) count claims whether or not they are in an incident, and list incidents by
  the month of their first allegation, so a digest built after the corroboration shows the
  incident in the month its story began;
- the web UI and API (web/) show a waiting article with its claims and no incident, as they show
  commentary; it appears under the incident once that opens.

Reads: the store (list_incidents, get_incident, list_articles_with_claims), the knowledge base;
titles from data/incident_titles.yaml, opening rules from data/incident_opening.yaml.
"""

from __future__ import annotations

import logging
import os
import re
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from search.backends.base import Store
from search.entities import KnowledgeBase, developer_of, org_of
from search.text import fold, simplified, tokens
from shellwatch.domain import (
    AnalysedArticle,
    Claim,
    ClaimType,
    EntityType,
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
# Waiting articles read back per opening decision; far more than one party's uncorroborated claims
# in one window (a party with an incident does not wait: its articles join it).
WAITING_LIMIT = 200
STOPWORDS_FILE = Path(__file__).parent / "data" / "similarity_stopwords.txt"


class AssignedClaim(Record):
    """A claim and the incident it now belongs to. `article_id` is the article the claim comes
    from: the one being assigned, or an earlier one whose claim waited for corroboration."""

    claim: Claim
    incident_id: str
    article_id: str


class OpeningRules(BaseModel):
    """When claims are evidence enough to open an incident (data/incident_opening.yaml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    corroborating_sources: int = Field(ge=1)  # distinct outlets with claims about the party
    confident_claim: float = Field(ge=0.0, le=1.0)  # one allegation, denial or admission this sure
    confident_response: float = Field(ge=0.0, le=1.0)  # the party's own denial/admission this sure


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
    coverage = [(analysed, claims)]
    if incident is None:
        if not any(c.stance in OPENING_STANCES for c in claims):
            return  # commentary about a company with no controversy on record
        waiting = _waiting_articles(store, kb, family, claims, analysed, when, nearby)
        if not _corroborated(kb, family, [analysed, *waiting]):
            log.info("event=incident-waiting article=%s family=%s", analysed.id, family)
            return  # the claims wait on their article for another outlet
        coverage = sorted(
            [(analysed, claims), *((a, _family_claims(kb, family, a)) for a in waiting)],
            key=lambda pair: _timeline_key(pair[0]),
        )
        incident = _open_incident(kb, family, [article for article, _ in coverage])
    updated = incident
    new_allegations: list[tuple[str, Claim]] = []
    responses: list[tuple[str, Claim]] = []
    for article, article_claims in coverage:
        updated, allegations, answers = _add_coverage(
            kb, updated, article_claims, article, _published(article)
        )
        new_allegations += [(article.id, c) for c in allegations]
        responses += [(article.id, c) for c in answers]
    if updated != incident:
        store.upsert_incident(updated)
    final = _merge_overlapping(store, kb, updated)
    assignment.incidents.append(final)
    assignment.new_allegations += [
        AssignedClaim(claim=c, incident_id=final.id, article_id=a) for a, c in new_allegations
    ]
    assignment.responses += [AssignedClaim(claim=c, incident_id=final.id, article_id=a) for a, c in responses]
    log.info(
        "event=incident-assigned article=%s incident=%s articles_opened_with=%d new_allegations=%d responses=%d",
        analysed.id,
        final.id,
        len(coverage) - 1,
        len(new_allegations),
        len(responses),
    )


# An unknown product and its unknown maker are one party when their names share a stem followed
# by what marks a product or a company: 衡川法律大模型 / 衡川智能, 星河-34B / 星河科技,
# Nebula-7B / Nebula AI. A stem alone ("智能客服") is no party: the mark must follow it.
NAME_STEM = re.compile(
    r"([\u4e00-\u9fff]{2}|[a-z]{4,})(?=[\s_-]*(?:\d|科技|智能|公司|集团|大模型|大语言模型|模型|法律|金融|医疗"
    r"|教育|助手|ai\b|labs?\b|inc\b|technolog))"
)


def family_key(kb: KnowledgeBase, subject: str | None, subject_name: str) -> str:
    """The accused organisation (a model counts as its developer), or the folded unknown name, cut
    to its stem when it has one (NAME_STEM)."""
    if subject:
        return org_of(kb, subject)
    name = fold(subject_name).strip()
    stem = NAME_STEM.match(name)
    return "name:" + (stem.group(1) if stem else name)


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


def _open_incident(kb: KnowledgeBase, family: str, coverage: list[AnalysedArticle]) -> Incident:
    """A new, empty incident named after the first claim that counts in the earliest article that
    has one (coverage is in timeline order); _add_coverage then adds the articles."""
    opener_article, opener = next(
        (article, counted[0]) for article in coverage if (counted := _counted_claims(kb, family, article))
    )
    title_en, title_zh = incident_title(
        kb, opener.subject, opener.subject_name, opener.type, opener.object, opener.object_name
    )
    when = _published(opener_article)
    return Incident(
        id=stable_id("incident", family, opener.type.value, opener_article.id),
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


def _waiting_articles(
    store: Store,
    kb: KnowledgeBase,
    family: str,
    claims: list[Claim],
    analysed: AnalysedArticle,
    when: datetime,
    nearby: list[Incident],
) -> list[AnalysedArticle]:
    """Other articles within WINDOW whose opening claims about this family opened nothing yet: in
    no incident of the family, and not enough alone (an article that is enough alone has not been
    assigned yet, as in a replay after a correction: it opens or joins an incident in its turn)."""
    family_incidents = [i for i in nearby if family_key(kb, i.subject, i.subject_name) == family]
    known = {i.id for i in nearby}
    # An unknown party is looked up by its family's name: the stem finds the maker and its products.
    subject, name = (None, family.removeprefix("name:")) if family.startswith("name:") else (family, "")
    found = store.list_articles_with_claims(
        subject,
        OPENING_STANCES,
        when - WINDOW,
        when + WINDOW,
        name=name,
        exclude_ids=[analysed.id, *(a for i in family_incidents for a in i.article_ids)],
        limit=WAITING_LIMIT,
    )
    waiting = []
    for article in found:
        if not any(c.stance in OPENING_STANCES for c in _family_claims(kb, family, article)):
            continue  # the store matched the name in the text, but the claim is another party's
        if any(_in_family_incident(store, kb, family, i) for i in article.incident_ids if i not in known):
            continue
        if _opens_alone(kb, family, _counted_claims(kb, family, article)):
            continue
        waiting.append(article)
    return waiting


def _in_family_incident(store: Store, kb: KnowledgeBase, family: str, incident_id: str) -> bool:
    detail = store.get_incident(incident_id)
    return (
        detail is not None and family_key(kb, detail.incident.subject, detail.incident.subject_name) == family
    )


def _corroborated(kb: KnowledgeBase, family: str, articles: list[AnalysedArticle]) -> bool:
    """One claim enough alone, or claims that count in articles from enough different outlets."""
    rules = opening_rules()
    outlets = set()
    for article in articles:
        counted = _counted_claims(kb, family, article)
        if _opens_alone(kb, family, counted):
            return True
        if counted:
            outlets.add(fold(article.article.source).strip())
    return len(outlets) >= rules.corroborating_sources


def _counted_claims(kb: KnowledgeBase, family: str, article: AnalysedArticle) -> list[Claim]:
    """The article's allegations, denials and admissions about the family that count as evidence.
    None when the article names the family as the source of another party's claim: "X copied Y"
    also read as "Y accused of …" is one sentence misread, not a controversy about Y. When the two
    parties name each other as the source, the more confident reading is the one that counts."""
    opening = [c for c in article.analysis.claims if c.stance in OPENING_STANCES]
    about = [c for c in opening if family_key(kb, c.subject, c.subject_name) == family]
    for other in opening:
        if other in about or _source_family(kb, other) != family:
            continue
        other_family = family_key(kb, other.subject, other.subject_name)
        answered = [c.confidence for c in about if _source_family(kb, c) == other_family]
        if max(answered, default=-1.0) <= other.confidence:
            return []
    return about


def _source_family(kb: KnowledgeBase, claim: Claim) -> str | None:
    """The family of the model a claim says its subject comes from, if it names one."""
    if not (claim.object or claim.object_name):
        return None
    return family_key(kb, claim.object, claim.object_name or "")


def _opens_alone(kb: KnowledgeBase, family: str, counted: list[Claim]) -> bool:
    rules = opening_rules()
    return any(
        c.confidence >= rules.confident_claim
        or (
            c.stance in STANCE_STATUS
            and c.confidence >= rules.confident_response
            and _own_response(kb, family, c)
        )
        for c in counted
    )


def _own_response(kb: KnowledgeBase, family: str, claim: Claim) -> bool:
    """Whether the speaker of a denial or admission is the accused party itself, as the knowledge
    base knows it: the organisation, one of its models or its people. An unnamed or unknown speaker
    is not enough: a victim's or a rival's statement reads like a response too, and a misread word
    ("联合" of 联合创始人) can be taken for both an unknown subject and its speaker."""
    speaker = kb.resolve(claim.speaker) if claim.speaker else None
    if speaker is None:
        return False
    if speaker.type is EntityType.PERSON:
        return developer_of(kb, speaker.id) == family  # a person's organisation
    return org_of(kb, speaker.id) == family


def _family_claims(kb: KnowledgeBase, family: str, article: AnalysedArticle) -> list[Claim]:
    return [c for c in article.analysis.claims if family_key(kb, c.subject, c.subject_name) == family]


def _published(article: AnalysedArticle) -> datetime:
    return article.article.published_at or article.article.fetched_at


def _timeline_key(article: AnalysedArticle) -> tuple[datetime, str]:
    return _published(article), article.id


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


def opening_rules() -> OpeningRules:
    """The opening thresholds of the file SHELLWATCH_INCIDENT_OPENING names (default
    data/incident_opening.yaml); a malformed file fails loudly, naming the file."""
    from shellwatch.config import ENV_NAMES, Settings

    # Called per article and per waiting article: read the one variable, not all the settings.
    named = os.environ.get(ENV_NAMES["incident_opening_file"])
    return _opening_rules(Path(named) if named else Settings.model_fields["incident_opening_file"].default)


@lru_cache(maxsize=4)
def _opening_rules(path: Path) -> OpeningRules:
    try:
        return OpeningRules.model_validate(yaml.safe_load(Path(path).read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from exc
