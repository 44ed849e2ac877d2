"""Scrapy's item log lines name the article's URL instead of dumping the item (its full text)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from scrapy.exceptions import DropItem

from crawlers.items import ArticleItem
from crawlers.logformatter import ConciseLogFormatter
from shellwatch.domain import Article, Language

TEXT = "李开复创办的大模型公司零一万物本月初开源了Yi-34B。" * 40


def item() -> ArticleItem:
    url = "http://news.example/a/1"
    article = Article(
        url=url,
        canonical_url=url,
        source="s",
        language=Language.ZH,
        title="t",
        text=TEXT,
        fetched_at=datetime(2024, 1, 1, tzinfo=UTC),
    )
    return ArticleItem(article=article, requested_url=url, final_url=url)


def rendered(entry: dict) -> str:
    return entry["msg"] % entry["args"]


def test_scraped_and_dropped_lines_name_the_url_not_the_text() -> None:
    formatter = ConciseLogFormatter()
    scraped = formatter.scraped(item(), None, None)
    dropped = formatter.dropped(item(), DropItem("irrelevant: weak cues []"), None, None)
    failed = formatter.item_error(item(), ValueError("boom"), None, None)
    for entry in (scraped, dropped, failed):
        line = rendered(entry)
        assert "http://news.example/a/1" in line
        assert "零一万物" not in line and len(line) < 200
    assert "irrelevant: weak cues" in rendered(dropped)
    # An irrelevant page left out is routine (the pipeline logs it at INFO), not a warning.
    assert dropped["level"] == logging.DEBUG
    assert failed["level"] == logging.ERROR
