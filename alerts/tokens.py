"""Secrets of a subscription: the webhook signature, and tokens derived from its secret.

The feed URL and the unsubscribe link carry a token derived from the subscription's secret with
HMAC and a purpose label, so neither reveals the webhook signing key and each can only be used for
its own purpose.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from shellwatch.domain import Subscription

SIGNATURE_HEADER = "X-ShellWatch-Signature"
TIMESTAMP_HEADER = "X-ShellWatch-Timestamp"


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The X-ShellWatch-Signature value: sha256=<hex HMAC-SHA256 over "<timestamp>.<body>">."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def derived_token(subscription: Subscription, purpose: str) -> str:
    mac = hmac.new(subscription.secret.encode("utf-8"), purpose.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:24]).decode("ascii")


def feed_token(subscription: Subscription) -> str:
    return derived_token(subscription, "feed")


def unsubscribe_token(subscription: Subscription) -> str:
    return derived_token(subscription, "unsubscribe")


def token_matches(subscription: Subscription, purpose: str, token: str | None) -> bool:
    if not token or not subscription.secret:
        return False
    return hmac.compare_digest(derived_token(subscription, purpose), token)
