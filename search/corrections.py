"""Analysts' corrections of claims: make them, re-apply them after re-analysis, export them.

A correction names a claim by `claim_key` (a hash of the article id and the claim's subject,
type, stance, object and evidence, i.e. the claim as it was shown) and changes its type, stance
or subject, or dismisses it. Corrections are stored (Store.save_correction) and applied in the
order they were made, so a second correction of an already corrected claim refers to the claim
as the first left it.

- `apply_corrections(store, analysed)` is what the pipeline calls after every (re-)analysis, so a
  correction survives re-processing of its article.
- `correct_claim(...)` stores a new correction, rewrites the stored article and re-runs incident
  assignment for it (the incidents it belonged to are rebuilt from their coverage), and plans the
  alerts the corrected claims now raise (delivery is the caller's).
- `labelled_examples(store)` exports corrected claims in the NLP development-set format.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import Field, model_validator

from nlp.script import detect_script, fold
from search.backends.admin import Correction
from search.backends.base import Store
from search.incidents import IncidentAssignment, assign_incidents
from shellwatch.domain import Alert, AnalysedArticle, Claim, ClaimType, Record, Stance, stable_id

log = logging.getLogger(__name__)


class CorrectionError(ValueError):
    """The correction cannot be made as asked (no such claim, nothing to change)."""


class ClaimNotFound(LookupError):
    """No article with this id, or no claim with this key in it."""


class CorrectionRequest(Record):
    """The body of `POST /api/corrections`: which claim, and what to change."""

    article_id: str = Field(min_length=1, max_length=64)
    claim_key: str = Field(min_length=1, max_length=64)
    type: ClaimType | None = None
    stance: Stance | None = None
    subject: str | None = Field(None, min_length=1, max_length=200, description="entity id or any name")
    dismiss: bool = False
    note: str | None = Field(None, max_length=2000)

    @model_validator(mode="after")
    def _something_to_do(self) -> CorrectionRequest:
        if not self.dismiss and self.type is None and self.stance is None and self.subject is None:
            raise ValueError("give at least one of type, stance, subject, or dismiss=true")
        return self


@dataclass
class CorrectionOutcome:
    correction: Correction
    analysed: AnalysedArticle  # the article as now stored
    incident_ids: list[str]
    alerts: list[Alert] = field(default_factory=list)  # planned, not yet delivered


def claim_key(article_id: str, claim: Claim) -> str:
    """The identity of a claim as shown: stable across re-analysis that finds the same claim."""
    return stable_id(
        "claim",
        article_id,
        claim.subject or "",
        fold(claim.subject_name).strip(),
        claim.type.value,
        claim.stance.value,
        claim.object or "",
        " ".join(claim.evidence.split()),
    )


def apply_corrections(store: Store, analysed: AnalysedArticle) -> AnalysedArticle:
    """The article with every stored correction of it applied (the pipeline calls this)."""
    corrections = store.list_corrections(analysed.id)
    return corrected(analysed, corrections) if corrections else analysed


def corrected(analysed: AnalysedArticle, corrections: list[Correction]) -> AnalysedArticle:
    """Apply corrections in order; one whose claim is not (or no longer) there is skipped."""
    claims = list(analysed.analysis.claims)
    for correction in corrections:
        for index, claim in enumerate(claims):
            if claim_key(analysed.id, claim) != correction.claim_key:
                continue
            if correction.dismissed:
                del claims[index]
            else:
                claims[index] = corrected_claim(claim, correction)
            break
    if claims == analysed.analysis.claims:
        return analysed
    analysis = analysed.analysis.model_copy(update={"claims": claims})
    return analysed.model_copy(update={"analysis": analysis})


def correct_claim(
    store: Store, kb: Any, request: CorrectionRequest, token_id: str | None = None
) -> CorrectionOutcome:
    """Store a correction, rewrite the article, re-assign its incidents and plan new alerts."""
    from alerts.dispatch import plan_alerts

    analysed = store.get_article(request.article_id)
    if analysed is None:
        raise ClaimNotFound(f"no article {request.article_id!r}")
    claim = next(
        (c for c in analysed.analysis.claims if claim_key(analysed.id, c) == request.claim_key), None
    )
    if claim is None:
        raise ClaimNotFound(
            f"article {request.article_id!r} has no claim {request.claim_key!r} (it may have been"
            " corrected meanwhile: reload the article for the current keys)"
        )
    subject, subject_name = _subject(kb, request.subject) if request.subject else (None, None)
    correction = Correction(
        id=secrets.token_hex(8),
        article_id=analysed.id,
        claim_key=request.claim_key,
        type=request.type,
        stance=request.stance,
        subject=subject,
        subject_name=subject_name,
        dismissed=request.dismiss,
        before=claim,
        note=request.note,
        token_id=token_id,
        created_at=datetime.now(UTC),
    )
    if not correction.dismissed and corrected_claim(claim, correction) == claim:
        raise CorrectionError("the correction changes nothing: the claim already reads that way")
    store.save_correction(correction)
    updated = corrected(analysed, [correction])
    updated, assignment = reassign_incidents(store, kb, updated)
    alerts = plan_alerts(store, updated, assignment, kb)
    log.info(
        "event=claim-corrected article=%s correction=%s dismissed=%s incidents=%s alerts=%d",
        analysed.id,
        correction.id,
        correction.dismissed,
        ",".join(updated.incident_ids) or "-",
        len(alerts),
    )
    return CorrectionOutcome(correction, updated, updated.incident_ids, alerts)


def reassign_incidents(
    store: Store, kb: Any, analysed: AnalysedArticle
) -> tuple[AnalysedArticle, IncidentAssignment]:
    """Store the article and rebuild the incidents it belonged to from their coverage.

    assign_incidents only ever adds, so a dismissed or re-typed claim would stay in its old
    incident: the incidents the article was in are deleted and their other articles re-assigned in
    publication order (deterministic ids make an unchanged incident come back as it was), then the
    corrected article is assigned like a new one.
    """
    previous = store.get_article(analysed.id)
    affected_ids = previous.incident_ids if previous else []
    replay: dict[str, AnalysedArticle] = {}
    for incident_id in affected_ids:
        detail = store.get_incident(incident_id)
        if detail is None:
            continue
        for article in detail.articles:
            if article.id != analysed.id:
                replay[article.id] = article
        store.delete_incident(incident_id)
    analysed = analysed.model_copy(update={"incident_ids": []})
    store.upsert_article(analysed)
    sequence = sorted([*replay.values(), analysed], key=_published)
    assignment = IncidentAssignment()
    for article in sequence:
        result = assign_incidents(store, article, kb)
        # Besides the corrected article's own result: a corrected claim too weak to open an
        # incident alone waits, and another article replayed here may open the incident with it,
        # reporting the corrected claim in that article's result.
        _take_claims_of(analysed.id, result, assignment)
        if article.id == analysed.id:
            assignment.incidents.extend(result.incidents)
    stored = store.get_article(analysed.id)
    incident_ids = sorted(stored.incident_ids if stored else {i.id for i in assignment.incidents})
    analysed = analysed.model_copy(update={"incident_ids": incident_ids})
    store.upsert_article(analysed)
    return analysed, assignment


def _take_claims_of(article_id: str, result: IncidentAssignment, into: IncidentAssignment) -> None:
    for attribute in ("new_allegations", "responses"):
        taken = [item for item in getattr(result, attribute) if item.article_id == article_id]
        getattr(into, attribute).extend(taken)


def labelled_examples(store: Store) -> Iterator[dict[str, Any]]:
    """One NLP dev-set example per corrected evidence sentence: the claims it now carries."""
    by_article: dict[str, list[Correction]] = {}
    for correction in store.list_corrections():
        by_article.setdefault(correction.article_id, []).append(correction)
    for article_id, corrections in by_article.items():
        analysed = store.get_article(article_id)
        if analysed is None:
            continue
        sentences = dict.fromkeys(" ".join(c.before.evidence.split()) for c in corrections)
        for sentence in sentences:
            claims = [c for c in analysed.analysis.claims if " ".join(c.evidence.split()) == sentence]
            yield {
                "id": "correction-" + stable_id("example", article_id, sentence, length=12),
                "text": sentence,
                "language": analysed.article.language.value,
                "script": detect_script(sentence),
                "relevant": analysed.analysis.relevant or bool(claims),
                "entities": _sentence_entities(analysed, sentence, claims),
                "claims": [
                    {
                        "subject": c.subject,
                        "subject_name": c.subject_name,
                        "object": c.object,
                        "type": c.type.value,
                        "stance": c.stance.value,
                        "speaker": c.speaker,
                    }
                    for c in claims
                ],
            }


def corrected_claim(claim: Claim, correction: Correction) -> Claim:
    """The claim with one (non-dismissing) correction's changes."""
    update: dict[str, Any] = {}
    if correction.type is not None:
        update["type"] = correction.type
        update["depth"] = correction.type.depth
    if correction.stance is not None:
        update["stance"] = correction.stance
    if correction.subject_name is not None:
        update["subject"] = correction.subject
        update["subject_name"] = correction.subject_name
    return claim.model_copy(update=update)


def _subject(kb: Any, name: str) -> tuple[str | None, str]:
    """A known entity's id and canonical name; an unknown name is kept as given (no id)."""
    entity = kb.get(name.strip()) or kb.resolve(name.strip())
    if entity is not None:
        return entity.id, entity.name
    return None, name.strip()


def _published(article: AnalysedArticle) -> tuple[datetime, str]:
    return article.article.published_at or article.article.fetched_at, article.id


def _sentence_entities(analysed: AnalysedArticle, sentence: str, claims: list[Claim]) -> list[str]:
    folded = fold(sentence)
    ids: list[str] = []
    for mention in analysed.analysis.entities:
        names = [mention.name, *mention.surface]
        if mention.id and any(name and fold(name) in folded for name in names):
            ids.append(mention.id)
    for claim in claims:
        ids.extend(i for i in (claim.subject, claim.object) if i)
    return list(dict.fromkeys(ids))
