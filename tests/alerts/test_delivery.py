"""Delivery end to end: real webhook receiver and SMTP server, the real store, retries and failures."""

from __future__ import annotations

import time
from datetime import timedelta

import feedparser
import pytest

from alerts import delivery
from alerts.delivery import (
    TASK_OWNED_WINDOW,
    TransientDeliveryError,
    channel_statuses,
    deliver_alert,
    deliver_alerts,
    retry_failed_deliveries,
)
from alerts.feed import render_feed
from alerts.tokens import feed_token
from nlp.knowledge_base import KnowledgeBase
from search.backends.sqlite import SqliteStore
from shellwatch.config import Settings
from tests.alerts.conftest import (
    FEED,
    Receiver,
    SmtpServer,
    email_channel,
    make_article,
    make_claim,
    make_subscription,
    process,
    webhook,
)
from tests.alerts.test_webhook import verify
from tests.support.servers import free_port


def test_alert_arrives_once_on_every_channel(
    mail_settings: Settings,
    store: SqliteStore,
    kb: KnowledgeBase,
    receiver: Receiver,
    smtp_server: SmtpServer,
) -> None:
    subscription = make_subscription(
        [webhook(receiver.url("/ok")), email_channel(), FEED], entities=["01-ai"]
    )
    store.save_subscription(subscription)

    [alert] = process(store, kb, make_article([make_claim()]))
    outcomes = deliver_alert(mail_settings, store, alert)
    assert sorted(o.channel for o in outcomes) == [
        "email:analyst@example.org",
        f"webhook:{receiver.url('/ok')}",
    ]
    assert all(o.delivered_at is not None and o.attempts == 1 for o in outcomes)

    # A retried task, and the same article processed again: nothing is sent twice.
    assert deliver_alert(mail_settings, store, alert) == []
    assert process(store, kb, make_article([make_claim()])) == []
    assert retry_failed_deliveries(mail_settings, store, now=alert.created_at + timedelta(days=3)) == []

    [request] = receiver.requests
    assert verify(subscription.secret, request.headers, request.body)
    assert request.json()["id"] == alert.id
    assert len(smtp_server.mailbox.messages) == 1
    feed = feedparser.parse(
        render_feed(store, subscription.id, feed_token(subscription), settings=mail_settings)
    )
    assert [entry.id for entry in feed.entries] == [f"urn:shellwatch:alert:{alert.id}"]
    assert {s.channel: s.state for s in channel_statuses(store, subscription)} == {
        f"webhook:{receiver.url('/ok')}": "ok",
        "email:analyst@example.org": "ok",
        "feed": "ok",
    }


def test_crash_before_delivery_is_recovered_once(
    alert_settings: Settings, store: SqliteStore, kb: KnowledgeBase, receiver: Receiver
) -> None:
    subscription = make_subscription([webhook(receiver.url("/ok"))])
    store.save_subscription(subscription)
    [alert] = process(store, kb, make_article([make_claim()]))
    # The worker died here, before deliver_alert ran; the article is handed over again.
    assert process(store, kb, make_article([make_claim()])) == []

    # While its delivery task may still be queued or retrying, the sweep leaves the alert alone.
    assert retry_failed_deliveries(alert_settings, store, now=alert.created_at + timedelta(seconds=1)) == []
    after_task_window = alert.created_at + TASK_OWNED_WINDOW + timedelta(seconds=1)
    swept = retry_failed_deliveries(alert_settings, store, now=after_task_window)
    assert [s.delivered_at is not None for s in swept] == [True]
    assert retry_failed_deliveries(alert_settings, store, now=alert.created_at + timedelta(hours=1)) == []
    assert len(receiver.requests) == 1


def test_alert_recorded_without_delivery_state_is_found_by_the_sweep(
    alert_settings: Settings, store: SqliteStore, receiver: Receiver
) -> None:
    from shellwatch.domain import Alert, alert_id

    subscription = make_subscription([webhook(receiver.url("/ok"))])
    store.save_subscription(subscription)
    claim = make_claim()
    article = make_article([claim])
    store.upsert_article(article)
    alert = Alert(
        id=alert_id(subscription.id, claim),
        subscription_id=subscription.id,
        incident_id=None,
        article_id=article.id,
        claim=claim,
        created_at=article.article.fetched_at,
    )
    assert store.record_alert(alert)  # crash right after this: no delivery state written

    retry_failed_deliveries(alert_settings, store)
    retry_failed_deliveries(alert_settings, store)
    assert len(receiver.requests) == 1


def test_partial_failure_retries_only_the_failed_channel(
    mail_settings: Settings,
    store: SqliteStore,
    kb: KnowledgeBase,
    receiver: Receiver,
    smtp_server: SmtpServer,
) -> None:
    subscription = make_subscription([webhook(receiver.url("/ok")), email_channel()])
    store.save_subscription(subscription)
    [alert] = process(store, kb, make_article([make_claim()]))

    smtp_down = mail_settings.model_copy(update={"smtp_port": free_port()})
    with pytest.raises(TransientDeliveryError, match="email:analyst@example.org"):
        deliver_alert(smtp_down, store, alert)
    assert len(receiver.requests) == 1 and smtp_server.mailbox.messages == []

    [outcome] = deliver_alert(mail_settings, store, alert)  # the task's retry, SMTP back
    assert outcome.channel == "email:analyst@example.org" and outcome.attempts == 2
    assert len(receiver.requests) == 1 and len(smtp_server.mailbox.messages) == 1


def test_failing_webhooks_do_not_delay_another_subscriber(
    alert_settings: Settings, store: SqliteStore, kb: KnowledgeBase, receiver: Receiver
) -> None:
    paths = {
        "slow": "/slow",
        "error": "/fail",
        "metadata": "/redirect?to=http://169.254.169.254/latest/meta-data/",
        "private": "/redirect?to=http://10.0.0.1/hook",
        "healthy": "/ok",
    }
    subscriptions = {}
    for name, path in paths.items():
        subscriptions[name] = make_subscription([webhook(receiver.url(path))], name=name)
        store.save_subscription(subscriptions[name])
    alerts = process(store, kb, make_article([make_claim()]))
    assert len(alerts) == len(paths)

    started = time.monotonic()
    outcomes = {o.alert.subscription_id: o for o in deliver_alerts(alert_settings, store, alerts)}
    elapsed = time.monotonic() - started

    [healthy] = receiver.received("/ok")
    timeout = alert_settings.webhook_timeout_seconds
    assert healthy.at - started < timeout / 2  # not queued behind the timeout of /slow
    assert elapsed < timeout + 1.0
    by_name = {name: outcomes[s.id] for name, s in subscriptions.items()}
    assert by_name["healthy"].delivered_at is not None
    assert by_name["slow"].last_error.startswith("transient: ") and "timed out" in by_name["slow"].last_error
    assert by_name["error"].last_error.startswith("transient: HTTP 500")
    for name in ("metadata", "private"):
        assert (
            by_name[name].last_error.startswith("permanent: ") and "WEBHOOK_ALLOW" in by_name[name].last_error
        )
    # The forbidden hops were never requested; the redirecting endpoints were asked once each.
    assert len(receiver.received("/redirect")) == 2

    # The per-alert task of the failing endpoint asks for a retry; the refused ones do not.
    alert_of = {a.subscription_id: a for a in alerts}
    with pytest.raises(TransientDeliveryError, match="HTTP 500"):
        deliver_alert(alert_settings, store, alert_of[subscriptions["error"].id])
    assert deliver_alert(alert_settings, store, alert_of[subscriptions["metadata"].id]) == []


def test_retries_back_off_and_a_day_of_failure_is_reported(
    alert_settings: Settings, store: SqliteStore, kb: KnowledgeBase, receiver: Receiver
) -> None:
    failing = make_subscription([webhook(receiver.url("/fail"))], name="failing")
    refused = make_subscription([webhook(receiver.url("/gone"))], name="refused")
    for subscription in (failing, refused):
        store.save_subscription(subscription)
    alerts = process(store, kb, make_article([make_claim()]))
    deliver_alerts(alert_settings, store, alerts)
    created = alerts[0].created_at
    assert len(receiver.received("/fail")) == 1

    assert retry_failed_deliveries(alert_settings, store, now=created + timedelta(seconds=30)) == []
    assert retry_failed_deliveries(alert_settings, store, now=created + timedelta(minutes=2)) == []
    swept_from = created + TASK_OWNED_WINDOW
    assert retry_failed_deliveries(alert_settings, store, now=swept_from + timedelta(seconds=30)) == []
    [retried] = retry_failed_deliveries(alert_settings, store, now=swept_from + timedelta(minutes=2))
    assert retried.attempts == 2 and len(receiver.received("/fail")) == 2
    assert retry_failed_deliveries(alert_settings, store, now=swept_from + timedelta(minutes=3)) == []
    assert len(receiver.received("/gone")) == 1  # a permanent refusal is never retried

    [soon] = channel_statuses(store, failing, now=created + timedelta(hours=2))
    [later] = channel_statuses(store, failing, now=created + timedelta(days=1, minutes=1))
    [gone] = channel_statuses(store, refused, now=created + timedelta(days=2))
    assert (soon.state, later.state, gone.state) == ("retrying", "failing", "refused")
    assert "HTTP 500" in later.last_error and later.since == created and later.attempts == 2
    assert "HTTP 410" in gone.last_error


def test_daily_subscription_is_not_sent_immediately(
    alert_settings: Settings, store: SqliteStore, kb: KnowledgeBase, receiver: Receiver
) -> None:
    subscription = make_subscription([webhook(receiver.url("/ok"))], frequency="daily")
    store.save_subscription(subscription)
    [alert] = process(store, kb, make_article([make_claim()]))
    assert deliver_alert(alert_settings, store, alert) == []
    assert retry_failed_deliveries(alert_settings, store, now=alert.created_at + timedelta(hours=3)) == []
    assert receiver.requests == []


def test_test_delivery_reports_each_channel(
    mail_settings: Settings, store: SqliteStore, receiver: Receiver, smtp_server: SmtpServer
) -> None:
    subscription = make_subscription(
        [webhook(receiver.url("/ok")), webhook(receiver.url("/fail")), email_channel(), FEED]
    )
    store.save_subscription(subscription)
    results = delivery.test_deliver(mail_settings, store, subscription)
    assert results[0] == f"webhook:{receiver.url('/ok')}: ok (HTTP 200)"
    assert results[1].startswith(f"webhook:{receiver.url('/fail')}: failed: HTTP 500")
    assert results[2] == "email:analyst@example.org: ok (sent)"
    assert results[3].startswith("feed: ok (https://shellwatch.example/feeds/")
    assert receiver.requests[0].json()["type"] == "test"
    assert store.list_alerts(subscription.id) == [] and store.list_deliveries(subscription.id) == []


def test_status_follows_the_newest_alert(store: SqliteStore) -> None:
    from search.results import DeliveredAlert
    from shellwatch.domain import Alert

    hook = webhook("http://127.0.0.1:9/hook")
    subscription = make_subscription([hook])
    key = f"webhook:{hook.target}"
    start = make_article([make_claim()]).article.fetched_at

    def state(n: int, **fields) -> DeliveredAlert:
        claim = make_claim(subject_name=f"Model-{n}", subject=None)
        alert = Alert(
            id=f"a{n}",
            subscription_id=subscription.id,
            incident_id=None,
            article_id="x",
            claim=claim,
            created_at=start + timedelta(hours=n),
        )
        return DeliveredAlert(alert=alert, channel=key, **fields)

    def status_at(hours: float) -> tuple[str, object]:
        [status] = channel_statuses(store, subscription, now=start + timedelta(hours=hours))
        return status.state, status.since

    store.record_delivery(state(-2, attempts=9, last_error="transient: timed out"))  # before a success
    store.record_delivery(state(0, attempts=1, last_error="permanent: HTTP 410 from …"))
    assert status_at(1)[0] == "refused"
    store.record_delivery(state(1, attempts=1, delivered_at=start + timedelta(hours=1)))
    assert status_at(2)[0] == "ok"  # the endpoint works again
    store.record_delivery(state(2, attempts=3, last_error="transient: HTTP 503 from …"))
    store.record_delivery(state(3, attempts=1, last_error="transient: HTTP 503 from …"))
    assert status_at(5) == ("retrying", start + timedelta(hours=2))
    assert status_at(27) == ("failing", start + timedelta(hours=2))
    store.record_delivery(state(4))
    assert status_at(28)[0] == "pending"


def test_the_in_process_pipeline_delivers_without_queueing_behind_a_slow_webhook(
    alert_settings: Settings, store: SqliteStore, kb: KnowledgeBase, receiver: Receiver
) -> None:
    from workers.pipeline import deliver_in_process

    slow = make_subscription([webhook(receiver.url("/slow"))], name="slow")
    healthy = make_subscription([webhook(receiver.url("/ok"))], name="healthy")
    for subscription in (slow, healthy):
        store.save_subscription(subscription)
    alerts = process(store, kb, make_article([make_claim()]))

    started = time.monotonic()
    failures = deliver_in_process(alert_settings, store, alerts)

    [received] = receiver.received("/ok")
    assert received.at - started < alert_settings.webhook_timeout_seconds / 2
    assert [(alert.subscription_id, type(exc)) for alert, exc in failures] == [
        (slow.id, TransientDeliveryError)
    ]


def test_the_sweep_reads_only_the_subscriptions_it_meets(
    alert_settings: Settings, store: SqliteStore, kb: KnowledgeBase, receiver: Receiver, monkeypatch
) -> None:
    """A beat round reads the subscriptions its pending deliveries and recent alerts name, not
    every subscription (thousands of feed-only ones would be read each minute)."""
    subscription = make_subscription([webhook(receiver.url("/ok"))])
    store.save_subscription(subscription)
    for number in range(30):
        store.save_subscription(make_subscription([], name=f"quiet-{number}", entities=["baidu"]))
    [alert] = process(store, kb, make_article([make_claim()]))
    read: list[str] = []
    get_subscription = store.get_subscription

    def counted(subscription_id: str):
        read.append(subscription_id)
        return get_subscription(subscription_id)

    def everything():
        raise AssertionError("the sweep listed every subscription")

    monkeypatch.setattr(store, "get_subscription", counted)
    monkeypatch.setattr(store, "list_subscriptions", everything)
    swept = retry_failed_deliveries(alert_settings, store, now=alert.created_at + TASK_OWNED_WINDOW * 2)
    assert [s.delivered_at is not None for s in swept] == [True]
    assert set(read) == {subscription.id}
