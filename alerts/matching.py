"""Claim-level subscription filters: does this claim, in an article of this language, concern the user?

The store's percolation (`Store.match_subscriptions`) decides which subscriptions match an
article as a whole (their free-text query and coarse filters). An article can carry several
claims, so each claim is checked again here against the subscription's entities, types, depth,
stances, languages and minimum confidence before it becomes an alert.

An entity filter matches a claim whose subject is one of the entities, or a model developed by one
of them: a subscription to Baidu hears about ERNIE Bot (the same rule the store percolates with,
search/percolate.py).
"""

from __future__ import annotations

from typing import Protocol

from shellwatch.domain import Claim, Entity, Language, Subscription


class ModelDirectory(Protocol):
    """What matching needs from the knowledge base (nlp.knowledge_base.KnowledgeBase)."""

    def developer_of(self, model_id: str) -> Entity | str | None: ...


def claim_matches(subscription: Subscription, claim: Claim, language: Language, kb: ModelDirectory) -> bool:
    """True when every filter the subscription sets accepts this claim."""
    if claim.stance not in subscription.stances:
        return False
    if subscription.claim_types and claim.type not in subscription.claim_types:
        return False
    if subscription.max_depth is not None:
        depth = claim.depth if claim.depth is not None else claim.type.depth
        if depth is None or depth > subscription.max_depth:
            return False
    if subscription.languages and language not in subscription.languages:
        return False
    if claim.confidence < subscription.min_confidence:
        return False
    return not subscription.entities or bool(claim_parties(claim, kb) & set(subscription.entities))


def claim_parties(claim: Claim, kb: ModelDirectory) -> set[str]:
    """The entity ids a claim is about: its subject and the subject's developer."""
    if not claim.subject:
        return set()
    parties = {claim.subject}
    developer = kb.developer_of(claim.subject)
    if developer is not None:
        # nlp's knowledge base returns the Entity, search's protocol an id: accept both.
        parties.add(developer if isinstance(developer, str) else developer.id)
    return parties
