"""Deliver alerts on every channel of their subscription, exactly once per (alert, channel).

`deliver_alert` is what the `delivery` queue's task calls for one alert. It reads the alert's
delivery states, sends on each channel not yet delivered (webhook and e-mail requests run in
parallel threads, each bounded by its timeout, so one slow endpoint does not hold up another),
stores each outcome with `store.record_delivery`, and raises TransientDeliveryError when a
channel is worth retrying: the task retries with backoff and channels that already succeeded are
not sent again.

Failure handling:
- transient (timeout, refused connection, HTTP 5xx/408/429, SMTP 4xx): kept pending with the
  reason; `retry_failed_deliveries` (Celery beat) retries on a growing schedule (RETRY_SCHEDULE);
  a channel still failing a day after its alert is reported as failing by `channel_statuses`
  (shown by `shellwatch subscriptions show ID`).
- permanent (forbidden target, redirect to a forbidden target, HTTP 4xx, SMTP 5xx): recorded with
  a `permanent:` reason and not retried.

Daily and weekly subscriptions are not sent here: their pending deliveries wait for
`alerts.summaries.send_due_summaries`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

from alerts.channels import channel_key, channel_label
from alerts.email import render_email, send_email
from alerts.errors import DeliveryError, PermanentDeliveryError, TransientDeliveryError
from alerts.messages import (
    AlertView,
    Period,
    alert_links,
    alert_payload,
    load_views,
    slack_payload,
    summary_payload,
)
from alerts.webhook import send_webhook
from search.backends.base import Store
from search.results import DeliveredAlert
from shellwatch.config import Settings
from shellwatch.domain import Alert, Channel, ChannelKind, Claim, ClaimType, Frequency, Stance, Subscription

__all__ = [
    "ChannelStatus",
    "DeliveryError",
    "PermanentDeliveryError",
    "TransientDeliveryError",
    "channel_statuses",
    "deliver_alert",
    "deliver_alerts",
    "retry_failed_deliveries",
    "send_on_channel",
    "test_deliver",
]

log = logging.getLogger(__name__)

PERMANENT_PREFIX = "permanent: "
TRANSIENT_PREFIX = "transient: "
FAILING_AFTER = timedelta(days=1)
# Delay before the sweep's retry n+1, counted from the end of TASK_OWNED_WINDOW after the alert's
# creation (cumulative): 1 min, 5 min, 15 min, 1 h, 3 h, 6 h, then every 12 h. Derived from the attempt count, so no extra timestamp is needed.
RETRY_SCHEDULE = [timedelta(minutes=m) for m in (1, 5, 15, 60, 180, 360)]
RETRY_EVERY_AFTERWARDS = timedelta(hours=12)
# The delivery task retries itself with backoff for about 15 minutes (workers/reliability.py);
# the sweep is the safety net for tasks lost or given up, so it waits until that window is over.
TASK_OWNED_WINDOW = timedelta(minutes=20)
MAX_PARALLEL_SENDS = 8
# How far back the beat sweep looks for alerts recorded without delivery states (a crash between
# record_alert and record_delivery is a window of milliseconds; the sweep runs every few minutes).
SWEEP_RECENT_ALERTS = 500


@dataclass(frozen=True)
class SendJob:
    """One message to send on one channel, prepared in the calling thread (no store access)."""

    alert: Alert
    channel: Channel
    previous: DeliveredAlert | None
    send: Callable[[], str]


@dataclass(frozen=True)
class ChannelStatus:
    channel: str
    state: str  # "ok", "idle" (nothing sent yet), "pending", "retrying", "failing" or "refused"
    attempts: int = 0
    last_error: str | None = None
    since: datetime | None = None  # for failing: when the oldest undelivered alert was raised


def deliver_alert(settings: Settings, store: Store, alert: Alert) -> list[DeliveredAlert]:
    """Send one alert on each of its subscription's channels not yet delivered.

    Returns the delivery states written by this call; raises TransientDeliveryError (after
    recording every outcome) when at least one channel should be retried.
    """
    outcomes = deliver_alerts(settings, store, [alert])
    transient = [o for o in outcomes if o.last_error and o.last_error.startswith(TRANSIENT_PREFIX)]
    if transient:
        raise TransientDeliveryError("; ".join(f"{o.channel}: {o.last_error}" for o in transient))
    return outcomes


def deliver_alerts(settings: Settings, store: Store, alerts: Iterable[Alert]) -> list[DeliveredAlert]:
    """Send several alerts' pending channels in parallel; return the delivery states written."""
    jobs: list[SendJob] = []
    subscriptions: dict[str, Subscription | None] = {}
    for alert in alerts:
        if alert.subscription_id not in subscriptions:
            subscriptions[alert.subscription_id] = store.get_subscription(alert.subscription_id)
        subscription = subscriptions[alert.subscription_id]
        if subscription is None or subscription.paused or subscription.frequency is not Frequency.IMMEDIATE:
            continue
        jobs.extend(_jobs_for(settings, store, subscription, alert))
    return _run_jobs(store, jobs)


def _jobs_for(settings: Settings, store: Store, subscription: Subscription, alert: Alert) -> list[SendJob]:
    if not _push_channels(subscription):
        return []  # feed-only: recording the alert was its delivery
    states = {
        state.channel: state
        for state in store.list_deliveries(subscription_id=subscription.id)
        if state.alert.id == alert.id
    }
    pending = [
        channel for channel in _push_channels(subscription) if not _settled(states.get(channel_key(channel)))
    ]
    if not pending:
        return []
    views = load_views(settings, store, subscription, [alert])
    return [
        SendJob(
            alert,
            channel,
            states.get(channel_key(channel)),
            partial(send_on_channel, settings, subscription, channel, views),
        )
        for channel in pending
    ]


def _settled(state: DeliveredAlert | None) -> bool:
    return state is not None and (
        state.delivered_at is not None or (state.last_error or "").startswith(PERMANENT_PREFIX)
    )


def _run_jobs(store: Store, jobs: list[SendJob]) -> list[DeliveredAlert]:
    if not jobs:
        return []
    with ThreadPoolExecutor(
        max_workers=min(MAX_PARALLEL_SENDS, len(jobs)), thread_name_prefix="alert-send"
    ) as pool:
        futures = [(job, pool.submit(job.send)) for job in jobs]
        outcomes = []
        # Outcomes are recorded here, in submission order: the store is never touched by the
        # sending threads.
        for job, future in futures:
            outcome = _outcome(
                job, future.exception(), future.result() if future.exception() is None else None
            )
            store.record_delivery(outcome)
            outcomes.append(outcome)
    return outcomes


def _outcome(job: SendJob, error: BaseException | None, result: str | None) -> DeliveredAlert:
    attempts = (job.previous.attempts if job.previous else 0) + 1
    key = channel_key(job.channel)
    if error is None:
        log.info("alert delivered alert=%s channel=%s result=%r", job.alert.id, key, result)
        return DeliveredAlert(alert=job.alert, channel=key, delivered_at=datetime.now(UTC), attempts=attempts)
    if isinstance(error, PermanentDeliveryError):
        reason = PERMANENT_PREFIX + str(error)
    else:
        # Unknown exceptions count as transient: a bug in one send should be visible and retried,
        # not silently dropped.
        reason = TRANSIENT_PREFIX + (
            str(error) if isinstance(error, DeliveryError) else f"{type(error).__name__}: {error}"
        )
    log.warning(
        "alert delivery failed alert=%s channel=%s attempts=%d reason=%r", job.alert.id, key, attempts, reason
    )
    return DeliveredAlert(alert=job.alert, channel=key, attempts=attempts, last_error=reason)


def send_on_channel(
    settings: Settings,
    subscription: Subscription,
    channel: Channel,
    views: list[AlertView],
    *,
    period: Period | None = None,
    kind: str = "alert",
) -> str:
    """Send one message (one alert, or a summary when `period` is set) on a push channel."""
    if channel.kind is ChannelKind.WEBHOOK:
        if channel.format == "slack":
            payload = slack_payload(subscription, views, period)
        elif period is not None:
            payload = summary_payload(subscription, period, views)
        else:
            payload = alert_payload(subscription, views[0], kind=kind)
        alert_id = views[0].alert.id if period is None else None
        status = send_webhook(settings, channel.target, subscription.secret, payload, alert_id=alert_id)
        return f"HTTP {status}"
    if channel.kind is ChannelKind.EMAIL:
        send_email(settings, render_email(settings, subscription, channel.target, views, period))
        return "sent"
    raise PermanentDeliveryError(f"channel {channel.kind} is not a push channel")


# Retries -------------------------------------------------------------------------------------------


def retry_failed_deliveries(
    settings: Settings, store: Store, now: datetime | None = None
) -> list[DeliveredAlert]:
    """Retry pending deliveries of immediate subscriptions whose next attempt is due (Celery beat).

    Also picks up alerts recorded without any delivery state for a channel (a crash between
    planning and sending), so no recorded alert is lost.
    """
    now = now or datetime.now(UTC)
    subscriptions = _ImmediateSubscriptions(store)
    due: dict[str, Alert] = {}
    for state in store.list_deliveries(pending_only=True):
        if _settled(state) or subscriptions.get(state.alert.subscription_id) is None:
            continue
        if now >= next_attempt_at(state):
            due[state.alert.id] = state.alert
    due.update((alert.id, alert) for alert in _alerts_without_state(store, subscriptions))
    return deliver_alerts(settings, store, due.values())


class _ImmediateSubscriptions:
    """The active immediate subscriptions a sweep meets, read one by one as its pending deliveries
    and recent alerts name them (a beat round would otherwise read every subscription)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.read: dict[str, Subscription | None] = {}

    def get(self, subscription_id: str) -> Subscription | None:
        if subscription_id not in self.read:
            found = self.store.get_subscription(subscription_id)
            active = found is not None and not found.paused and found.frequency is Frequency.IMMEDIATE
            self.read[subscription_id] = found if active else None
        return self.read[subscription_id]


def _alerts_without_state(store: Store, subscriptions: _ImmediateSubscriptions) -> list[Alert]:
    """Recent alerts of push subscriptions lacking a delivery state for some channel."""
    recent: dict[str, list[Alert]] = {}
    for alert in store.list_alerts(limit=SWEEP_RECENT_ALERTS):
        subscription = subscriptions.get(alert.subscription_id)
        if subscription is not None and _push_channels(subscription):
            recent.setdefault(alert.subscription_id, []).append(alert)
    orphans = []
    for subscription_id, alerts in recent.items():
        known = {
            (state.alert.id, state.channel)
            for state in store.list_deliveries(subscription_id=subscription_id)
        }
        subscription = subscriptions.get(subscription_id)
        assert subscription is not None  # kept in `recent` only when active
        keys = [channel_key(channel) for channel in _push_channels(subscription)]
        orphans.extend(alert for alert in alerts if any((alert.id, key) not in known for key in keys))
    return orphans


def _push_channels(subscription: Subscription) -> list[Channel]:
    return [channel for channel in subscription.channels if channel.kind is not ChannelKind.FEED]


def next_attempt_at(state: DeliveredAlert) -> datetime:
    """When the beat sweep may send this pending delivery.

    Never inside TASK_OWNED_WINDOW: until then the alert's own delivery task (queued, running or
    retrying with backoff) owns it, and a sweep sending too would deliver it twice.
    """
    if state.attempts == 0:
        return state.alert.created_at + TASK_OWNED_WINDOW
    step = min(state.attempts, len(RETRY_SCHEDULE)) - 1
    delay = RETRY_SCHEDULE[step] + RETRY_EVERY_AFTERWARDS * max(0, state.attempts - len(RETRY_SCHEDULE))
    return state.alert.created_at + TASK_OWNED_WINDOW + delay


# Status ----------------------------------------------------------------------------------------------


def channel_statuses(
    store: Store, subscription: Subscription, now: datetime | None = None
) -> list[ChannelStatus]:
    """Per channel: ok, idle, pending, retrying, failing (undelivered for a day) or refused, with the reason."""
    now = now or datetime.now(UTC)
    by_channel: dict[str, list[DeliveredAlert]] = {}
    for state in store.list_deliveries(subscription_id=subscription.id):
        by_channel.setdefault(state.channel, []).append(state)
    statuses = []
    for channel in subscription.channels:
        states = by_channel.get(channel_key(channel), [])
        statuses.append(_status(channel, states, now))
    return statuses


def _status(channel: Channel, states: list[DeliveredAlert], now: datetime) -> ChannelStatus:
    """Judged by the newest alert: an endpoint that works again is ok, whatever failed before."""
    label = channel_label(channel)
    if channel.kind is ChannelKind.FEED:
        return ChannelStatus(label, "ok")
    if not states:
        return ChannelStatus(label, "idle")
    newest = max(states, key=lambda s: s.alert.created_at)
    if newest.delivered_at is not None:
        return ChannelStatus(label, "ok", newest.attempts)
    if (newest.last_error or "").startswith(PERMANENT_PREFIX):
        return ChannelStatus(label, "refused", newest.attempts, newest.last_error)
    if not newest.last_error:
        return ChannelStatus(label, "pending")
    # Failing since the first failure after the last success.
    last_ok = max((s.alert.created_at for s in states if s.delivered_at is not None), default=None)
    failing = [
        s
        for s in states
        if s.delivered_at is None
        and (s.last_error or "").startswith(TRANSIENT_PREFIX)
        and (last_ok is None or s.alert.created_at > last_ok)
    ]
    since = min(s.alert.created_at for s in failing)
    state = "failing" if now - since >= FAILING_AFTER else "retrying"
    return ChannelStatus(label, state, newest.attempts, newest.last_error, since)


# Test delivery -----------------------------------------------------------------------------------------


def test_deliver(settings: Settings, store: Store, subscription: Subscription) -> list[str]:
    """Send a sample message (payload `type: "test"`) on every channel; one result line per channel.

    Nothing is recorded: a test delivery is not an alert. The sample is the subscription's latest
    alert when it has one, else a made-up claim clearly labelled as a test.
    """
    latest = store.list_alerts(subscription.id, limit=1)
    if latest:
        views = load_views(settings, store, subscription, latest)
    else:
        sample = Alert(
            id="test",
            subscription_id=subscription.id,
            incident_id=None,
            article_id="test",
            claim=Claim(
                subject=None,
                subject_name="Example-7B (test)",
                type=ClaimType.LLAMA_BASED,
                stance=Stance.ALLEGATION,
                evidence="This is a test delivery from ShellWatch. 这是一条 ShellWatch 测试消息。",
                confidence=1.0,
            ),
            created_at=datetime.now(UTC),
        )
        views = [AlertView(sample, None, None, alert_links(settings, subscription, sample, None))]
    results = []
    for channel in subscription.channels:
        label = channel_label(channel)
        if channel.kind is ChannelKind.FEED:
            results.append(f"{label}: ok ({views[0].links['feed']})")
            continue
        try:
            outcome = send_on_channel(settings, subscription, channel, views, kind="test")
        except DeliveryError as exc:
            results.append(f"{label}: failed: {exc}")
        else:
            results.append(f"{label}: ok ({outcome})")
    return results


test_deliver.__test__ = False  # type: ignore[attr-defined]  # not a pytest test despite its name
