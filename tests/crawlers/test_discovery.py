"""Feeds (RSS, Atom, RDF), sitemaps (news, index), listing pages, and documents that are none of these."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from crawlers.discovery import (
    NotAFeed,
    feed_links_in_html,
    listing_links,
    next_page_links,
    on_or_after,
    parse_feed,
    parse_sitemap,
    sitemaps_in_robots,
)
from shellwatch.domain import Language
from tests.crawlers.newsroom import NEWSROOM

BASE = "http://news.test"
CST = timezone(timedelta(hours=8))


def newsroom_file(path: str) -> bytes:
    return (NEWSROOM / path).read_text(encoding="utf-8").replace("{base}", BASE).encode("utf-8")


def test_rss_feed_entries_keep_their_zone() -> None:
    entries = parse_feed(newsroom_file("zh-a/feed.xml"), f"{BASE}/zh-a/feed.xml", Language.ZH)
    assert len(entries) == 12
    first = entries[0]
    assert first.title == "零一万物Yi-34B被指套壳Llama，官方回应"
    assert first.url.startswith(f"{BASE}/zh-a/yi-34b.html?utm_source=rss")
    assert first.published_at == datetime(2023, 11, 14, 18, 30, tzinfo=CST)
    assert entries[1].published_at is None  # no <pubDate>: the page will tell


def test_atom_feed() -> None:
    (entry,) = parse_feed(newsroom_file("tw-b/atom.xml"), f"{BASE}/tw-b/atom.xml", Language.ZH)
    assert entry.url == f"{BASE}/big5-header/bytedance.html"
    assert entry.published_at == datetime(2023, 12, 16, 7, 30, tzinfo=UTC)


def test_rdf_feed() -> None:
    (entry,) = parse_feed(newsroom_file("en-e/rdf.xml"), f"{BASE}/en-e/rdf.xml", Language.EN)
    assert entry.url == f"{BASE}/en-e/posts/wrapper.html"
    assert entry.published_at == datetime(2023, 12, 18, 10, tzinfo=UTC)


def test_rss_date_without_zone_is_read_in_the_source_zone() -> None:
    feed = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>a</title>'
        b"<link>http://x/a</link><pubDate>2023-12-15 10:30:00</pubDate></item></channel></rss>"
    )
    (entry,) = parse_feed(feed, "http://x/feed", Language.ZH)
    assert entry.published_at == datetime(2023, 12, 15, 10, 30, tzinfo=CST)


def test_an_empty_feed_is_a_feed_with_no_entries() -> None:
    empty = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>'
        b"<link>http://127.0.0.1/</link><description>x</description></channel></rss>"
    )
    assert parse_feed(empty, "http://127.0.0.1/rss.xml", Language.ZH) == []


@pytest.mark.parametrize("body", [newsroom_file("en-d/feed.xml"), b"", b"\x00\x01binary", b'{"json": true}'])
def test_documents_that_are_not_feeds(body: bytes) -> None:
    with pytest.raises(NotAFeed):
        parse_feed(body, f"{BASE}/en-d/feed.xml", Language.EN)


def test_html_page_advertising_its_feed() -> None:
    html = '<html><head><link rel="alternate" type="application/rss+xml" href="/rss.xml"></head></html>'
    assert feed_links_in_html(html, f"{BASE}/news/") == [f"{BASE}/rss.xml"]


def test_google_news_sitemap() -> None:
    entries = parse_sitemap(
        newsroom_file("zh-c/news-sitemap.xml"), f"{BASE}/zh-c/news-sitemap.xml", Language.ZH
    )
    copy, textdate = entries.articles
    assert copy.title == "大模型“自研”之争：Yi-34B改名风波始末"
    assert copy.published_at == datetime(2023, 11, 15, 9, tzinfo=CST)
    assert textdate.published_at is None and textdate.lastmod is None
    assert entries.sitemaps == []


def test_sitemap_index_and_lastmod() -> None:
    index = parse_sitemap(newsroom_file("en-e/sitemap-index.xml"), BASE, Language.EN)
    assert [s.url for s in index.sitemaps] == [f"{BASE}/en-e/sitemap-posts.xml"]
    posts = parse_sitemap(newsroom_file("en-e/sitemap-posts.xml"), BASE, Language.EN)
    rag = posts.articles[0]
    assert rag.published_at is None and rag.lastmod == datetime(2023, 12, 19, tzinfo=UTC)
    assert rag.dated == rag.lastmod


def test_not_a_sitemap() -> None:
    with pytest.raises(NotAFeed):
        parse_sitemap(b"<html><body>nope</body></html>", BASE, Language.EN)


def test_robots_txt_sitemaps() -> None:
    robots = "User-agent: *\nDisallow: /private/\nSitemap: https://x.cn/sitemap.xml\nsitemap: /news.xml\n"
    assert sitemaps_in_robots(robots, "https://x.cn/robots.txt") == [
        "https://x.cn/sitemap.xml",
        "https://x.cn/news.xml",
    ]


def test_listing_links_with_allow_patterns() -> None:
    html = newsroom_file("en-d/index.html").decode()
    links = listing_links(html, f"{BASE}/en-d/index.html", ["/en-d/news/"])
    assert links == [
        f"{BASE}/en-d/news/2023/12/yi-llama.html?utm_campaign=home",
        f"{BASE}/en-d/news/2023/12/distill.html",
    ]


def test_listing_links_without_patterns_keep_article_like_links_on_the_site() -> None:
    html = (
        '<a href="/tag/ai/">AI</a><a href="/about">About</a><a href="/2023/12/15/yi-34b/">Yi</a>'
        '<a href="/article/123.html">A</a><a href="https://other.site/article/9.html">elsewhere</a>'
        '<a href="/static/logo.png">logo</a>'
    )
    assert listing_links(html, "http://x.cn/", []) == [
        "http://x.cn/2023/12/15/yi-34b/",
        "http://x.cn/article/123.html",
    ]


def test_next_page_links() -> None:
    html = newsroom_file("en-d/index.html").decode()
    assert next_page_links(html, f"{BASE}/en-d/index.html") == [f"{BASE}/en-d/page2.html"]
    zh = '<div class="pages"><a href="?page=1">1</a><a href="?page=2">下一页</a></div>'
    assert next_page_links(zh, "http://x.cn/list") == ["http://x.cn/list?page=2"]


def test_backfill_window() -> None:
    assert on_or_after(datetime(2023, 12, 15, tzinfo=UTC), date(2023, 12, 1))
    assert not on_or_after(datetime(2023, 11, 15, tzinfo=UTC), date(2023, 12, 1))
    assert on_or_after(None, date(2023, 12, 1))
    assert on_or_after(datetime(2020, 1, 1, tzinfo=UTC), None)
