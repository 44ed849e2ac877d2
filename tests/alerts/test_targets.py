"""Webhook target checks: internal addresses are refused unless WEBHOOK_ALLOW names them."""

from __future__ import annotations

import ipaddress

import pytest

from alerts.errors import ForbiddenTargetError
from alerts.targets import forbidden_reason, resolve_target
from shellwatch.config import Settings


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("10.0.0.1", "private"),
        ("192.168.1.20", "private"),
        ("172.16.5.4", "private"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("100.64.0.1", "non-global"),  # carrier-grade NAT
        ("::ffff:10.0.0.1", "private"),  # IPv4-mapped IPv6 does not hide a private address
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_forbidden_reason(address: str, reason: str | None) -> None:
    assert forbidden_reason(ipaddress.ip_address(address)) == reason


def test_internal_targets_refused_by_default(settings: Settings) -> None:
    for url in (
        "http://127.0.0.1:8080/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://localhost/hook",
        "http://[::1]/hook",
    ):
        with pytest.raises(ForbiddenTargetError, match="WEBHOOK_ALLOW"):
            resolve_target(settings, url)


def test_public_address_accepted(settings: Settings) -> None:
    target = resolve_target(settings, "https://93.184.216.34/hooks/shellwatch")
    assert (target.scheme, target.port, str(target.address)) == ("https", 443, "93.184.216.34")


@pytest.mark.parametrize(
    ("allow", "url"),
    [
        (["127.0.0.1"], "http://127.0.0.1:9000/x"),
        (["10.0.0.0/8"], "http://10.1.2.3/x"),
        (["localhost"], "http://localhost:9000/x"),
    ],
)
def test_allow_list_names_host_address_or_network(settings: Settings, allow: list[str], url: str) -> None:
    allowed = settings.model_copy(update={"webhook_allow": allow})
    assert resolve_target(allowed, url).url == url


def test_allow_list_is_not_a_wildcard(settings: Settings) -> None:
    allowed = settings.model_copy(update={"webhook_allow": ["127.0.0.1"]})
    with pytest.raises(ForbiddenTargetError):
        resolve_target(allowed, "http://169.254.169.254/latest/meta-data/")


@pytest.mark.parametrize(
    "url",
    ["ftp://example.org/hook", "file:///etc/passwd", "http:///nohost", "https://user:pw@93.184.216.34/"],
)
def test_bad_urls_refused(settings: Settings, url: str) -> None:
    with pytest.raises(ForbiddenTargetError):
        resolve_target(settings, url)
