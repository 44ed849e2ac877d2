"""What an alert message says: the view of an alert, the webhook JSON and Slack payloads, labels.

Every channel renders from the same `AlertView` (the alert with its incident, article and links),
loaded once from the store. The webhook JSON payload follows alerts/schemas/webhook.schema.json,
which the README documents; Slack payloads follow Slack's incoming-webhook format
(`{"text": …, "blocks": […]}`). Display labels (English and Chinese) come from
alerts/templates/labels.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from alerts.tokens import feed_token, unsubscribe_token
from search.backends.base import Store
from shellwatch.config import Settings
from shellwatch.domain import Alert, Article, ChannelKind, Claim, Incident, Subscription, to_dict

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
SCHEMA_FILE = Path(__file__).resolve().parent / "schemas" / "webhook.schema.json"
ALERT_SCHEMA = "shellwatch.alert/1"
SUMMARY_SCHEMA = "shellwatch.summary/1"


@dataclass(frozen=True)
class Period:
    """The span a daily or weekly summary covers: [start, end)."""

    frequency: str
    start: datetime
    end: datetime

    @property
    def label(self) -> str:
        """`2023-11-15` for one day, `2023-11-13 – 2023-11-19` for longer (the end is exclusive)."""
        first, last = self.start.date(), (self.end - timedelta(microseconds=1)).date()
        return first.isoformat() if first == last else f"{first.isoformat()} – {last.isoformat()}"


@dataclass(frozen=True)
class AlertView:
    """One alert with what every message shows about it."""

    alert: Alert
    incident: Incident | None
    article: Article | None
    links: dict[str, str] = field(default_factory=dict)

    @property
    def claim(self) -> Claim:
        return self.alert.claim


def load_views(
    settings: Settings, store: Store, subscription: Subscription, alerts: list[Alert]
) -> list[AlertView]:
    """Fetch each alert's incident and article (once per id) and build its links."""
    incidents: dict[str, Incident | None] = {}
    articles: dict[str, Article | None] = {}
    views = []
    for alert in alerts:
        if alert.incident_id and alert.incident_id not in incidents:
            detail = store.get_incident(alert.incident_id)
            incidents[alert.incident_id] = detail.incident if detail else None
        if alert.article_id not in articles:
            analysed = store.get_article(alert.article_id)
            articles[alert.article_id] = analysed.article if analysed else None
        incident = incidents.get(alert.incident_id) if alert.incident_id else None
        article = articles[alert.article_id]
        views.append(AlertView(alert, incident, article, alert_links(settings, subscription, alert, article)))
    return views


def subscription_links(settings: Settings, subscription: Subscription) -> dict[str, str]:
    base = settings.public_url
    links = {"unsubscribe": f"{base}/unsubscribe/{subscription.id}?token={unsubscribe_token(subscription)}"}
    if any(channel.kind is ChannelKind.FEED for channel in subscription.channels):
        links["feed"] = feed_url(settings, subscription)
    return links


def feed_url(settings: Settings, subscription: Subscription) -> str:
    return f"{settings.public_url}/feeds/{subscription.id}.atom?token={feed_token(subscription)}"


def alert_links(
    settings: Settings, subscription: Subscription, alert: Alert, article: Article | None
) -> dict[str, str]:
    base = settings.public_url
    links = {"article_page": f"{base}/articles/{alert.article_id}"}
    if article is not None:
        links["article"] = article.url
    if alert.incident_id:
        links["incident"] = f"{base}/incidents/{alert.incident_id}"
    links.update(subscription_links(settings, subscription))
    return links


# Webhook JSON ----------------------------------------------------------------------------------


def alert_payload(subscription: Subscription, view: AlertView, kind: str = "alert") -> dict[str, Any]:
    """The documented webhook body for one alert (`kind` is "alert", or "test" for a test delivery)."""
    claim = view.claim
    return {
        "schema": ALERT_SCHEMA,
        "type": kind,
        "id": view.alert.id,
        "created_at": view.alert.created_at.isoformat(),
        "subscription": {"id": subscription.id, "name": subscription.name},
        "incident": _incident_json(view.incident),
        "claim": to_dict(claim),
        "evidence": claim.evidence,
        "article": _article_json(view.article),
        "links": view.links,
    }


def summary_payload(subscription: Subscription, period: Period, views: list[AlertView]) -> dict[str, Any]:
    return {
        "schema": SUMMARY_SCHEMA,
        "type": "summary",
        "subscription": {"id": subscription.id, "name": subscription.name},
        "period": {
            "frequency": period.frequency,
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
        },
        "count": len(views),
        "alerts": [alert_payload(subscription, view) for view in views],
    }


def _incident_json(incident: Incident | None) -> dict[str, Any] | None:
    if incident is None:
        return None
    return {
        "id": incident.id,
        "title_en": incident.title_en,
        "title_zh": incident.title_zh,
        "status": incident.status.value,
        "subject": incident.subject,
        "subject_name": incident.subject_name,
        "claim_types": [claim_type.value for claim_type in incident.claim_types],
        "started_at": incident.started_at.isoformat(),
        "updated_at": incident.updated_at.isoformat(),
    }


def _article_json(article: Article | None) -> dict[str, Any] | None:
    if article is None:
        return None
    return {
        "id": article.id,
        "title": article.title,
        "url": article.url,
        "source": article.source,
        "language": article.language.value,
        "published_at": article.published_at.isoformat() if article.published_at else None,
    }


# Slack ------------------------------------------------------------------------------------------


def slack_payload(
    subscription: Subscription, views: list[AlertView], period: Period | None = None
) -> dict[str, Any]:
    """Slack incoming-webhook format: a plain-text fallback and one section block per alert."""
    if period is None:
        view = views[0]
        text = f"{headline(view, 'en')} | {headline(view, 'zh')}"
    else:
        label = labels()["frequencies"][period.frequency]
        text = f"{label['en']} / {label['zh']}: {len(views)} · {subscription.name}"
    blocks: list[dict[str, Any]] = []
    if period is not None:
        blocks.append({"type": "header", "text": {"type": "plain_text", "text": text[:150]}})
    for view in views:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _slack_section(view)}})
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"ShellWatch · {_slack_escape(subscription.name)} · "
                    f"<{views[0].links['unsubscribe']}|unsubscribe / 退订>",
                }
            ],
        }
    )
    return {"text": text, "blocks": blocks[:50]}  # Slack accepts at most 50 blocks


def _slack_section(view: AlertView) -> str:
    claim = view.claim
    title = _slack_escape(headline(view, "en"))
    if "incident" in view.links:
        title = f"<{view.links['incident']}|{title}>"
    lines = [f"*{title}*", _slack_escape(headline(view, "zh")), f"> {_slack_escape(claim.evidence)}"]
    if view.article is not None:
        lines.append(
            f"<{view.links['article']}|{_slack_escape(view.article.title)}> · {_slack_escape(view.article.source)}"
        )
    return "\n".join(lines)[:3000]  # Slack's limit for a section text


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# Labels ------------------------------------------------------------------------------------------


@cache
def labels() -> dict[str, dict[str, dict[str, str]]]:
    return yaml.safe_load((TEMPLATES_DIR / "labels.yaml").read_text(encoding="utf-8"))


def headline(view: AlertView, language: str) -> str:
    """`New allegation: 01.AI — based on Llama …`, or its Chinese counterpart."""
    claim = view.claim
    stance = labels()["stances"][claim.stance.value][language]
    claim_type = labels()["claim_types"][claim.type.value][language]
    separator = "：" if language == "zh" else ": "
    subject = claim.subject_name
    if claim.object_name:
        source = f"（来源：{claim.object_name}）" if language == "zh" else f" (from {claim.object_name})"
    else:
        source = ""
    return f"{stance}{separator}{subject} — {claim_type}{source}"
