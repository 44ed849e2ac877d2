"""Errors of the alerts stage, split by what the caller should do about them."""

from __future__ import annotations


class AlertsError(RuntimeError):
    """Base of every alerts error."""


class SubscriptionError(ValueError):
    """A subscription request is invalid (unknown entity, bad URL, forbidden target …)."""


class DeliveryError(AlertsError):
    """Sending an alert on one channel failed."""


class TransientDeliveryError(DeliveryError):
    """Worth a retry with backoff: timeout, connection refused, HTTP 5xx/408/429, SMTP 4xx."""


class PermanentDeliveryError(DeliveryError):
    """Retrying will not help until the subscriber changes something: forbidden target, HTTP 4xx."""


class ForbiddenTargetError(PermanentDeliveryError):
    """A webhook URL (or a redirect hop) points at a private, loopback, link-local or reserved address."""
