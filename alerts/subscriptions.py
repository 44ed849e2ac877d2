"""Create, validate, pause, resume, delete and unsubscribe subscriptions.

Used by `shellwatch subscribe` / `shellwatch subscriptions` and by the web API. A
`SubscriptionRequest` is what a user asks for, with entities given by name in any script
(`ByteDance`, `字节跳动`, `字節跳動`); `create_subscription` resolves those names through the
knowledge base, checks every channel (webhook URLs against the address rules of alerts.targets,
e-mail addresses and that SMTP is configured) and the query syntax, generates the secret, and
stores the subscription. Any problem is a SubscriptionError whose message says what to fix.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from pydantic import Field

from alerts.channels import WEBHOOK_FORMATS, channel_key
from alerts.email import is_email_address
from alerts.errors import DeliveryError, SubscriptionError
from alerts.targets import resolve_target
from alerts.tokens import new_secret, token_matches
from nlp.knowledge_base import KnowledgeBase
from search.backends.base import QueryError, Store
from search.query import parse_query
from shellwatch.config import Settings
from shellwatch.domain import (
    Channel,
    ChannelKind,
    ClaimType,
    Frequency,
    Language,
    Record,
    Stance,
    Subscription,
)


class SubscriptionNotFound(LookupError):
    """No subscription with this id."""


class SubscriptionRequest(Record):
    """What a user asks for (the body of `POST /api/subscriptions`); entities by any name or id."""

    name: str = Field(min_length=1, max_length=200)
    entities: list[str] = Field(default_factory=list)
    claim_types: list[ClaimType] = Field(default_factory=list)
    max_depth: int | None = Field(None, ge=1, le=5)
    stances: list[Stance] = Field(default_factory=lambda: [Stance.ALLEGATION])
    languages: list[Language] = Field(default_factory=list)
    query: str | None = None
    min_confidence: float = Field(0.0, ge=0.0, le=1.0)
    frequency: Frequency = Frequency.IMMEDIATE
    channels: list[Channel] = Field(default_factory=list)


def create_subscription(
    settings: Settings, store: Store, kb: KnowledgeBase, request: SubscriptionRequest
) -> Subscription:
    """Validate the request, store the new subscription and return it (with its id and secret)."""
    if not request.name.strip():
        raise SubscriptionError("a subscription needs a name")
    if not request.stances:
        raise SubscriptionError("a subscription needs at least one stance (the default is allegation)")
    entity_ids = resolve_entities(kb, request.entities)
    validate_channels(settings, request.channels)
    if request.query:
        validate_query(request.query)
    subscription = Subscription(
        id=secrets.token_hex(6),
        name=request.name.strip(),
        entities=entity_ids,
        claim_types=_unique(request.claim_types),
        max_depth=request.max_depth,
        stances=_unique(request.stances),
        languages=_unique(request.languages),
        query=request.query or None,
        min_confidence=request.min_confidence,
        frequency=request.frequency,
        channels=request.channels,
        secret=new_secret(),
        created_at=datetime.now(UTC),
    )
    store.save_subscription(subscription)
    return subscription


def resolve_entities(kb: KnowledgeBase, names: list[str]) -> list[str]:
    """Entity ids for names in any script; every unknown name is listed in one error."""
    ids: list[str] = []
    unknown: list[str] = []
    for name in names:
        entity = kb.resolve(name.strip()) if name.strip() else None
        if entity is None:
            unknown.append(name)
        elif entity.id not in ids:
            ids.append(entity.id)
    if unknown:
        raise SubscriptionError(
            f"unknown entit{'y' if len(unknown) == 1 else 'ies'}: {', '.join(repr(n) for n in unknown)} "
            "(not in the knowledge base; check the spelling or add it to the knowledge-base file)"
        )
    return ids


def validate_channels(settings: Settings, channels: list[Channel]) -> None:
    if not channels:
        raise SubscriptionError(
            "a subscription needs at least one channel (--webhook, --slack, --email or --feed)"
        )
    seen: set[str] = set()
    for channel in channels:
        key = channel_key(channel)
        if key in seen:
            raise SubscriptionError(f"channel {key} is given twice")
        seen.add(key)
        if channel.kind is ChannelKind.WEBHOOK:
            if channel.format not in WEBHOOK_FORMATS:
                raise SubscriptionError(
                    f"webhook format must be one of {', '.join(WEBHOOK_FORMATS)}, got {channel.format!r}"
                )
            try:
                resolve_target(settings, channel.target)
            except DeliveryError as exc:
                raise SubscriptionError(f"webhook {channel.target}: {exc}") from None
        elif channel.kind is ChannelKind.EMAIL:
            if not is_email_address(channel.target):
                raise SubscriptionError(f"not an e-mail address: {channel.target!r}")
            if not settings.smtp_host:
                raise SubscriptionError(
                    "e-mail alerts need an SMTP server: set SMTP_HOST (and SMTP_PORT, SMTP_SECURITY)"
                )
        elif channel.target:
            raise SubscriptionError("a feed channel takes no target; its URL is made for you")


def validate_query(query: str) -> None:
    """Parse the query the way the store will when percolating; a malformed query is refused now."""
    try:
        parse_query(query)
    except QueryError as exc:
        where = f" at position {exc.position}" if exc.position is not None else ""
        raise SubscriptionError(f"query {query!r} is malformed{where}: {exc}") from None


def get_subscription(store: Store, subscription_id: str) -> Subscription:
    subscription = store.get_subscription(subscription_id)
    if subscription is None:
        raise SubscriptionNotFound(f"no subscription {subscription_id!r}")
    return subscription


def set_paused(store: Store, subscription_id: str, paused: bool) -> Subscription:
    subscription = get_subscription(store, subscription_id).model_copy(update={"paused": paused})
    store.save_subscription(subscription)
    return subscription


def delete_subscription(store: Store, subscription_id: str) -> None:
    get_subscription(store, subscription_id)
    store.delete_subscription(subscription_id)


def unsubscribe(store: Store, subscription_id: str, token: str | None) -> Subscription:
    """The e-mail unsubscribe link: drop the e-mail channels; pause when no channel is left.

    Raises SubscriptionNotFound for an unknown id or a wrong token (the web answers 404).
    """
    subscription = store.get_subscription(subscription_id)
    if subscription is None or not token_matches(subscription, "unsubscribe", token):
        raise SubscriptionNotFound(f"no subscription {subscription_id!r} with this token")
    channels = [channel for channel in subscription.channels if channel.kind is not ChannelKind.EMAIL]
    updated = subscription.model_copy(
        update={"channels": channels, "paused": subscription.paused or not channels}
    )
    store.save_subscription(updated)
    return updated


def _unique(values: list) -> list:
    return list(dict.fromkeys(values))
