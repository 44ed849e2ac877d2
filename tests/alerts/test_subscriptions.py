"""Creating subscriptions through the API-facing functions; the e-mail unsubscribe link."""

from __future__ import annotations

import pytest

from alerts.errors import SubscriptionError
from alerts.subscriptions import (
    SubscriptionNotFound,
    SubscriptionRequest,
    create_subscription,
    set_paused,
    unsubscribe,
)
from alerts.tokens import feed_token, unsubscribe_token
from nlp.knowledge_base import KnowledgeBase
from search.backends.sqlite import SqliteStore
from shellwatch.config import Settings
from shellwatch.domain import Channel, ChannelKind, Frequency, Stance
from tests.alerts.conftest import FEED, email_channel, make_article, make_claim, process, webhook


def request(**fields: object) -> SubscriptionRequest:
    values: dict[str, object] = {"name": "watch", "channels": [FEED]}
    values.update(fields)
    return SubscriptionRequest.model_validate(values)


def test_names_in_any_script_resolve_to_ids(
    alert_settings: Settings, store: SqliteStore, kb: KnowledgeBase
) -> None:
    subscription = create_subscription(
        alert_settings, store, kb, request(entities=["零一萬物", "字节跳动", "ERNIE Bot", "01.AI"])
    )
    assert subscription.entities == ["01-ai", "bytedance", "ernie-bot"]  # duplicates dropped
    assert store.get_subscription(subscription.id) == subscription
    assert len(subscription.secret) >= 40
    assert feed_token(subscription) != unsubscribe_token(subscription) != subscription.secret


def test_every_unknown_name_is_listed(
    alert_settings: Settings, store: SqliteStore, kb: KnowledgeBase
) -> None:
    with pytest.raises(SubscriptionError, match=r"unknown entities: 'Foo-34B', 'XX大模型'"):
        create_subscription(alert_settings, store, kb, request(entities=["Foo-34B", "Baidu", "XX大模型"]))
    assert store.list_subscriptions() == []


def test_request_is_validated_like_api_input() -> None:
    with pytest.raises(ValueError):
        request(max_depth=9)
    with pytest.raises(ValueError):
        request(min_confidence=1.5)
    with pytest.raises(ValueError):
        request(frequency="hourly")
    assert request(frequency="weekly").frequency is Frequency.WEEKLY


def test_duplicate_channels_and_bad_webhook_format_refused(
    alert_settings: Settings, store: SqliteStore, kb: KnowledgeBase
) -> None:
    hook = webhook("http://127.0.0.1:9/hook")
    with pytest.raises(SubscriptionError, match="given twice"):
        create_subscription(alert_settings, store, kb, request(channels=[hook, hook]))
    with pytest.raises(SubscriptionError, match="format"):
        create_subscription(
            alert_settings, store, kb, request(channels=[webhook("http://127.0.0.1:9/x", "xml")])
        )
    with pytest.raises(SubscriptionError, match="no target"):
        create_subscription(
            alert_settings, store, kb, request(channels=[Channel(kind=ChannelKind.FEED, target="x")])
        )


def test_paused_subscription_gets_no_alerts(
    alert_settings: Settings, store: SqliteStore, kb: KnowledgeBase
) -> None:
    subscription = create_subscription(alert_settings, store, kb, request(entities=["01.AI"]))
    set_paused(store, subscription.id, True)
    assert process(store, kb, make_article([make_claim()])) == []
    set_paused(store, subscription.id, False)
    with pytest.raises(SubscriptionNotFound):
        set_paused(store, "missing", True)


def test_unsubscribe_link_drops_email_and_pauses_when_nothing_is_left(
    mail_settings: Settings, store: SqliteStore, kb: KnowledgeBase
) -> None:
    both = create_subscription(
        mail_settings, store, kb, request(name="both", channels=[email_channel(), FEED])
    )
    mail_only = create_subscription(
        mail_settings, store, kb, request(name="mail", channels=[email_channel()])
    )

    with pytest.raises(SubscriptionNotFound):
        unsubscribe(store, both.id, "forged")
    with pytest.raises(SubscriptionNotFound):
        unsubscribe(store, both.id, feed_token(both))  # a feed token cannot unsubscribe

    kept = unsubscribe(store, both.id, unsubscribe_token(both))
    assert [c.kind for c in kept.channels] == [ChannelKind.FEED] and not kept.paused
    emptied = unsubscribe(store, mail_only.id, unsubscribe_token(mail_only))
    assert emptied.channels == [] and emptied.paused
    assert store.get_subscription(mail_only.id).paused
    # The link keeps working (a second click is not an error).
    assert unsubscribe(store, mail_only.id, unsubscribe_token(mail_only)).paused


def test_responses_subscription(alert_settings: Settings, store: SqliteStore, kb: KnowledgeBase) -> None:
    subscription = create_subscription(
        alert_settings, store, kb, request(entities=["01.AI"], stances=["denial", "admission"])
    )
    assert subscription.stances == [Stance.DENIAL, Stance.ADMISSION]
    assert process(store, kb, make_article([make_claim()])) == []  # an allegation is not a response
