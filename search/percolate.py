"""The structured half of percolation, shared by both backends: does a claim pass a subscription?

The query half (the subscription's `query` in the search syntax) is evaluated by each backend with
its own index machinery (an in-memory FTS5 table for SQLite, a percolator index for Elasticsearch).

`subscription_keys` and `article_keys` let a store find the candidates without reading every
subscription: a subscription can pass a claim of an article only if they share a key.
"""

from __future__ import annotations

from search.entities import KnowledgeBase, developer_of, entity_family, resolve_entity_id
from shellwatch.domain import WRAPPING_DEPTH, AnalysedArticle, Claim, Subscription

MAX_DEPTH = max(WRAPPING_DEPTH.values())


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


def subscription_keys(subscription: Subscription, kb: KnowledgeBase) -> list[str]:
    """The keys a subscription is filed under: those of its most selective structured filter (every
    claim it passes carries one of them, see article_keys), "any" when it has none."""
    if subscription.entities:
        return sorted({f"entity:{resolve_entity_id(kb, name)}" for name in subscription.entities})
    if subscription.claim_types:
        return sorted({f"type:{t.value}" for t in subscription.claim_types})
    if subscription.max_depth is not None:
        return [f"max_depth:{min(subscription.max_depth, MAX_DEPTH)}"]
    if subscription.stances:
        return sorted({f"stance:{s.value}" for s in subscription.stances})
    return ["any"]


def article_keys(analysed: AnalysedArticle, kb: KnowledgeBase) -> list[str]:
    """The keys of the subscriptions that may pass one of this article's claims (a superset: the
    candidates are then checked with claim_passes). An entity subscription passes a claim about its
    entity, about one of its models, or about a model of the claim subject's developer."""
    keys = {"any"}
    for claim in analysed.analysis.claims:
        party = claim.subject or claim.subject_name.strip().lower()
        for _ in range(3):  # the subject, its developer, and that one's developer
            keys.add(f"entity:{party}")
            party = developer_of(kb, party)
            if not party:
                break
        keys.add(f"type:{claim.type.value}")
        keys.add(f"stance:{claim.stance.value}")
        depth = claim.depth if claim.depth is not None else claim.type.depth
        if depth is not None:
            keys.update(f"max_depth:{m}" for m in range(max(min(depth, MAX_DEPTH), 0), MAX_DEPTH + 1))
    return sorted(keys)
