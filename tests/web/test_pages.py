"""The server-rendered pages: both languages, escaping of open-web text, forms with token and CSRF."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import Corpus


def sign_in(client: TestClient, token: str) -> str:
    """Sign in through the form; returns the CSRF value the pages then carry."""
    response = client.post("/token", data={"token": token, "next": "/subscriptions"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/subscriptions"
    assert "httponly" in response.headers["set-cookie"].lower()
    assert "samesite=strict" in response.headers["set-cookie"].lower()
    page = client.get("/subscriptions").text
    match = re.search(r'name="csrf" value="([0-9a-f]{32})"', page)
    return match.group(1) if match else ""  # only pages with write forms carry one


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/?q=Llama",
        "/timeline",
        "/timeline?zoom=2023",
        "/timeline?zoom=2023-11",
        "/entities",
        "/entities/01-ai",
        "/subscriptions",
        "/digests",
        "/sources",
        "/token",
    ],
)
def test_every_page_renders_in_both_languages(client: TestClient, path: str) -> None:
    english = client.get(path, params={"lang": "en"})
    chinese = client.get(path, params={"lang": "zh"})
    assert english.status_code == chinese.status_code == 200
    assert '<html lang="en">' in english.text and '<html lang="zh-Hans">' in chinese.text
    assert "Search</a>" in english.text and "搜索</a>" in chinese.text


def test_language_choice_is_remembered_in_a_cookie(client: TestClient) -> None:
    first = client.get("/timeline", params={"lang": "zh"})
    assert "sw_lang=zh" in first.headers["set-cookie"]
    assert "事件时间线" in client.get("/timeline").text
    assert "Incident timeline" in client.get("/timeline", headers={"cookie": "sw_lang=en"}).text
    fresh = TestClient(client.app)
    assert "事件时间线" in fresh.get("/timeline", headers={"accept-language": "zh-CN,zh;q=0.9"}).text


def test_search_page_in_chinese_shows_highlights_and_facets(client: TestClient) -> None:
    page = client.get("/", params={"q": "零一萬物"}).text
    assert "<mark>零一万物</mark>" in page or "<mark>零一萬物</mark>" in page
    assert "Claim type" in page and "Llama / open-model based" in page
    bad = client.get("/", params={"q": '"open'})
    assert bad.status_code == 400 and "Error" in bad.text


def test_timeline_page_draws_incidents_and_links_them(client: TestClient) -> None:
    page = client.get("/timeline").text
    bars = re.findall(r'<a href="/incidents/([0-9a-f]+)" class="bar-link">', page)
    assert len(bars) == 3
    assert 'href="/timeline?zoom=2023"' in page  # zoom into a year
    zoomed = client.get("/timeline", params={"zoom": "2023-11"}).text
    assert len(re.findall(r'class="bar-link"', zoomed)) == 1  # only the Yi incident in Nov 2023
    assert client.get("/timeline", params={"zoom": "2023-13"}).status_code == 400
    only = client.get("/timeline", params={"entity": "百度"})
    assert only.status_code == 200 and 'class="bar-link"' not in only.text


def test_incident_page_shows_allegation_response_and_folded_coverage(
    client: TestClient, corpus: Corpus
) -> None:
    incident = next(i for i in client.get("/api/incidents").json()["incidents"] if i["subject"] == "yi-34b")
    page = client.get(f"/incidents/{incident['id']}").text
    assert "Yi-34B accused of being based on Llama" in page and "Yi-34B 被指基于 Llama" in page
    assert page.index("stance-allegation") < page.index("stance-denial")
    coverage = page[page.index("coverage-list") :]
    assert (
        coverage.index(corpus.yi_zh.id)
        < coverage.index(corpus.yi_en.id)
        < coverage.index(corpus.yi_denial.id)
    )
    assert corpus.yi_copy.id not in coverage  # folded under the original
    assert "https://copy.example/yi-34b-llama" in coverage
    assert "Sign in with a write token to correct claims." in page


def test_open_web_text_is_escaped_everywhere(client: TestClient, corpus: Corpus) -> None:
    evil_incident = next(i for i in client.get("/api/incidents").json()["incidents"] if i["subject"] is None)
    for path in (
        f"/articles/{corpus.xss.id}",
        f"/incidents/{evil_incident['id']}",
        "/?q=Evil",
        "/?q=套壳",
        "/timeline",
        "/entities",
        "/sources",
    ):
        page = client.get(path).text
        assert "<script>window" not in page, path
        assert "<img src=x" not in page, path
        assert 'href="javascript:' not in page, path
        assert "<b>GPT-4</b>" not in page, path
    article = client.get(f"/articles/{corpus.xss.id}").text
    assert "&lt;script&gt;window.__xss = 1&lt;/script&gt;" in article
    assert (
        '<a href="#" rel="noopener noreferrer nofollow" target="_blank">javascript:window.__xss=6</a>'
        in article
    )


def test_subscription_form_needs_a_token_and_csrf(
    client: TestClient, write_token: str, read_token: str
) -> None:
    assert "sign in" in client.get("/subscriptions").text.lower()
    form = {"name": "Baidu", "entities": "百度", "feed": "on", "stances": "allegation"}
    assert client.post("/subscriptions", data=form, follow_redirects=False).status_code == 401
    csrf = sign_in(client, write_token)
    assert csrf
    assert client.post("/subscriptions", data=form, follow_redirects=False).status_code == 403  # no CSRF
    created = client.post("/subscriptions", data={**form, "csrf": csrf}, follow_redirects=False)
    assert created.status_code == 303
    page = client.get(created.headers["location"]).text
    assert "Subscription created." in page and "/feeds/" in page
    sub_id = re.search(r"created=([0-9a-f]+)", created.headers["location"]).group(1)
    paused = client.post(f"/subscriptions/{sub_id}/pause", data={"csrf": csrf}, follow_redirects=True)
    assert "badge paused" in paused.text
    tested = client.post(f"/subscriptions/{sub_id}/test", data={"csrf": csrf}, follow_redirects=True)
    assert "feed: ok" in tested.text
    invalid = client.post(
        "/subscriptions", data={"name": "x", "entities": "Nobody AI", "feed": "on", "csrf": csrf}
    )
    assert invalid.status_code == 422 and "unknown entity" in invalid.text
    client.post(f"/subscriptions/{sub_id}/delete", data={"csrf": csrf})
    assert (
        sub_id
        not in client.get("/api/subscriptions", headers={"Authorization": f"Bearer {write_token}"}).text
    )
    client.cookies.clear()
    sign_in(client, read_token)
    assert "This needs a write token." in client.get("/subscriptions").text


def test_correction_form_on_the_incident_page(client: TestClient, corpus: Corpus, write_token: str) -> None:
    csrf = sign_in(client, write_token)
    incident = next(
        i for i in client.get("/api/incidents").json()["incidents"] if i["subject"] == "bytedance"
    )
    page = client.get(f"/incidents/{incident['id']}").text
    key = re.search(r'name="claim_key" value="([0-9a-f]+)"', page).group(1)
    form = {
        "csrf": csrf,
        "article_id": corpus.bytedance_en.id,
        "claim_key": key,
        "type": "api_wrapper",
        "stance": "allegation",
        "back": f"/incidents/{incident['id']}",
    }
    saved = client.post("/corrections", data=form, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"].endswith("saved=1")
    after = client.get(saved.headers["location"]).text
    assert "Correction saved" in after and "badge corrected" in after
    assert client.post("/corrections", data={**form, "csrf": "0" * 32}).status_code == 403


def test_adding_an_unknown_name_to_the_knowledge_base_from_the_entities_page(
    client: TestClient, write_token: str
) -> None:
    csrf = sign_in(client, write_token)
    page = client.get("/entities").text
    assert "Evil-7B" in page and "Add to the knowledge base" in page
    added = client.post(
        "/entities",
        data={"csrf": csrf, "id": "evil-7b", "name": "Evil-7B", "type": "model", "developer": "openai"},
        follow_redirects=True,
    )
    assert added.status_code == 200 and "Added to the knowledge base." in added.text


def test_sign_in_refuses_bad_tokens_and_open_redirects(client: TestClient, write_token: str) -> None:
    bad = client.post("/token", data={"token": "sw_nope", "next": "/"})
    assert bad.status_code == 401 and "unknown or revoked" in bad.text
    response = client.post(
        "/token", data={"token": write_token, "next": "//evil.example/"}, follow_redirects=False
    )
    assert response.headers["location"] == "/"
    signed_out = client.post("/token/sign-out", follow_redirects=False)
    assert signed_out.status_code == 303


def test_digest_form_redirects_to_the_file(client: TestClient) -> None:
    response = client.get(
        "/digests/download", params={"month": "2023-12", "lang": "zh", "format": "md"}, follow_redirects=False
    )
    assert response.headers["location"] == "/api/digests/2023-12.md?lang=zh"
    assert client.get("/digests/download", params={"month": "december"}).status_code == 422
    assert "2023-11" in client.get("/digests").text


@pytest.mark.parametrize(
    "path", ["/incidents/nope", "/articles/%2e%2e", "/entities/nobody", "/incidents/" + "a" * 200]
)
def test_missing_things_are_html_404s(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")


def test_malformed_form_bodies_are_4xx(client: TestClient, write_token: str) -> None:
    sign_in(client, write_token)
    broken = client.post(
        "/subscriptions",
        content=b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n\xff',
        headers={"content-type": "multipart/form-data; boundary=x"},
    )
    assert 400 <= broken.status_code < 500
    latin = client.post(
        "/token", content=b"token=%FF%FE", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert latin.status_code == 401


def test_dismissing_from_a_dissolved_incident_lands_on_the_article(
    client: TestClient, corpus: Corpus, write_token: str
) -> None:
    csrf = sign_in(client, write_token)
    evil = next(i for i in client.get("/api/incidents").json()["incidents"] if i["subject"] is None)
    page = client.get(f"/incidents/{evil['id']}").text
    key = re.search(r'name="claim_key" value="([0-9a-f]+)"', page).group(1)
    form = {
        "csrf": csrf,
        "article_id": corpus.xss.id,
        "claim_key": key,
        "dismiss": "on",
        "back": f"/incidents/{evil['id']}",
    }
    saved = client.post("/corrections", data=form, follow_redirects=False)
    assert saved.headers["location"] == f"/articles/{corpus.xss.id}?saved=1"
    assert "No provenance claim found in this article." in client.get(saved.headers["location"]).text


def test_a_total_that_is_a_lower_bound_is_shown_as_such(client: TestClient, monkeypatch) -> None:
    from search.backends.sqlite import SqliteStore

    counted = SqliteStore.search  # counting stops after 2 matches, as it does after 10,000

    def search(self, query, **options):
        return counted(self, query, **{**options, "track_total_hits": 2})

    monkeypatch.setattr(SqliteStore, "search", search)
    page = client.get("/", params={"q": "零一萬物", "lang": "en"}).text
    assert "<strong>2+</strong> results" in page
    body = client.get("/api/search", params={"q": "零一萬物"}).json()
    assert body["total"] == 2 and body["total_relation"] == "gte" and len(body["hits"]) > 2
