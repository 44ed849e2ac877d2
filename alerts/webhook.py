"""Send one signed webhook request, checking the target and every redirect hop.

The body is JSON (the documented payload, or Slack's format); the headers carry
`X-ShellWatch-Timestamp: <unix seconds>` and
`X-ShellWatch-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" keyed by the secret>`,
so a receiver can verify origin and integrity and reject replays older than a few minutes.

Each request connects to the address `alerts.targets.resolve_target` checked (Host header and TLS
SNI keep the name), redirects are followed by hand (at most MAX_REDIRECTS, each hop checked the
same way), and the whole exchange is bounded by `settings.webhook_timeout_seconds`.
"""

from __future__ import annotations

import json
import ssl
import time
from functools import cache
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from alerts.errors import PermanentDeliveryError, TransientDeliveryError
from alerts.targets import ResolvedTarget, resolve_target
from alerts.tokens import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from shellwatch.config import Settings

MAX_REDIRECTS = 3
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
RETRYABLE_STATUSES = frozenset({408, 425, 429})


def encode_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def send_webhook(
    settings: Settings, url: str, secret: str, payload: dict[str, Any], *, alert_id: str | None = None
) -> int:
    """POST the payload; return the final HTTP status (2xx) or raise a DeliveryError."""
    body = encode_body(payload)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": settings.user_agent,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
    }
    if alert_id:
        headers["X-ShellWatch-Alert"] = alert_id  # lets receivers drop duplicates on their side too
    # trust_env=False: an environment proxy would connect to targets we did not check.
    with httpx.Client(trust_env=False, follow_redirects=False, verify=_tls_context()) as client:
        deadline = time.monotonic() + settings.webhook_timeout_seconds
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            target = resolve_target(settings, current)
            response = _post(client, target, headers, body, deadline, settings.webhook_timeout_seconds)
            status = response.status_code
            if status in REDIRECT_STATUSES:
                location = response.headers.get("location")
                if not location:
                    raise PermanentDeliveryError(f"HTTP {status} redirect without a Location from {current}")
                current = urljoin(current, location)
                continue
            if 200 <= status < 300:
                return status
            reason = f"HTTP {status} from {current}: {_snippet(response)}"
            if status >= 500 or status in RETRYABLE_STATUSES:
                raise TransientDeliveryError(reason)
            raise PermanentDeliveryError(reason)
    raise PermanentDeliveryError(f"more than {MAX_REDIRECTS} redirects starting at {url}")


def _post(
    client: httpx.Client,
    target: ResolvedTarget,
    headers: dict[str, str],
    body: bytes,
    deadline: float,
    timeout: float,
) -> httpx.Response:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TransientDeliveryError(f"webhook timed out after {timeout:g}s (redirects included)")
    parts = urlsplit(target.url)
    address = f"[{target.address}]" if target.address.version == 6 else str(target.address)
    pinned = urlunsplit((parts.scheme, f"{address}:{target.port}", parts.path or "/", parts.query, ""))
    default_port = 443 if target.scheme == "https" else 80
    host = f"[{target.host}]" if ":" in target.host else target.host  # an IPv6 literal keeps its brackets
    host_header = host if target.port == default_port else f"{host}:{target.port}"
    request = client.build_request(
        "POST",
        pinned,
        content=body,
        headers={**headers, "Host": host_header},
        timeout=httpx.Timeout(remaining),
        extensions={"sni_hostname": target.host} if target.scheme == "https" else {},
    )
    try:
        response = client.send(request)
        response.read()
    except httpx.TimeoutException as exc:
        raise TransientDeliveryError(f"webhook {target.host} timed out after {timeout:g}s") from exc
    except httpx.TransportError as exc:
        raise TransientDeliveryError(
            f"webhook {target.host} unreachable: {exc or type(exc).__name__}"
        ) from exc
    return response


@cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process: building one per request costs more than the request."""
    return ssl.create_default_context()


def _snippet(response: httpx.Response) -> str:
    text = response.text.strip().replace("\n", " ")
    return text[:200] or response.reason_phrase
