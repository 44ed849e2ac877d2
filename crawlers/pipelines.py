"""Item pipelines, in order: validate (100) → relevance (150) → dedupe (200) → remember (300) → hand off (400).

Each stage drops a bad item early with a counted reason (`shellwatch/failed/<reason>`,
`shellwatch/irrelevant`, `shellwatch/duplicates`) and marks its URLs final in the crawl state.
A claimed URL is completed only after the hand-off succeeded: if the hand-off raises, the URL is
kept pending and the next run fetches it again, so nothing fetched is lost.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Self

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from crawlers import syndication
from crawlers.encoding import looks_like_mojibake
from crawlers.handoff import JsonlArticles, load_handoff
from crawlers.items import ArticleItem
from crawlers.relevance import RelevanceFilter
from crawlers.state import CrawlState

logger = logging.getLogger(__name__)


class _Stage:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    @property
    def state(self) -> CrawlState:
        return self.crawler.spider.state

    def count(self, key: str) -> None:
        self.crawler.stats.inc_value(f"shellwatch/{key}")

    def drop(self, item: ArticleItem, counter: str, detail: str) -> DropItem:
        self.count(counter)
        for url in item.claimed:
            self.state.complete(url)
        logger.info(
            "article_dropped why=%s id=%s url=%s detail=%s",
            counter,
            item.article.id,
            item.article.url,
            detail,
        )
        return DropItem(f"{counter}: {detail}")


class ValidatePipeline(_Stage):
    """Refuse articles that would put garbage in the store: no text, mojibake."""

    def process_item(self, item: ArticleItem) -> ArticleItem:
        article = item.article
        if not article.text.strip():
            raise self.drop(item, "failed/no_article_text", article.url)
        if looks_like_mojibake(article.title) or looks_like_mojibake(article.text):
            raise self.drop(item, "failed/mojibake", article.url)
        if not article.title.strip():
            article.title = article.text.strip().splitlines()[0][:200]
        return item


class RelevancePipeline(_Stage):
    """Drop articles without provenance vocabulary; articles a user ingests by hand always pass."""

    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        self.filter = RelevanceFilter.from_file()

    def process_item(self, item: ArticleItem) -> ArticleItem:
        if item.ingest:
            return item
        verdict = self.filter.judge(item.article.title, item.article.text)
        if not verdict.relevant:
            raise self.drop(item, "irrelevant", f"weak cues {list(verdict.weak)}")
        return item


class DedupePipeline(_Stage):
    """Duplicates by URL after redirects and `<link rel=canonical>`; syndicated copies by SimHash."""

    def process_item(self, item: ArticleItem) -> ArticleItem:
        article = item.article
        for url in dict.fromkeys((item.final_url, article.canonical_url)):
            if url == item.requested_url or url in item.claimed:
                continue
            if not self.state.claim(url, {"source": article.source}):
                raise self.drop(item, "duplicates", f"{url} already seen")
            item.claimed.append(url)
        item.fingerprint = syndication.fingerprint(article.text, article.title)
        if item.fingerprint is None:
            return item
        first = self.state.first_copy(item.fingerprint)
        if first is None or first.id == article.id:
            return item
        if article.canonical_url not in first.also_published_at:
            first.also_published_at.append(article.canonical_url)
        logger.info("syndicated_copy id=%s url=%s first=%s", article.id, article.url, first.id)
        item.outcome, item.article = "syndicated", first
        return item


class RememberPipeline(_Stage):
    """Keep the article and its fingerprint in the crawl state for later copies to attach to."""

    def process_item(self, item: ArticleItem) -> ArticleItem:
        self.state.remember_article(item.article, item.fingerprint if item.outcome == "new" else None)
        return item


class HandoffPipeline(_Stage):
    """Hand every new (or newly syndicated) article to processing.

    The hand-off runs in one dedicated thread: in embedded mode it analyses and stores the article
    in-process, which takes a while, and the reactor must keep downloading meanwhile. One thread
    keeps hand-offs in order (a syndicated update follows its first copy).
    """

    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        jsonl = crawler.settings.get("SHELLWATCH_ARTICLES_JSONL")
        self.jsonl = JsonlArticles(Path(jsonl)) if jsonl else None
        self.submit = self.jsonl or load_handoff(crawler.settings["SHELLWATCH_HANDOFF"])
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="handoff")

    def close_spider(self) -> None:
        self.executor.shutdown(wait=True)
        if self.jsonl is not None:
            self.jsonl.close()

    async def process_item(self, item: ArticleItem) -> ArticleItem:
        settings = self.crawler.spider.shellwatch_settings
        try:
            await asyncio.wrap_future(self.executor.submit(self.submit, settings, item.article))
        except Exception as exc:
            # Not dropped silently: counted, logged, and kept pending so the next run fetches it again.
            self.count("failed/handoff_error")
            for url in item.claimed:
                self.state.retry_later(url)
            logger.error("handoff_failed id=%s url=%s error=%r", item.article.id, item.article.url, exc)
            raise DropItem(f"hand-off failed: {exc}") from exc
        for url in item.claimed:
            self.state.complete(url)
        self.count(item.outcome)
        logger.info(
            "article_handed_off outcome=%s id=%s url=%s", item.outcome, item.article.id, item.article.url
        )
        return item
