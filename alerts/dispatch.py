"""Turn a newly processed article into alerts: percolate, filter claims, record exactly once.

`plan_alerts` is called by the worker pipeline right after incident assignment. Only what the
assignment says is new becomes an alert: a new incident or a new allegation in an existing one
(`assignment.new_allegations`), plus denials and admissions (`assignment.responses`) for the
subscriptions that ask for those stances. An article that repeats a known allegation is in
neither list and raises nothing.

Each alert's id is derived from the subscription, the incident and the allegation, and
`store.record_alert` accepts an id only once, so processing the same article twice, or a task retried after a crash,
yields one alert. Right after recording, a pending delivery per channel is stored: a crash between
planning and sending leaves work that `alerts.delivery.retry_failed_deliveries` finds.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from alerts.channels import channel_key
from search.backends.base import Store
from search.entities import KnowledgeBase
from search.percolate import claim_passes
from search.results import DeliveredAlert
from shellwatch.domain import (
    RESPONSE_STANCES,
    Alert,
    AnalysedArticle,
    ChannelKind,
    Claim,
    Incident,
    Subscription,
    allegation_key,
    stable_id,
)

log = logging.getLogger(__name__)


class Assignment(Protocol):
    """What plan_alerts reads from search.incidents.IncidentAssignment.

    Items are `AssignedClaim`s (`.claim`, `.incident_id`); `(Incident, Claim)` pairs are accepted too.
    """

    new_allegations: Sequence[Any]
    responses: Sequence[Any]


@dataclass
class PlannedAlerts:
    """The alerts an article raised, by what they need next."""

    pushed: list[Alert] = field(default_factory=list)  # a webhook, e-mail or Slack channel: to deliver
    pulled: list[Alert] = field(default_factory=list)  # feed-only: readers pull them, nothing to send

    @property
    def all(self) -> list[Alert]:
        return self.pushed + self.pulled


def plan_alerts(
    store: Store, analysed: AnalysedArticle, assignment: Assignment, kb: KnowledgeBase
) -> list[Alert]:
    """The alerts this article raises that were not raised before, each recorded with pending
    deliveries; those with a channel to push come first."""
    return plan_alert_groups(store, analysed, assignment, kb).all


def plan_alert_groups(
    store: Store, analysed: AnalysedArticle, assignment: Assignment, kb: KnowledgeBase
) -> PlannedAlerts:
    """plan_alerts, keeping apart the alerts that need a delivery: in multi-service mode each of
    those becomes a task on the delivery queue, and a feed-only alert must not cost one."""
    planned = PlannedAlerts()
    if not assignment.new_allegations and not assignment.responses:
        return planned
    now = datetime.now(UTC)
    pushed, pulled = planned.pushed, planned.pulled
    for article, items in _by_source_article(store, analysed, assignment):
        for subscription in store.match_subscriptions(article):
            if subscription.paused:
                continue
            for incident_id, claim in candidates(subscription, items):
                # The same rule the store percolates with (search/percolate.py), claim by claim.
                if not claim_passes(subscription, claim, article, kb):
                    continue
                alert = Alert(
                    id=subscription_alert_id(subscription.id, incident_id, claim),
                    subscription_id=subscription.id,
                    incident_id=incident_id,
                    article_id=article.id,
                    claim=claim,
                    created_at=now,
                )
                if not store.record_alert(alert):
                    continue
                record_pending_deliveries(store, subscription, alert)
                log.info(
                    "alert planned alert=%s subscription=%s article=%s incident=%s stance=%s",
                    alert.id,
                    subscription.id,
                    article.id,
                    incident_id,
                    claim.stance,
                )
                has_push = any(channel.kind is not ChannelKind.FEED for channel in subscription.channels)
                (pushed if has_push else pulled).append(alert)
    return planned


@dataclass
class _SourceItems:
    new_allegations: list[Any] = field(default_factory=list)
    responses: list[Any] = field(default_factory=list)


def _by_source_article(
    store: Store, analysed: AnalysedArticle, assignment: Assignment
) -> list[tuple[AnalysedArticle, _SourceItems]]:
    """The assignment's claims grouped by the article they come from. When an incident opens on
    corroboration, the claims of the earlier articles that waited for it are reported with this
    one; each is matched against the subscriptions (query, language, source) as its own article,
    which an alert then names."""
    groups: dict[str, _SourceItems] = {}
    for attribute in ("new_allegations", "responses"):
        for item in getattr(assignment, attribute):
            source_id = getattr(item, "article_id", None) or analysed.id
            getattr(groups.setdefault(source_id, _SourceItems()), attribute).append(item)
    found = []
    for article_id, items in groups.items():
        article = analysed if article_id == analysed.id else store.get_article(article_id)
        if article is None:  # deleted since it was assigned: nothing left to alert on
            log.warning("alert source article gone article=%s", article_id)
            continue
        found.append((article, items))
    return found


def candidates(subscription: Subscription, assignment: Assignment) -> list[tuple[str | None, Claim]]:
    """(incident id, claim) of the new allegations, and of the responses when the subscription wants them."""
    items = list(assignment.new_allegations)
    if RESPONSE_STANCES & set(subscription.stances):
        items.extend(assignment.responses)
    return [_incident_and_claim(item) for item in items]


def _incident_and_claim(item: Any) -> tuple[str | None, Claim]:
    if isinstance(item, tuple):
        incident, claim = item
        return (incident.id if isinstance(incident, Incident) else incident), claim
    return item.incident_id, item.claim


def subscription_alert_id(subscription_id: str, incident_id: str | None, claim: Claim) -> str:
    """The exactly-once key: per subscription, incident and allegation (and stance, for a response).

    The incident is part of the key because a controversy that flares up again months later is a
    new incident and deserves its alert, though its allegation reads the same; incident ids are
    derived from content, so a retry computes the same key. A denial shares its allegation's
    subject, type and object, so a response is keyed by its stance too: a subscriber who asked for
    responses hears about the allegation, its denial and a later admission once each.
    """
    return stable_id("alert", subscription_id, incident_id or "", allegation_key(claim), claim.stance)


def record_pending_deliveries(store: Store, subscription: Subscription, alert: Alert) -> None:
    # A feed has no delivery state: readers pull the recorded alerts (alerts.feed).
    for channel in subscription.channels:
        if channel.kind is not ChannelKind.FEED:
            store.record_delivery(DeliveredAlert(alert=alert, channel=channel_key(channel)))
