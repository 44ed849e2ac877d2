"""End-to-end crawls of the local test newsroom (tests/data/crawlers/newsroom on 127.0.0.1).

One crawl covers every case the issue lists: RSS, Atom, RDF, sitemap index and Google News sitemap
discovery, a listing page with pagination, GBK and Big5 pages, a date only in the text, a relative
date, a syndicated copy under another title, a redirect chain, 404, 500, a hanging server, a
robots.txt-disallowed path, a 20 MB page, malformed HTML, a PDF behind an article link and a feed
that is not XML. Each bad case is counted with its reason and the crawl carries on. A second crawl
with the same state fetches nothing again.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta, timezone

import pytest

from crawlers.encoding import looks_like_mojibake
from tests.crawlers.crawling import CrawlResult, crawl
from tests.crawlers.newsroom import serve_newsroom

pytestmark = pytest.mark.slow  # two full crawls with a 4 s hanging server: about 20 s

CST = timezone(timedelta(hours=8))
ARTICLE_PATHS = {
    "/zh-a/relative.html",
    "/zh-a/gbk.html",
    "/zh-a/redirected.html",
    "/zh-a/malformed.html",
    "/big5-header/bytedance.html",
    "/zh-c/textdate.html",
    "/en-d/news/2023/12/yi-llama.html",
    "/en-d/news/2023/12/distill.html",
    "/en-d/news/2023/12/older.html",
    "/en-e/posts/wrapper.html",
    "/en-e/posts/rag.html",
    "/en-d/news/2023/05/ancient.html",
}  # plus one of the two copies of the Yi-34B story (/zh-a/yi-34b.html, /zh-c/copy.html)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    workdir = tmp_path_factory.mktemp("crawl")
    with serve_newsroom() as newsroom:
        sources = newsroom.sources_file(workdir)
        first = crawl(workdir, sources, data_dir=workdir / "data", name="first")
        hits_first = newsroom.hits()
        second = crawl(workdir, sources, data_dir=workdir / "data", name="second")
        hits_second = newsroom.hits() - hits_first
    return {
        "first": first,
        "second": second,
        "hits_first": hits_first,
        "hits_second": hits_second,
        "newsroom": newsroom,
    }


@pytest.fixture(scope="module")
def first(runs: dict[str, object]) -> CrawlResult:
    return runs["first"]  # type: ignore[return-value]


def test_statistics_are_printed_and_complete(first: CrawlResult) -> None:
    assert first.stdout.startswith("crawl: fetched ")
    assert first.stats.new == len(ARTICLE_PATHS) + 1
    assert first.stats.syndicated == 1
    assert first.stats.irrelevant == 1
    assert first.stats.failed_by_reason == {
        "feed_not_xml": 1,
        "http_404": 1,
        "http_500": 1,
        "not_html": 1,
        "robots_disallowed": 1,
        "timeout": 1,
        "too_large": 1,
    }


def test_every_discovery_path_found_its_articles(first: CrawlResult) -> None:
    for path in ARTICLE_PATHS:
        assert first.by_path(path) is not None, path
    assert {a["source"] for a in first.articles.values()} == {
        "test-zh-a",
        "test-tw-b",
        "test-zh-c",
        "test-en-d",
        "test-en-e",
    }


def test_each_bad_case_is_logged_with_its_reason(first: CrawlResult) -> None:
    for reason, path in [
        ("feed_not_xml", "/en-d/feed.xml"),
        ("http_404", "/zh-a/missing.html"),
        ("http_500", "/error/500.html"),
        ("timeout", "/hang/slow.html"),
        ("robots_disallowed", "/private/secret.html"),
        ("too_large", "/big/page.html"),
        ("not_html", "/binary/report.pdf"),
    ]:
        assert f"crawl_failed reason={reason} url=" in first.stderr and path in first.stderr, reason


def test_robots_disallowed_path_is_never_requested(runs: dict[str, object]) -> None:
    assert runs["hits_first"]["/robots.txt"] >= 1  # type: ignore[index]
    assert runs["hits_first"]["/private/secret.html"] == 0  # type: ignore[index]


def test_gbk_and_big5_pages_reach_the_store_without_mojibake(first: CrawlResult) -> None:
    gbk = first.by_path("/zh-a/gbk.html")
    big5 = first.by_path("/big5-header/bytedance.html")
    assert gbk["title"] == "百度文心一言被质疑使用ChatGPT生成的数据训练" and "镕、堃、喆" in gbk["text"]
    assert (
        big5["title"] == "字節跳動被指調用OpenAI接口訓練自家模型" and "並否認模型是蒸餾而來" in big5["text"]
    )
    for article in first.articles.values():
        assert not looks_like_mojibake(article["title"] + article["text"]), article["url"]


def test_dates_are_aware_and_in_the_right_zone(first: CrawlResult) -> None:
    def published(path: str) -> datetime:
        return datetime.fromisoformat(first.by_path(path)["published_at"])

    assert published("/zh-c/textdate.html") == datetime(2023, 12, 15, tzinfo=CST)  # only in the text
    assert published("/zh-a/gbk.html") == datetime(2023, 3, 17, 14, 20, tzinfo=CST)
    assert published("/en-d/news/2023/12/distill.html") == datetime(2023, 12, 15, tzinfo=UTC)
    assert published("/big5-header/bytedance.html") == datetime(2023, 12, 16, 7, 30, tzinfo=UTC)  # Atom
    relative = first.by_path("/zh-a/relative.html")  # "3小时前"
    assert datetime.fromisoformat(relative["published_at"]) == pytest.approx(
        datetime.fromisoformat(relative["fetched_at"]) - timedelta(hours=3), abs=timedelta(seconds=5)
    )
    for article in first.articles.values():
        assert datetime.fromisoformat(article["published_at"]).utcoffset() is not None, article["url"]


def test_languages(first: CrawlResult) -> None:
    assert first.by_path("/big5-header/bytedance.html")["language"] == "zh"
    assert first.by_path("/en-e/posts/rag.html")["language"] == "en"


def test_syndicated_copy_with_another_title_is_recorded_on_the_first(first: CrawlResult) -> None:
    copies = [
        a
        for a in first.articles.values()
        if "Yi-34B" in a["title"] and a["source"] in ("test-zh-a", "test-zh-c")
    ]
    assert len(copies) == 1  # one article, not two
    (story,) = copies
    other = {"test-zh-a": "/zh-c/copy.html", "test-zh-c": "/zh-a/yi-34b.html"}[story["source"]]
    assert [
        url.split("127.0.0.1")[1].split(":", 1)[1].split("/", 1)[1] for url in story["also_published_at"]
    ] == [other.lstrip("/")]
    # The first copy was handed off twice: new, then updated with the copy's URL (same id: an upsert).
    assert [line["also_published_at"] != [] for line in first.lines if line["id"] == story["id"]] == [
        False,
        True,
    ]


def test_redirect_chain_is_followed_to_the_article(first: CrawlResult, runs: dict[str, object]) -> None:
    article = first.by_path("/zh-a/redirected.html")
    assert article["url"].endswith("/zh-a/redirected.html") and article["canonical_url"].endswith(
        "/zh-a/redirected.html"
    )
    hits = runs["hits_first"]
    assert hits["/redirect/1"] == hits["/redirect/2"] == hits["/redirect/3"] == 1  # type: ignore[index]


def test_tracking_parameters_are_gone_from_canonical_urls(first: CrawlResult) -> None:
    for article in first.articles.values():
        assert "utm_" not in article["canonical_url"]


def test_malformed_html_is_extracted(first: CrawlResult) -> None:
    assert "ChatGPT生成的数据蒸馏训练" in first.by_path("/zh-a/malformed.html")["text"]


def test_second_run_fetches_nothing_again(runs: dict[str, object]) -> None:
    second: CrawlResult = runs["second"]  # type: ignore[assignment]
    hits: Counter[str] = runs["hits_second"]  # type: ignore[assignment]
    assert second.stats.new == 0 and second.articles == {}
    assert second.stats.not_modified == 3  # the RSS, Atom and RDF feeds answered 304 to the validators
    stored = {path for path in ARTICLE_PATHS} | {"/zh-a/yi-34b.html", "/zh-c/copy.html"}
    assert not stored & set(hits), "an article already stored was fetched again"
    # Only the transient failures are retried: the 500 and the hanging server.
    assert second.stats.resumed == 2
    assert hits["/error/500.html"] == 1 and hits["/hang/slow.html"] == 1
    assert hits["/zh-a/missing.html"] == 0 and hits["/big/page.html"] == 0


def test_listing_pagination_stops_at_the_page_limit(runs: dict[str, object]) -> None:
    hits = runs["hits_first"]
    assert hits["/en-d/page2.html"] == hits["/en-d/page3.html"] == 1  # type: ignore[index]
    assert hits["/en-d/page4.html"] == 0  # type: ignore[index]  # SHELLWATCH_LISTING_PAGES = 3
