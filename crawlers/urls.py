"""URL canonicalisation: one article, one URL, whatever tracking or mobile variant linked to it.

The canonical URL is what article ids hash and what the seen-set stores, so two links to the same
page (with `utm_*` parameters, on `m.` hosts, with a trailing slash or a fragment) are one URL.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters that identify a campaign or a click, never the page.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "msclkid",
        "yclid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "spm",
        "scm",
        "from",
        "share_token",
        "share_from",
        "sharesource",
        "share",
        "tt_from",
        "ref",
        "ref_src",
        "ref_url",
        "cmpid",
        "cmp",
        "ncid",
        "sr_share",
        "source",
        "wt.mc_id",
        "_hsenc",
        "_hsmi",
        "fromsource",
        "ivk_sa",
        "isappinstalled",
        "scene",
        "clicktime",
        "enterid",
        "wfr",
        "timestamp",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "hmsr", "hmpl", "hmcu", "hmkw", "hmci")
# Mobile and AMP host prefixes that serve the same article as the main host.
MOBILE_HOST = re.compile(r"^(?:www|m|mobile|wap|amp|3g)\.(?=[^.]+\.[^.]+)")
AMP_SUFFIX = re.compile(r"/amp/?$|\.amp(?=\.html?$)")


def canonicalize_url(url: str) -> str:
    """The canonical form of an article URL (stable; safe to hash)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower() or "http"
    host = (parts.hostname or "").lower().rstrip(".")
    host = MOBILE_HOST.sub("", host, count=1)
    port = parts.port
    netloc = host if port in (None, 80 if scheme == "http" else 443) else f"{host}:{port}"
    path = AMP_SUFFIX.sub("", parts.path) or "/"
    path = re.sub(r"/{2,}", "/", path)
    if len(path) > 1:
        path = path.rstrip("/")
    query = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key.lower() not in TRACKING_PARAMS and not key.lower().startswith(TRACKING_PREFIXES)
    ]
    return urlunsplit((scheme, netloc, path, urlencode(sorted(query)), ""))


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()
