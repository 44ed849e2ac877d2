"""URL canonicalisation: tracking parameters, mobile hosts, trailing slashes, fragments."""

import pytest

from crawlers.urls import canonicalize_url


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("https://www.36kr.com/p/2520?utm_source=rss&utm_medium=feed", "https://36kr.com/p/2520"),
        ("https://m.ithome.com/html/123.htm#comments", "https://ithome.com/html/123.htm"),
        ("https://techcrunch.com/2023/11/14/yi-34b/", "https://techcrunch.com/2023/11/14/yi-34b"),
        ("HTTPS://TechCrunch.com:443/a//b/?b=2&a=1&fbclid=x", "https://techcrunch.com/a/b?a=1&b=2"),
        ("https://example.com/news/1.html?spm=a2c4g&id=7", "https://example.com/news/1.html?id=7"),
        ("https://example.com/story/amp/", "https://example.com/story"),
        ("http://127.0.0.1:8719/techdaily/article/a.html", "http://127.0.0.1:8719/techdaily/article/a.html"),
        ("https://tech.sina.com.cn/", "https://tech.sina.com.cn/"),
    ],
)
def test_canonical_forms(url: str, canonical: str) -> None:
    assert canonicalize_url(url) == canonical


def test_variants_of_one_article_collapse() -> None:
    variants = [
        "https://www.example.cn/a/1.html",
        "https://m.example.cn/a/1.html?from=timeline&isappinstalled=0",
        "https://example.cn/a/1.html/",
        "https://wap.example.cn/a/1.html#top",
    ]
    assert len({canonicalize_url(v) for v in variants}) == 1


def test_meaningful_query_parameters_are_kept() -> None:
    assert canonicalize_url("https://x.cn/news?id=1") != canonicalize_url("https://x.cn/news?id=2")
