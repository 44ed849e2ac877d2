"""Hooks the crawl tests plug in by dotted path: a per-source override, a hand-off that fails."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from scrapy.http import Response

from crawlers.overrides import SourceOverride
from shellwatch.config import Settings
from shellwatch.domain import Article, to_json


class SkipDistillOverride(SourceOverride):
    def listing_links(self, response: Response, generic: list[str]) -> Iterable[str]:
        return [url for url in generic if "distill" not in url]

    def adjust_article(self, article: Article, response: Response) -> Article | None:
        article.author = f"{article.author} (checked by {self.source.name})"
        return article


def handoff_failing_on_rag(settings: Settings, article: Article) -> None:
    """Like a broken processing stage for one article; the others go to $TEST_HANDOFF_FILE."""
    if "/rag.html" in article.url:
        raise ConnectionError("store unreachable")
    with Path(os.environ["TEST_HANDOFF_FILE"]).open("a", encoding="utf-8") as out:
        out.write(to_json(article) + "\n")
