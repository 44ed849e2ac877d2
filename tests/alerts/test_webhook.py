"""Webhook requests against a real HTTP receiver: signature, schema, redirects, failures."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from contextlib import ExitStack

import jsonschema
import pytest

from alerts.errors import ForbiddenTargetError, PermanentDeliveryError, TransientDeliveryError
from alerts.messages import SCHEMA_FILE, AlertView, alert_links, alert_payload, slack_payload
from alerts.webhook import send_webhook
from shellwatch.config import Settings
from shellwatch.domain import Alert, alert_id
from tests.alerts.conftest import (
    NOW,
    Receiver,
    make_article,
    make_claim,
    make_incident,
    make_subscription,
    running_receiver,
    webhook,
)

SECRET = "test-secret-of-the-subscription"


def verify(secret: str, headers, body: bytes, tolerance: int = 300) -> bool:
    """The verification recipe of the README, verbatim."""
    timestamp = headers["X-ShellWatch-Timestamp"]
    expected = (
        "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    )
    fresh = abs(time.time() - int(timestamp)) <= tolerance
    return fresh and hmac.compare_digest(expected, headers["X-ShellWatch-Signature"])


def sample_payload(settings: Settings, receiver: Receiver) -> tuple[dict, str]:
    claim = make_claim(evidence='Researchers said Yi-34B "is Llama" <b>with renamed tensors</b> & more.')
    article = make_article([claim])
    incident = make_incident(claim, article)
    subscription = make_subscription([webhook(receiver.url("/ok"))])
    alert = Alert(
        id=alert_id(subscription.id, claim),
        subscription_id=subscription.id,
        incident_id=incident.id,
        article_id=article.id,
        claim=claim,
        created_at=NOW,
    )
    view = AlertView(
        alert, incident, article.article, alert_links(settings, subscription, alert, article.article)
    )
    return alert_payload(subscription, view), alert.id


def test_receiver_gets_signed_payload_that_verifies(alert_settings: Settings, receiver: Receiver) -> None:
    payload, identifier = sample_payload(alert_settings, receiver)
    assert send_webhook(alert_settings, receiver.url("/ok"), SECRET, payload, alert_id=identifier) == 200

    [request] = receiver.requests
    assert verify(SECRET, request.headers, request.body)
    assert not verify("another-secret", request.headers, request.body)
    assert not verify(SECRET, request.headers, request.body.replace(b"Yi-34B", b"Yi-6B"))
    assert request.headers["X-ShellWatch-Alert"] == identifier
    assert request.headers["Content-Type"].startswith("application/json")
    body = request.json()
    jsonschema.validate(body, json.loads(SCHEMA_FILE.read_text()))
    assert (
        body["claim"]["evidence"] == 'Researchers said Yi-34B "is Llama" <b>with renamed tensors</b> & more.'
    )
    assert body["incident"]["title_en"].startswith("Yi-34B")
    assert body["links"]["incident"].startswith("https://shellwatch.example/incidents/")
    assert body["links"]["article"] == "https://news.example/yi-34b-llama"


def test_old_timestamp_fails_the_recipe(alert_settings: Settings, receiver: Receiver) -> None:
    payload, _ = sample_payload(alert_settings, receiver)
    send_webhook(alert_settings, receiver.url("/ok"), SECRET, payload)
    [request] = receiver.requests
    assert verify(SECRET, request.headers, request.body)
    assert not verify(SECRET, request.headers, request.body, tolerance=-1)  # a replay outside the window


def test_redirect_to_allowed_target_is_followed_with_signature(
    alert_settings: Settings, receiver: Receiver
) -> None:
    payload, _ = sample_payload(alert_settings, receiver)
    send_webhook(alert_settings, receiver.url("/redirect?status=307&to=/ok"), SECRET, payload)
    [first, second] = receiver.requests
    assert second.path == "/ok" and second.body == first.body
    assert verify(SECRET, second.headers, second.body)


@pytest.mark.parametrize("forbidden", ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/hook"])
def test_redirect_to_forbidden_target_is_refused(
    alert_settings: Settings, receiver: Receiver, forbidden: str
) -> None:
    payload, _ = sample_payload(alert_settings, receiver)
    started = time.monotonic()
    with pytest.raises(ForbiddenTargetError, match="WEBHOOK_ALLOW"):
        send_webhook(alert_settings, receiver.url(f"/redirect?to={forbidden}"), SECRET, payload)
    # Refused before any connection attempt: no waiting for an unroutable address to time out.
    assert time.monotonic() - started < alert_settings.webhook_timeout_seconds / 2
    assert [r.path.split("?")[0] for r in receiver.requests] == ["/redirect"]


def test_server_error_is_transient(alert_settings: Settings, receiver: Receiver) -> None:
    payload, _ = sample_payload(alert_settings, receiver)
    with pytest.raises(TransientDeliveryError, match="HTTP 500"):
        send_webhook(alert_settings, receiver.url("/fail"), SECRET, payload)


def test_client_error_is_permanent(alert_settings: Settings, receiver: Receiver) -> None:
    payload, _ = sample_payload(alert_settings, receiver)
    with pytest.raises(PermanentDeliveryError, match="HTTP 410"):
        send_webhook(alert_settings, receiver.url("/gone"), SECRET, payload)


def test_timeout_is_transient_and_bounded(alert_settings: Settings, receiver: Receiver) -> None:
    payload, _ = sample_payload(alert_settings, receiver)
    started = time.monotonic()
    with pytest.raises(TransientDeliveryError, match="timed out"):
        send_webhook(alert_settings, receiver.url("/slow"), SECRET, payload)
    assert time.monotonic() - started < alert_settings.webhook_timeout_seconds + 0.5


def test_connection_refused_is_transient(alert_settings: Settings) -> None:
    from tests.support.servers import free_port

    payload = {"schema": "shellwatch.alert/1"}
    with pytest.raises(TransientDeliveryError, match="unreachable"):
        send_webhook(alert_settings, f"http://127.0.0.1:{free_port()}/hook", SECRET, payload)


def test_loopback_refused_without_allow_list(settings: Settings, receiver: Receiver) -> None:
    with pytest.raises(ForbiddenTargetError):
        send_webhook(settings, receiver.url("/ok"), SECRET, {"x": 1})
    assert receiver.requests == []


def test_slack_format(alert_settings: Settings, receiver: Receiver) -> None:
    claim = make_claim(evidence="Yi-34B <is> Llama & co")
    article = make_article([claim])
    incident = make_incident(claim, article)
    subscription = make_subscription([webhook(receiver.url("/ok"), "slack")])
    alert = Alert(
        id="a1",
        subscription_id=subscription.id,
        incident_id=incident.id,
        article_id=article.id,
        claim=claim,
        created_at=NOW,
    )
    view = AlertView(
        alert, incident, article.article, alert_links(alert_settings, subscription, alert, article.article)
    )
    payload = slack_payload(subscription, [view])
    send_webhook(alert_settings, receiver.url("/ok"), SECRET, payload)
    body = receiver.requests[0].json()
    assert set(body) == {"text", "blocks"}
    assert body["text"].startswith("New allegation: Yi-34B")
    assert "新指控" in body["text"]
    section = body["blocks"][0]["text"]["text"]
    assert "&lt;is&gt; Llama &amp; co" in section  # Slack mrkdwn escaping
    assert f"<{view.links['incident']}|" in section


def test_ipv6_target(alert_settings: Settings) -> None:
    with ExitStack() as stack:
        try:
            ipv6 = stack.enter_context(running_receiver("::1"))
        except OSError as exc:
            pytest.skip(f"no IPv6 loopback on this host: {exc}")
        url = ipv6.url("/ok?x=1")
        with pytest.raises(ForbiddenTargetError, match="loopback"):
            send_webhook(alert_settings, url, SECRET, {"x": 1})  # allowing 127.0.0.1 does not allow ::1
        allowed = alert_settings.model_copy(update={"webhook_allow": ["::1"]})
        assert send_webhook(allowed, url, SECRET, {"x": 1}) == 200
        [request] = ipv6.requests
        assert request.path == "/ok?x=1" and request.headers["Host"] == ipv6.base_url.removeprefix("http://")
        assert verify(SECRET, request.headers, request.body)
