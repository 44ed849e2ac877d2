"""The HTTP API against a store filled through the pipeline: every endpoint, auth, bad input."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from search.backends.admin import TokenScope
from shellwatch.config import Settings
from tests.web.conftest import COPY_URL, Corpus, bearer, make_token


def incident_of(client: TestClient, subject: str) -> dict:
    incidents = client.get("/api/incidents").json()["incidents"]
    return next(i for i in incidents if i["subject"] == subject)


# Service ---------------------------------------------------------------------------------------


def test_health_reports_the_store(client: TestClient) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "store": "SqliteStore", "articles": 7}


def test_health_is_503_when_the_store_cannot_open(web_settings: Settings, tmp_path) -> None:
    from web.app import create_app

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    broken = web_settings.model_copy(update={"data_dir": blocker / "data"})
    with TestClient(create_app(broken), raise_server_exceptions=False) as client:
        response = client.get("/api/health")
        assert response.status_code == 503
        assert response.json()["status"] == "unavailable"
        search = client.get("/api/search", params={"q": "Llama"})
        assert search.status_code == 503
        assert "unavailable" in search.json()["detail"]


def test_openapi_lists_the_api_and_docs_are_local(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path in (
        "/api/search",
        "/api/timeline",
        "/api/incidents",
        "/api/incidents/{incident_id}",
        "/api/entities",
        "/api/entities/unknown",
        "/api/subscriptions",
        "/api/subscriptions/{subscription_id}/pause",
        "/api/digests/{filename}",
        "/api/sources",
        "/api/health",
        "/api/corrections",
        "/feeds/{subscription_id}.atom",
    ):
        assert path in spec["paths"], path
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "/static/swagger/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text.lower()
    assert client.get("/static/swagger/swagger-ui-bundle.js").status_code == 200


def test_metrics_are_prometheus_text(client: TestClient) -> None:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "shellwatch_articles_stored 7.0" in response.text
    assert "shellwatch_store_up 1.0" in response.text
    assert "shellwatch_articles_processed" in response.text  # the workers' counters


# Search and timeline -----------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["零一万物", "零一萬物", "01.AI", "entity:01-ai"])
def test_search_finds_the_yi_coverage_in_any_script(client: TestClient, query: str) -> None:
    body = client.get("/api/search", params={"q": query}).json()
    titles = {hit["title"] for hit in body["hits"]}
    assert "01.AI's Yi-34B accused of copying Meta's Llama architecture" in titles or any(
        "零一" in t for t in titles
    )
    assert body["total"] >= 2
    assert set(body["facets"]) >= {"entity", "type", "stance", "lang", "source", "month"}


def test_search_highlights_chinese_matches_and_escapes_the_rest(client: TestClient) -> None:
    body = client.get("/api/search", params={"q": "套壳"}).json()
    snippets = [s for hit in body["hits"] for s in hit["highlights"].get("title", [])]
    assert any("<mark>套壳</mark>" in s or "<mark>套殼</mark>" in s for s in snippets)
    evil = next(hit for hit in body["hits"] if hit["source"] == "evil")
    assert "<script>" not in evil["highlights"]["title"][0]
    assert "&lt;script&gt;" in evil["highlights"]["title"][0]


def test_search_pages_and_claim_keys(client: TestClient) -> None:
    first = client.get("/api/search", params={"q": "", "limit": 2}).json()
    second = client.get("/api/search", params={"q": "", "limit": 2, "offset": 2}).json()
    assert first["total"] == 7 and len(first["hits"]) == 2
    assert {h["id"] for h in first["hits"]}.isdisjoint({h["id"] for h in second["hits"]})
    claim = next(h for h in first["hits"] if h["claims"])["claims"][0]
    assert len(claim["key"]) == 16 and claim["type"] and claim["stance"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"q": '"unclosed'}, "q"),
        ({"q": "type:nonsense"}, "q"),
        ({"q": "(Llama"}, "q"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": 10**30}, "offset"),
        ({"offset": 9990, "limit": 20}, "offset"),
        ({"limit": "many"}, "limit"),
        ({"q": "x" * 1001}, "q"),
    ],
)
def test_search_refuses_malformed_input_naming_the_field(
    client: TestClient, params: dict, field: str
) -> None:
    response = client.get("/api/search", params=params)
    assert 400 <= response.status_code < 500
    assert response.json()["detail"].startswith(f"{field}:")


def test_search_with_non_utf8_query_bytes_is_not_a_500(client: TestClient) -> None:
    response = client.get("/api/search?q=%FF%FE%C3")
    assert response.status_code in (200, 400)


def test_timeline_orders_incidents_and_counts_coverage(client: TestClient) -> None:
    body = client.get("/api/timeline", params={"interval": "month"}).json()
    subjects = [i["subject"] for i in body["incidents"]]
    assert subjects.index("yi-34b") < subjects.index("bytedance")
    months = {b["date"][:7]: b["count"] for b in body["histogram"]}
    assert months["2023-11"] == 4 and months["2023-12"] == 2


def test_timeline_by_entity_in_chinese_and_bad_parameters(client: TestClient) -> None:
    body = client.get("/api/timeline", params={"entity": "字节跳动"}).json()
    assert body["entity"] == "bytedance"
    assert [i["subject"] for i in body["incidents"]] == ["bytedance"]
    assert (
        client.get("/api/timeline", params={"interval": "fortnight"}).json()["detail"].startswith("interval:")
    )
    unknown = client.get("/api/timeline", params={"entity": "Nobody AI"})
    assert unknown.status_code == 422 and unknown.json()["detail"].startswith("entity:")


# Incidents, articles ----------------------------------------------------------------------------


def test_incident_list_filters(client: TestClient) -> None:
    assert client.get("/api/incidents").json()["total"] == 3
    disputed = client.get("/api/incidents", params={"status": "disputed"}).json()["incidents"]
    assert {i["subject"] for i in disputed} == {"yi-34b", "bytedance"}
    distilled = client.get("/api/incidents", params={"type": "api_distilled"}).json()["incidents"]
    assert [i["subject"] for i in distilled] == ["bytedance"]
    december = client.get("/api/incidents", params={"since": "2023-12-01"}).json()["incidents"]
    assert {i["subject"] for i in december} == {"bytedance", None}
    assert client.get("/api/incidents", params={"since": "2023-13-01"}).status_code == 422
    assert (
        client.get("/api/incidents", params={"since": "2024-01-01", "until": "2023-01-01"}).status_code == 422
    )
    assert client.get("/api/incidents", params={"status": "rumoured"}).json()["detail"].startswith("status:")


def test_incident_detail_has_both_languages_in_date_order_with_copies_folded(
    client: TestClient, corpus: Corpus
) -> None:
    incident = incident_of(client, "yi-34b")
    body = client.get(f"/api/incidents/{incident['id']}").json()
    assert body["status"] == "disputed"
    coverage = body["coverage"]
    dates = [item["published_at"] for item in coverage]
    assert dates == sorted(dates)
    assert [item["id"] for item in coverage] == [corpus.yi_zh.id, corpus.yi_en.id, corpus.yi_denial.id]
    assert coverage[0]["also_published_at"] == [COPY_URL]
    assert coverage[0]["folded_article_ids"] == [corpus.yi_copy.id]
    assert body["coverage_by_language"] == {"zh": 2, "en": 1}
    assert len(body["allegations"]) == 2  # a syndicated copy is one article seen twice, not an allegation
    assert [c["stance"] for c in body["responses"]] == ["denial"]


@pytest.mark.parametrize("bad", ["nope", "..%2F..%2Fetc", "a" * 65, "%00", "x;drop"])
def test_unknown_or_malformed_incident_ids_are_4xx(client: TestClient, bad: str) -> None:
    response = client.get(f"/api/incidents/{bad}")
    assert response.status_code in (404, 422)
    assert "detail" in response.json()


def test_article_detail_and_404(client: TestClient, corpus: Corpus) -> None:
    body = client.get(f"/api/articles/{corpus.yi_en.id}").json()
    assert body["text"].startswith("Researchers found")
    assert body["claims"][0]["corrected"] is False
    assert body["incident_ids"]
    assert client.get("/api/articles/0000000000000000").status_code == 404


# Entities -----------------------------------------------------------------------------------------


def test_entities_list_one_and_unknown_names(client: TestClient) -> None:
    listed = client.get("/api/entities", params={"q": "字節"}).json()
    assert [e["id"] for e in listed["entities"]] == ["bytedance"]
    models = client.get("/api/entities", params={"type": "model"}).json()["entities"]
    assert {e["type"] for e in models} == {"model"}
    one = client.get("/api/entities/零一萬物").json()
    assert one["id"] == "01-ai"
    assert [m["id"] for m in one["models"]] == ["yi-34b"]
    assert [i["subject"] for i in one["incidents"]] == ["yi-34b"]  # a company includes its models
    assert client.get("/api/entities/nobody").status_code == 404
    unknown = client.get("/api/entities/unknown").json()["names"]
    assert unknown[0]["name"] == "Evil-7B" and unknown[0]["articles"] == 1


def test_adding_an_entity_needs_a_write_token_and_updates_the_knowledge_base(
    client: TestClient, filled: Settings, write_token: str, read_token: str
) -> None:
    body = {
        "id": "evil-7b",
        "name": "Evil-7B",
        "type": "model",
        "developer": "openai",
        "names_zh": ["邪恶7B"],
    }
    assert client.post("/api/entities", json=body).status_code == 401
    assert client.post("/api/entities", json=body, headers=bearer(read_token)).status_code == 403
    created = client.post("/api/entities", json=body, headers=bearer(write_token))
    assert created.status_code == 201, created.text
    assert "evil-7b" in filled.knowledge_base_file.read_text(encoding="utf-8")
    assert client.get("/api/entities/邪恶7B").json()["id"] == "evil-7b"
    assert all(u["name"] != "Evil-7B" for u in client.get("/api/entities/unknown").json()["names"])
    again = client.post("/api/entities", json=body, headers=bearer(write_token))
    assert again.status_code == 409 and "already" in again.json()["detail"]
    orphan = {"id": "foo-34b", "name": "Foo-34B", "type": "model"}
    refused = client.post("/api/entities", json=orphan, headers=bearer(write_token))
    assert refused.status_code == 422 and refused.json()["detail"].startswith("developer:")
    bad_id = client.post("/api/entities", json={**orphan, "id": "Foo 34B"}, headers=bearer(write_token))
    assert bad_id.status_code == 422 and bad_id.json()["errors"][0]["field"] == "id"


# Subscriptions ----------------------------------------------------------------------------------


def test_subscription_lifecycle(client: TestClient, write_token: str, read_token: str) -> None:
    request = {
        "name": "ByteDance watch",
        "entities": ["字节跳动"],
        "claim_types": ["api_distilled"],
        "channels": [{"kind": "feed"}],
    }
    assert client.post("/api/subscriptions", json=request).status_code == 401
    assert client.post("/api/subscriptions", json=request, headers=bearer(read_token)).status_code == 403
    created = client.post("/api/subscriptions", json=request, headers=bearer(write_token))
    assert created.status_code == 201, created.text
    subscription = created.json()
    assert subscription["entities"] == ["bytedance"]
    assert subscription["secret"]  # shown at creation
    sub_id = subscription["id"]
    feed_url = subscription["links"]["feed"]
    assert feed_url.startswith("http://shellwatch.test/feeds/")

    assert client.get("/api/subscriptions").status_code == 401  # private
    listed = client.get("/api/subscriptions", headers=bearer(read_token)).json()
    assert [s["id"] for s in listed["subscriptions"]] == [sub_id]
    assert "secret" not in listed["subscriptions"][0]
    one = client.get(f"/api/subscriptions/{sub_id}", headers=bearer(read_token)).json()
    assert one["channel_status"][0]["state"] == "ok"

    paused = client.post(f"/api/subscriptions/{sub_id}/pause", headers=bearer(write_token)).json()
    assert paused["paused"] is True
    assert (
        client.post(f"/api/subscriptions/{sub_id}/resume", headers=bearer(write_token)).json()["paused"]
        is False
    )
    test = client.post(f"/api/subscriptions/{sub_id}/test", headers=bearer(write_token)).json()
    assert test["ok"] is True and test["results"][0].startswith("feed: ok")

    feed = client.get(feed_url.removeprefix("http://shellwatch.test"))
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("application/atom+xml")
    assert client.get(f"/feeds/{sub_id}.atom?token=wrong").status_code == 404

    assert client.delete(f"/api/subscriptions/{sub_id}", headers=bearer(read_token)).status_code == 403
    assert client.delete(f"/api/subscriptions/{sub_id}", headers=bearer(write_token)).status_code == 204
    assert client.delete(f"/api/subscriptions/{sub_id}", headers=bearer(write_token)).status_code == 404
    assert client.post(f"/api/subscriptions/{sub_id}/pause", headers=bearer(write_token)).status_code == 404


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"name": "x", "channels": []}, "channel"),
        ({"name": "x", "entities": ["Nobody AI"], "channels": [{"kind": "feed"}]}, "unknown entity"),
        ({"name": "x", "query": '"open', "channels": [{"kind": "feed"}]}, "malformed"),
        ({"name": "x", "channels": [{"kind": "webhook", "target": "http://127.0.0.1/hook"}]}, "webhook"),
        ({"name": "x", "channels": [{"kind": "pigeon"}]}, "channels.0.kind"),
        ({"name": "", "channels": [{"kind": "feed"}]}, "name"),
        ({"name": "x", "max_depth": 9, "channels": [{"kind": "feed"}]}, "max_depth"),
    ],
)
def test_subscription_validation_is_a_clear_422(
    client: TestClient, write_token: str, body: dict, needle: str
) -> None:
    response = client.post("/api/subscriptions", json=body, headers=bearer(write_token))
    assert response.status_code == 422
    assert needle in response.json()["detail"]


def test_malformed_bodies_are_4xx(client: TestClient, write_token: str) -> None:
    headers = {**bearer(write_token), "content-type": "application/json"}
    for raw in (b"{", b"\xff\xfe\x00garbage", b"[]", b'{"name": 5}', b""):
        response = client.post("/api/subscriptions", content=raw, headers=headers)
        assert 400 <= response.status_code < 500, (raw, response.status_code)


def test_unsubscribe_link_drops_email_and_is_one_click(client: TestClient, filled: Settings) -> None:
    from alerts.tokens import unsubscribe_token
    from search import open_store
    from shellwatch.domain import Channel, ChannelKind, Subscription

    with open_store(filled) as store:
        subscription = Subscription(
            id="mailsub",
            name="mail",
            channels=[
                Channel(kind=ChannelKind.EMAIL, target="a@example.org"),
                Channel(kind=ChannelKind.FEED),
            ],
            secret="s3cret",
            created_at="2024-01-01T00:00:00Z",
        )
        store.save_subscription(subscription)
    token = unsubscribe_token(subscription)
    page = client.get(f"/unsubscribe/mailsub?token={token}")
    assert page.status_code == 200 and "<form" in page.text
    assert client.post("/unsubscribe/mailsub?token=bad").status_code == 404
    done = client.post(f"/unsubscribe/mailsub?token={token}", data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    with open_store(filled) as store:
        assert [c.kind for c in store.get_subscription("mailsub").channels] == [ChannelKind.FEED]


# Auth -----------------------------------------------------------------------------------------


def test_tokens_revoked_or_malformed_are_refused(
    client: TestClient, filled: Settings, write_token: str
) -> None:
    from search import open_store
    from web.auth import revoke_token

    for header in ("Bearer nonsense", "Bearer sw_00000000_" + "a" * 43, "Basic abc", write_token):
        response = client.get("/api/subscriptions", headers={"Authorization": header})
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
    tampered = write_token[:-1] + ("A" if write_token[-1] != "A" else "B")
    assert client.get("/api/subscriptions", headers=bearer(tampered)).status_code == 401
    assert client.get("/api/subscriptions", headers=bearer(write_token)).status_code == 200
    with open_store(filled) as store:
        revoke_token(store, write_token.split("_")[1])
    assert client.get("/api/subscriptions", headers=bearer(write_token)).status_code == 401


def test_tokens_are_stored_hashed(filled: Settings, write_token: str) -> None:
    from search import open_store

    secret = write_token.split("_", 2)[2]
    with open_store(filled) as store:
        (stored,) = [t for t in store.list_api_tokens() if t.name == "analyst"]
    assert secret not in stored.model_dump_json()
    assert filled.database_path.read_bytes().find(secret.encode()) == -1


def test_closed_reads_need_a_token(filled: Settings) -> None:
    from web.app import create_app

    closed = filled.model_copy(update={"api_read_open": False})
    token = make_token(filled, TokenScope.READ)
    with TestClient(create_app(closed), raise_server_exceptions=False) as client:
        assert client.get("/api/search", params={"q": "Llama"}).status_code == 401
        assert client.get("/api/incidents").status_code == 401
        assert client.get("/api/digests/2023-11.md").status_code == 401
        assert client.get("/api/health").status_code == 200  # operational, stays open
        assert client.get("/api/search", params={"q": "Llama"}, headers=bearer(token)).status_code == 200
        page = client.get("/timeline")
        assert page.status_code == 401 and "token" in page.text.lower()


# Digests and sources -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "media"),
    [("md", "text/markdown"), ("json", "application/json"), ("csv", "text/csv"), ("html", "text/html")],
)
def test_digests_in_every_text_format(client: TestClient, fmt: str, media: str) -> None:
    response = client.get(f"/api/digests/2023-11.{fmt}", params={"lang": "zh"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(media)
    assert "shellwatch-digest-2023-11-zh" in response.headers["content-disposition"]
    if fmt == "json":
        assert json.loads(response.content)["month"] == "2023-11"


@pytest.mark.slow
def test_digest_pdf(client: TestClient) -> None:
    response = client.get("/api/digests/2023-12.pdf")
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF")


@pytest.mark.parametrize(
    ("path", "status", "needle"),
    [
        ("/api/digests/2023-13.md", 422, "month:"),
        ("/api/digests/23-12.md", 422, "month:"),
        ("/api/digests/2999-01.md", 422, "future"),
        ("/api/digests/2023-12.exe", 404, "digest"),
        ("/api/digests/2023-12", 404, "digest"),
        ("/api/digests/2023-12.md?lang=fr", 422, "lang:"),
    ],
)
def test_digest_bad_requests(client: TestClient, path: str, status: int, needle: str) -> None:
    response = client.get(path)
    assert response.status_code == status
    assert needle in response.json()["detail"]


def test_sources_with_crawl_status(client: TestClient) -> None:
    sources = {s["name"]: s for s in client.get("/api/sources").json()["sources"]}
    assert sources["36kr"]["articles"] == 1
    assert sources["36kr"]["latest_article_title"].startswith("零一万物")
    assert sources["TechCrunch"]["language"] == "en"
    assert sources["TechCrunch"]["pending_urls"] == 0


# Errors ---------------------------------------------------------------------------------------


def test_a_real_bug_is_a_logged_json_500(client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    from search.backends.sqlite import SqliteStore

    def broken(*args, **kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(SqliteStore, "list_incidents", broken)
    response = client.get("/api/incidents")
    assert response.status_code == 500
    assert response.json()["detail"].startswith("internal error")
    assert "boom" not in response.text
    assert any("unhandled-error" in r.getMessage() for r in caplog.records)


def test_security_headers_everywhere(client: TestClient) -> None:
    for path in ("/", "/api/health", "/docs"):
        headers = client.get(path).headers
        assert "script-src 'self'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"


def test_sources_stored_but_not_registered_are_listed_too(client: TestClient) -> None:
    sources = {s["name"]: s for s in client.get("/api/sources").json()["sources"]}
    assert sources["36kr"]["registered"] is True
    assert sources["The Verge"]["registered"] is False
    assert sources["The Verge"]["articles"] == 1 and sources["The Verge"]["language"] == "en"


def test_openapi_declares_the_token_scheme(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["APIToken"]["scheme"] == "bearer"
    assert {"APIToken": []} in spec["paths"]["/api/subscriptions"]["get"]["security"]


def test_a_store_refusal_is_a_logged_500_not_a_retry_later(client: TestClient, monkeypatch) -> None:
    """Only Elasticsearch refuses requests (a mapping or a query it cannot take); the refusal is
    simulated here by making the store's search raise it. Retrying would be refused again, so the
    answer is not a 503 with Retry-After."""
    from search.backends.base import StoreRejected

    store = client.app.state.web.store

    def refuse(*args, **kwargs):
        raise StoreRejected("Elasticsearch refused the request (search_phase_execution_exception)")

    monkeypatch.setattr(store, "search", refuse)
    response = client.get("/api/search", params={"q": "Llama"})
    assert response.status_code == 500
    assert "Retry-After" not in response.headers
    body = response.json()
    assert "refused" in body["detail"] and body["error_id"] in body["detail"]
