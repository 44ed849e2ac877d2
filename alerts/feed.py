"""The Atom feed of a subscription, served at `/feeds/{subscription_id}.atom?token=…`.

The token is derived from the subscription's secret (alerts.tokens.feed_token), so the URL is the
only credential a feed reader needs; a wrong token, an unknown subscription or one without a feed
channel all raise FeedNotFound, which the web app answers with 404 (not 403: the URL reveals
nothing about which subscriptions exist). Entries are the subscription's most recent alerts.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from alerts.messages import AlertView, feed_url, headline, load_views
from alerts.tokens import token_matches
from search.backends.base import Store
from shellwatch.config import Settings
from shellwatch.domain import ChannelKind

ATOM_NS = "http://www.w3.org/2005/Atom"
FEED_ENTRIES = 50


class FeedNotFound(LookupError):
    """No feed at this URL: unknown subscription, no feed channel, or a wrong token."""


def render_feed(
    store: Store, subscription_id: str, token: str | None, settings: Settings | None = None
) -> bytes:
    """The Atom document (UTF-8 bytes) of a subscription's latest alerts; FeedNotFound on a bad URL."""
    subscription = store.get_subscription(subscription_id)
    if (
        subscription is None
        or not any(channel.kind is ChannelKind.FEED for channel in subscription.channels)
        or not token_matches(subscription, "feed", token)
    ):
        raise FeedNotFound(f"no feed {subscription_id!r} with this token")
    if settings is None:
        from shellwatch.config import load_settings

        settings = load_settings()
    alerts = store.list_alerts(subscription_id, limit=FEED_ENTRIES)
    views = load_views(settings, store, subscription, alerts)

    ET.register_namespace("", ATOM_NS)
    feed = ET.Element(_q("feed"))
    _text(feed, "id", f"urn:shellwatch:subscription:{subscription.id}")
    _text(feed, "title", f"ShellWatch: {subscription.name}")
    _text(feed, "subtitle", "New allegations of LLM wrapping (套壳) / 套壳新指控")
    updated = max((alert.created_at for alert in alerts), default=subscription.created_at)
    _text(feed, "updated", _timestamp(updated))
    ET.SubElement(
        feed, _q("link"), rel="self", type="application/atom+xml", href=feed_url(settings, subscription)
    )
    ET.SubElement(feed, _q("link"), rel="alternate", type="text/html", href=settings.public_url + "/")
    author = ET.SubElement(feed, _q("author"))
    _text(author, "name", "ShellWatch")
    _text(feed, "generator", "ShellWatch")
    for view in views:
        _entry(feed, view)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def _entry(feed: ET.Element, view: AlertView) -> None:
    entry = ET.SubElement(feed, _q("entry"))
    _text(entry, "id", f"urn:shellwatch:alert:{view.alert.id}")
    _text(entry, "title", f"{headline(view, 'en')} | {headline(view, 'zh')}")
    stamp = _timestamp(view.alert.created_at)
    _text(entry, "updated", stamp)
    published = (
        view.article.published_at if view.article and view.article.published_at else view.alert.created_at
    )
    _text(entry, "published", _timestamp(published))
    for rel, key in (("alternate", "incident"), ("related", "article")):
        if key in view.links:
            ET.SubElement(entry, _q("link"), rel=rel, type="text/html", href=view.links[key])
    if "incident" not in view.links:
        ET.SubElement(entry, _q("link"), rel="alternate", type="text/html", href=view.links["article_page"])
    ET.SubElement(entry, _q("category"), term=view.claim.type.value)
    ET.SubElement(entry, _q("category"), term=view.claim.stance.value)
    lines = [f"“{view.claim.evidence}”"]
    if view.incident:
        lines.append(f"{view.incident.title_en} / {view.incident.title_zh}")
    if view.article:
        lines.append(f"{view.article.title} — {view.article.source}")
    summary = _text(entry, "summary", "\n".join(lines))
    summary.set("type", "text")


def _q(tag: str) -> str:
    return f"{{{ATOM_NS}}}{tag}"


def _text(parent: ET.Element, tag: str, value: str) -> ET.Element:
    element = ET.SubElement(parent, _q(tag))
    element.text = value
    return element


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
