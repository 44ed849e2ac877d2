"""The Atom feed of a subscription, parsed by feedparser as a feed reader would."""

from __future__ import annotations

import feedparser
import pytest

from alerts.feed import FeedNotFound, render_feed
from alerts.tokens import feed_token
from nlp.knowledge_base import KnowledgeBase
from search.backends.sqlite import SqliteStore
from shellwatch.config import Settings
from shellwatch.domain import ClaimType
from tests.alerts.conftest import FEED, email_channel, make_article, make_claim, make_subscription, process


def test_feed_parses_and_holds_the_alerts(
    alert_settings: Settings, store: SqliteStore, kb: KnowledgeBase
) -> None:
    subscription = make_subscription([FEED], name="Everything & more")
    store.save_subscription(subscription)
    [first] = process(store, kb, make_article([make_claim(evidence="Yi-34B <is> Llama & co.")]))
    distilled = make_claim(
        subject="doubao",
        subject_name="Doubao",
        claim_type=ClaimType.API_DISTILLED,
        object_id="gpt-4",
        object_name="GPT-4",
        evidence="字节跳动被指使用OpenAI的API生成数据训练豆包。",
    )
    [second] = process(
        store, kb, make_article([distilled], url="https://news.example/doubao", title="豆包被指蒸馏GPT-4")
    )

    document = render_feed(store, subscription.id, feed_token(subscription), settings=alert_settings)
    feed = feedparser.parse(document)

    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert feed.feed.title == "ShellWatch: Everything & more"
    assert [entry.id for entry in feed.entries] == [f"urn:shellwatch:alert:{a.id}" for a in (second, first)]
    newest = feed.entries[0]
    assert newest.title.startswith("New allegation: Doubao") and "新指控：Doubao" in newest.title
    assert "字节跳动被指使用OpenAI的API生成数据训练豆包。" in newest.summary
    assert newest.link == f"https://shellwatch.example/incidents/{second.incident_id}"
    assert {tag.term for tag in newest.tags} == {"api_distilled", "allegation"}
    assert "Yi-34B <is> Llama & co." in feed.entries[1].summary  # escaped in XML, intact once parsed
    self_link = next(link.href for link in feed.feed.links if link.rel == "self")
    assert (
        self_link
        == f"https://shellwatch.example/feeds/{subscription.id}.atom?token={feed_token(subscription)}"
    )


def test_wrong_token_unknown_id_or_no_feed_channel_is_not_found(
    alert_settings: Settings, store: SqliteStore
) -> None:
    with_feed = make_subscription([FEED], name="feed")
    without_feed = make_subscription([email_channel()], name="mail only")
    for subscription in (with_feed, without_feed):
        store.save_subscription(subscription)
    for subscription_id, token in (
        (with_feed.id, "wrong"),
        (with_feed.id, None),
        (with_feed.id, with_feed.secret),  # the signing secret itself is not the feed token
        ("nope", feed_token(with_feed)),
        (without_feed.id, feed_token(without_feed)),
    ):
        with pytest.raises(FeedNotFound):
            render_feed(store, subscription_id, token, settings=alert_settings)
    assert render_feed(store, with_feed.id, feed_token(with_feed), settings=alert_settings).startswith(
        b"<?xml"
    )
