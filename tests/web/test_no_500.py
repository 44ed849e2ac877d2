"""No input produces a 500: every GET route, with hostile values in its path and query parameters."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

NASTY = [
    "",
    "%FF%FE",
    "%00",
    "..%2F..%2Fetc%2Fpasswd",
    quote('"unclosed (AND OR NOT -'),
    quote("<script>alert(1)</script>"),
    quote("零一萬物" * 40),
    "9" * 40,
    "-1",
    quote('entity:"" type: depth:<=x from:2023-99 to:'),
    quote("to:9999 from:0999-01"),  # years that overflow or that Elasticsearch's date format refuses
    "%E9%9B",  # truncated UTF-8
]
PARAMS = [
    "q",
    "offset",
    "limit",
    "entity",
    "interval",
    "zoom",
    "lang",
    "since",
    "until",
    "status",
    "type",
    "token",
    "article_id",
    "month",
    "format",
    "next",
    "facets",
]


def get_routes() -> list[str]:
    from web import api, pages

    paths = []
    for router in (api.router, api.feeds, pages.router):
        for route in router.routes:
            if "GET" in (getattr(route, "methods", None) or set()):
                paths.append(route.path)
    return sorted(set(paths))


def test_hostile_input_never_gives_a_500(client: TestClient) -> None:
    failures = []
    routes = get_routes()
    assert len(routes) >= 25 and "/api/incidents/{incident_id}" in routes and "/timeline" in routes
    for path in routes:
        for value in NASTY:
            concrete = re.sub(r"\{[^}]+\}", value or "x", path)
            query = "&".join(f"{name}={value}" for name in PARAMS)
            urls = [f"{concrete}?{query}"] + ([concrete] if concrete != path else [])
            for url in urls:
                response = client.get(url)
                if response.status_code >= 500:
                    failures.append((url[:120], response.status_code, response.text[:200]))
    assert failures == []


@pytest.mark.parametrize("path", ["/api/corrections", "/api/subscriptions", "/api/entities"])
def test_hostile_bodies_never_give_a_500(client: TestClient, write_token: str, path: str) -> None:
    headers = {"Authorization": f"Bearer {write_token}", "content-type": "application/json"}
    for body in (
        b"null",
        b"1e999999",
        b'{"a":' * 500 + b"1" + b"}" * 500,
        '{"name": "\ud800"}'.encode("utf-8", "surrogatepass"),
        b"\x00" * 10,
    ):
        response = client.post(path, content=body, headers=headers)
        assert response.status_code < 500, (body[:30], response.text[:200])
