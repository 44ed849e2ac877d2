"""Daily and weekly summaries: one message per subscription and channel for the period's alerts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import jsonschema

from alerts.messages import SCHEMA_FILE
from alerts.summaries import period_end, send_due_summaries
from nlp.knowledge_base import KnowledgeBase
from search.backends.sqlite import SqliteStore
from shellwatch.config import Settings
from shellwatch.domain import ClaimType, Frequency
from tests.alerts.conftest import (
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


def two_allegations(store: SqliteStore, kb: KnowledgeBase) -> list:
    first = process(store, kb, make_article([make_claim()]))
    doubao = make_claim(
        subject="doubao",
        subject_name="Doubao",
        claim_type=ClaimType.API_DISTILLED,
        object_id="gpt-4",
        object_name="GPT-4",
        evidence="ByteDance is said to have trained Doubao on GPT-4 output.",
    )
    second = process(
        store, kb, make_article([doubao], url="https://news.example/doubao", title="Doubao and GPT-4")
    )
    return first + second


def test_period_end() -> None:
    wednesday = datetime(2023, 12, 13, 15, 30, tzinfo=UTC)
    assert period_end(Frequency.DAILY, wednesday) == datetime(2023, 12, 13, tzinfo=UTC)
    assert period_end(Frequency.WEEKLY, wednesday) == datetime(2023, 12, 11, tzinfo=UTC)  # Monday


def test_daily_summary_groups_the_days_alerts_into_one_message(
    mail_settings: Settings,
    store: SqliteStore,
    kb: KnowledgeBase,
    receiver: Receiver,
    smtp_server: SmtpServer,
) -> None:
    daily = make_subscription(
        [webhook(receiver.url("/ok")), email_channel()], name="daily", frequency="daily"
    )
    store.save_subscription(daily)
    alerts = two_allegations(store, kb)
    assert len(alerts) == 2
    created = max(a.created_at for a in alerts)

    assert send_due_summaries(mail_settings, store, now=created) == []  # the day is not over
    results = send_due_summaries(mail_settings, store, now=created + timedelta(days=1))
    assert sorted((r.channel, r.alerts, r.error) for r in results) == [
        ("email:analyst@example.org", 2, None),
        (f"webhook:{receiver.url('/ok')}", 2, None),
    ]
    assert send_due_summaries(mail_settings, store, now=created + timedelta(days=2)) == []

    [request] = receiver.requests
    assert verify(daily.secret, request.headers, request.body)
    body = request.json()
    jsonschema.validate(body, json.loads(SCHEMA_FILE.read_text()))
    assert body["type"] == "summary" and body["count"] == 2 and body["period"]["frequency"] == "daily"
    assert {a["id"] for a in body["alerts"]} == {a.id for a in alerts}
    [(_, _, message)] = smtp_server.mailbox.messages
    assert message["Subject"] == "[ShellWatch] Daily summary / 每日汇总: daily (2)"
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "2 new item(s)" in text and "共 2 条新内容" in text and "Doubao" in text and "Yi-34B" in text


def test_weekly_summary_waits_for_the_week_and_failures_stay_pending(
    alert_settings: Settings, store: SqliteStore, kb: KnowledgeBase, receiver: Receiver
) -> None:
    weekly = make_subscription([webhook(receiver.url("/fail"))], name="weekly", frequency="weekly")
    store.save_subscription(weekly)
    alerts = two_allegations(store, kb)
    created = max(a.created_at for a in alerts)
    next_monday = period_end(Frequency.WEEKLY, created) + timedelta(days=7, hours=1)

    assert send_due_summaries(alert_settings, store, now=next_monday - timedelta(hours=2)) == []
    [failed] = send_due_summaries(alert_settings, store, now=next_monday)
    assert failed.alerts == 2 and "HTTP 500" in failed.error
    pending = store.list_deliveries(weekly.id, pending_only=True)
    assert len(pending) == 2 and all(p.attempts == 1 and "HTTP 500" in p.last_error for p in pending)
    [again] = send_due_summaries(alert_settings, store, now=next_monday + timedelta(hours=1))
    assert again.error and len(receiver.received("/fail")) == 2


def test_slack_summary_lists_every_alert(
    alert_settings: Settings, store: SqliteStore, kb: KnowledgeBase, receiver: Receiver
) -> None:
    slack = make_subscription([webhook(receiver.url("/ok"), "slack")], name="slack daily", frequency="daily")
    store.save_subscription(slack)
    alerts = two_allegations(store, kb)
    [sent] = send_due_summaries(
        alert_settings, store, now=max(a.created_at for a in alerts) + timedelta(days=1)
    )
    assert sent.error is None and sent.alerts == 2

    body = receiver.requests[0].json()
    assert set(body) == {"text", "blocks"}
    assert body["text"] == "Daily summary / 每日汇总: 2 · slack daily"
    sections = [block["text"]["text"] for block in body["blocks"] if block["type"] == "section"]
    assert len(sections) == 2
    assert any("Doubao" in text for text in sections) and any("Yi-34B" in text for text in sections)
    assert (
        body["blocks"][-1]["type"] == "context" and "unsubscribe" in body["blocks"][-1]["elements"][0]["text"]
    )
