"""Daily and weekly summaries: the period's new allegations in one message per subscription and channel.

Alerts of daily and weekly subscriptions are recorded with pending deliveries like any other, but
not sent one by one. `send_due_summaries` (run by Celery beat, e.g. hourly) sends, for each such
subscription and push channel, every pending alert raised before the end of the last complete
period — the UTC day for daily, the ISO week (Monday 00:00 UTC) for weekly — as one message, then
marks those deliveries done. A failed summary stays pending and is sent at the next run; alerts of
the current period wait for it to end.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from alerts.channels import channel_key
from alerts.delivery import PERMANENT_PREFIX, TRANSIENT_PREFIX, send_on_channel
from alerts.errors import DeliveryError, PermanentDeliveryError
from alerts.messages import Period, load_views
from search.backends.base import Store
from search.results import DeliveredAlert
from shellwatch.config import Settings
from shellwatch.domain import ChannelKind, Frequency, Subscription

log = logging.getLogger(__name__)

PERIOD_LENGTH = {Frequency.DAILY: timedelta(days=1), Frequency.WEEKLY: timedelta(days=7)}


@dataclass(frozen=True)
class SummaryResult:
    subscription_id: str
    channel: str
    alerts: int
    error: str | None = None  # None when sent


def send_due_summaries(settings: Settings, store: Store, now: datetime | None = None) -> list[SummaryResult]:
    """Send every summary whose period has ended; one result per (subscription, channel) sent or tried."""
    now = now or datetime.now(UTC)
    results = []
    for subscription in store.list_subscriptions():
        if subscription.paused or subscription.frequency is Frequency.IMMEDIATE:
            continue
        results.extend(_summarise(settings, store, subscription, now))
    return results


def period_end(frequency: Frequency, now: datetime) -> datetime:
    """The end of the last complete period at `now`: today 00:00 UTC, or this Monday 00:00 UTC."""
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if frequency is Frequency.WEEKLY:
        return midnight - timedelta(days=midnight.weekday())
    return midnight


def _summarise(
    settings: Settings, store: Store, subscription: Subscription, now: datetime
) -> list[SummaryResult]:
    end = period_end(subscription.frequency, now)
    due: dict[str, list[DeliveredAlert]] = {}
    for state in store.list_deliveries(subscription_id=subscription.id, pending_only=True):
        if state.alert.created_at < end and not (state.last_error or "").startswith(PERMANENT_PREFIX):
            due.setdefault(state.channel, []).append(state)
    results = []
    for channel in subscription.channels:
        key = channel_key(channel)
        states = sorted(due.get(key, []), key=lambda s: s.alert.created_at)
        if channel.kind is ChannelKind.FEED or not states:
            continue
        # A missed run (beat down for a while) widens the period rather than dropping alerts.
        start = min(
            end - PERIOD_LENGTH[subscription.frequency],
            period_end(Frequency.DAILY, states[0].alert.created_at),
        )
        period = Period(subscription.frequency.value, start, end)
        views = load_views(settings, store, subscription, [s.alert for s in states])
        try:
            send_on_channel(settings, subscription, channel, views, period=period)
        except DeliveryError as exc:
            prefix = PERMANENT_PREFIX if isinstance(exc, PermanentDeliveryError) else TRANSIENT_PREFIX
            for state in states:
                store.record_delivery(
                    state.model_copy(update={"attempts": state.attempts + 1, "last_error": prefix + str(exc)})
                )
            log.warning(
                "summary failed subscription=%s channel=%s alerts=%d reason=%r",
                subscription.id,
                key,
                len(states),
                str(exc),
            )
            results.append(SummaryResult(subscription.id, key, len(states), str(exc)))
            continue
        delivered_at = datetime.now(UTC)
        for state in states:
            store.record_delivery(
                state.model_copy(
                    update={"attempts": state.attempts + 1, "last_error": None, "delivered_at": delivered_at}
                )
            )
        log.info("summary sent subscription=%s channel=%s alerts=%d", subscription.id, key, len(states))
        results.append(SummaryResult(subscription.id, key, len(states)))
    return results
