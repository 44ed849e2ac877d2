"""Webhook target checks: refuse URLs that resolve to internal addresses (SSRF protection).

A webhook URL is user input that makes this server send requests. Without this check a
subscriber could point it at the cloud metadata service (169.254.169.254), an internal admin
port or the loopback interface. `resolve_target` resolves the host once, refuses every address in
a private, loopback, link-local, multicast, unspecified or reserved range unless
`settings.webhook_allow` names the host, the address or a network containing it, and returns the
address to connect to, so the request goes to the address that was checked (no DNS rebinding
between check and connect).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from alerts.errors import ForbiddenTargetError, TransientDeliveryError
from shellwatch.config import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class ResolvedTarget:
    url: str
    scheme: str
    host: str  # as written in the URL (for the Host header and TLS SNI)
    port: int
    address: IPAddress  # the checked address the request connects to


def resolve_target(settings: Settings, url: str) -> ResolvedTarget:
    """Check a webhook URL and pick the address to connect to.

    Raises ForbiddenTargetError for a bad scheme or a forbidden address (permanent) and
    TransientDeliveryError when the host does not resolve right now.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ForbiddenTargetError(f"webhook URL must be http:// or https://, got {url!r}")
    if not parts.hostname:
        raise ForbiddenTargetError(f"webhook URL has no host: {url!r}")
    if parts.username or parts.password:
        raise ForbiddenTargetError("webhook URL must not carry credentials; the signature authenticates")
    host = parts.hostname.lower()
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise ForbiddenTargetError(f"webhook URL has a bad port: {url!r}") from exc
    addresses = _resolve(host, port)
    for address in addresses:
        reason = forbidden_reason(address)
        if reason and not is_allowed(settings, host, address):
            raise ForbiddenTargetError(
                f"webhook target {host} resolves to {address}, a {reason} address; "
                "add it to WEBHOOK_ALLOW to permit it"
            )
    return ResolvedTarget(url=url, scheme=parts.scheme, host=host, port=port, address=addresses[0])


def forbidden_reason(address: IPAddress) -> str | None:
    """Why this address may not be a webhook target, or None when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    # Order matters: 127.0.0.1 is also "private", 169.254.x is also "private"; name the specific range.
    checks = (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("unspecified", address.is_unspecified),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("non-global", not address.is_global),
    )
    return next((name for name, hit in checks if hit), None)


def is_allowed(settings: Settings, host: str, address: IPAddress) -> bool:
    """True when WEBHOOK_ALLOW names this host, this address, or a network containing it."""
    for entry in settings.webhook_allow:
        if entry.lower() == host:
            return True
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            continue
        if address.version == network.version and address in network:
            return True
    return False


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise TransientDeliveryError(f"webhook host {host} does not resolve: {exc.strerror}") from exc
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise TransientDeliveryError(f"webhook host {host} has no address")
    return addresses
