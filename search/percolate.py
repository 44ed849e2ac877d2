"""The structured half of percolation, shared by both backends: does a claim pass a subscription?

The query half (the subscription's `query` in the search syntax) is evaluated by each backend with
its own index machinery (an in-memory FTS5 table for SQLite, a percolator index for Elasticsearch).
"""

from __future__ import annotations

from search.entities import KnowledgeBase, developer_of, entity_family, resolve_entity_id
from shellwatch.domain import AnalysedArticle, Claim, Subscription


def claim_passes(
    subscription: Subscription, claim: Claim, analysed: AnalysedArticle, kb: KnowledgeBase
) -> bool:
    """All of the subscription's filters hold for this one claim of this article."""
    if subscription.entities:
        wanted: set[str] = set()
        for name in subscription.entities:
            wanted.update(entity_family(kb, resolve_entity_id(kb, name)))
        subject_ids = {claim.subject} if claim.subject else {claim.subject_name.strip().lower()}
        developer = developer_of(kb, claim.subject) if claim.subject else None
        if developer:
            subject_ids.add(developer)
        if not subject_ids & wanted:
            return False
    if subscription.claim_types and claim.type not in subscription.claim_types:
        return False
    if subscription.max_depth is not None:
        depth = claim.depth if claim.depth is not None else claim.type.depth
        if depth is None or depth > subscription.max_depth:
            return False
    if subscription.stances and claim.stance not in subscription.stances:
        return False
    if subscription.languages and analysed.article.language not in subscription.languages:
        return False
    return claim.confidence >= subscription.min_confidence


def passing_claims(subscription: Subscription, analysed: AnalysedArticle, kb: KnowledgeBase) -> list[Claim]:
    if subscription.paused:
        return []
    return [c for c in analysed.analysis.claims if claim_passes(subscription, c, analysed, kb)]
